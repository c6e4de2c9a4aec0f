//! Key policies: PutKeyPolicy, GetKeyPolicy, ListKeyPolicies.

use std::sync::Arc;

use serde_json::{Value, json};

use super::access::Reach;
use super::fields::{boolean, required, s};
use super::{Call, Facts, Identity, KeyService, KeyTables, KmsError, Need};

impl KeyService {
    pub(super) fn put_key_policy(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let policy = required(input, "Policy")?;
        if let Some(name) = s(input, "PolicyName")?.filter(|n| *n != "default") {
            return Err(KmsError::not_found(format!(
                "No such policy exists: {name}"
            )));
        }
        let bypass = boolean(input, "BypassPolicyLockoutSafetyCheck")?;
        self.authorize(
            call,
            id,
            &key,
            "PutKeyPolicy",
            Need::NotPending,
            Facts::one("kms:BypassPolicyLockoutSafetyCheck", bypass.to_string()),
        )?;
        let compiled = self.check_new_policy(id, &key, policy, bypass)?;
        key.policy = policy.to_owned();
        self.save_key(&key, &mut self.journal(call, id, input))?;
        let grants = self.key_tables(&key)?.grants.clone();
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.key_id.clone(),
                Arc::new(KeyTables {
                    policy: Arc::new(compiled),
                    grants,
                }),
            );
        Ok(json!({}))
    }

    pub(super) fn get_key_policy(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let key = self.authorized_key(call, id, input, "GetKeyPolicy", Need::Any)?;
        let name = s(input, "PolicyName")?.unwrap_or("default");
        if name != "default" {
            return Err(KmsError::not_found(format!(
                "No such policy exists: {name}"
            )));
        }
        Ok(json!({"Policy": key.policy, "PolicyName": "default"}))
    }

    pub(super) fn list_key_policies(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorized_key(call, id, input, "ListKeyPolicies", Need::Any)?;
        Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
    }
}
