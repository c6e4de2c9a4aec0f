//! Key policies: PutKeyPolicy, GetKeyPolicy, ListKeyPolicies.

use std::sync::Arc;

use serde::Serialize;

use super::access::Reach;
use super::api::{KEY_ID, LIMIT, MARKER, POLICY, POLICY_NAME, Rule, request};
use super::fields::{Page, paginate};
use super::{Call, Empty, Facts, Identity, KeyService, KeyTables, KmsError, Need};

request! {
    /// PutKeyPolicy.
    PutKeyPolicyRequest {
        key_id: req String = "KeyId" KEY_ID,
        policy_name: opt String = "PolicyName" POLICY_NAME,
        policy: req String = "Policy" POLICY,
        bypass_policy_lockout_safety_check: opt bool =
            "BypassPolicyLockoutSafetyCheck" Rule::Boolean,
    }
}

request! {
    /// GetKeyPolicy.
    GetKeyPolicyRequest {
        key_id: req String = "KeyId" KEY_ID,
        policy_name: opt String = "PolicyName" POLICY_NAME,
    }
}

request! {
    /// ListKeyPolicies.
    ListKeyPoliciesRequest {
        key_id: req String = "KeyId" KEY_ID,
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetKeyPolicyResponse {
    policy: String,
    policy_name: &'static str,
}

/// A key has one policy, named `default`.
const DEFAULT: &str = "default";

fn check_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        Some(n) if n != DEFAULT => Err(KmsError::not_found(format!("No such policy exists: {n}"))),
        _ => Ok(()),
    }
}

impl KeyService {
    pub(super) fn put_key_policy(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: PutKeyPolicyRequest,
    ) -> Result<Empty, KmsError> {
        let (mut key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        check_name(input.policy_name.as_deref())?;
        let bypass = input.bypass_policy_lockout_safety_check.unwrap_or(false);
        self.authorize(
            call,
            id,
            &key,
            "PutKeyPolicy",
            Need::NotPending,
            Facts::one("kms:BypassPolicyLockoutSafetyCheck", bypass.to_string()),
        )?;
        let compiled = self.check_new_policy(id, &key, &input.policy, bypass)?;
        key.policy = input.policy;
        let since = self.cache.since();
        self.save_key(&key, &mut self.journal(call, id))?;
        let grants = self.key_tables(&key)?.grants.clone();
        self.cache.put_tables(
            &key,
            Arc::new(KeyTables {
                policy: Arc::new(compiled),
                grants,
            }),
            since,
        );
        Ok(Empty {})
    }

    pub(super) fn get_key_policy(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GetKeyPolicyRequest,
    ) -> Result<GetKeyPolicyResponse, KmsError> {
        let key = self.authorized_key(call, id, &input.key_id, "GetKeyPolicy", Need::Any)?;
        check_name(input.policy_name.as_deref())?;
        Ok(GetKeyPolicyResponse {
            policy: key.policy,
            policy_name: DEFAULT,
        })
    }

    pub(super) fn list_key_policies(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListKeyPoliciesRequest,
    ) -> Result<Page<&'static str>, KmsError> {
        self.authorized_key(call, id, &input.key_id, "ListKeyPolicies", Need::Any)?;
        paginate(
            "PolicyNames",
            vec![DEFAULT],
            input.limit,
            input.marker.as_deref(),
        )
    }
}
