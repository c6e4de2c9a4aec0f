//! Key lifecycle: CreateKey, DescribeKey, ListKeys, enable/disable, deletion and descriptions.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::catalog::Action;
use crate::compile::{CompiledPolicy, DecisionTable};
use crate::crypto::{Secret, asymmetric};
use crate::eval::{self, ContextValue};
use crate::store::{KeyRecord, KeyState, VersionRecord};

use super::access::{Reach, compile_key_policy};
use super::api::enums::{CustomerMasterKeySpec, KeySpec, KeyUsage, Origin, ResourceOwner};
use super::api::types::Tag;
use super::api::{
    CUSTOM_KEY_STORE_ID, DESCRIPTION, GRANT_TOKENS, KEY_ID, LIMIT, MARKER, POLICY, Rule, request,
};
use super::fields::{Page, paginate};
use super::import::importable;
use super::metadata::KeyMetadataResponse;
use super::specs;
use super::tags::{check_tags, tag_facts};
use super::{
    Call, Empty, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, MAX_POLICY, Need,
    fact,
};

request! {
    /// CreateKey.
    CreateKeyRequest {
        policy: opt String = "Policy" POLICY,
        description: opt String = "Description" DESCRIPTION,
        key_usage: opt KeyUsage = "KeyUsage" Rule::Enum(KeyUsage::VALUES),
        customer_master_key_spec: opt CustomerMasterKeySpec =
            "CustomerMasterKeySpec" Rule::Enum(CustomerMasterKeySpec::VALUES),
        key_spec: opt KeySpec = "KeySpec" Rule::Enum(KeySpec::VALUES),
        origin: opt Origin = "Origin" Rule::Enum(Origin::VALUES),
        custom_key_store_id: opt String = "CustomKeyStoreId" CUSTOM_KEY_STORE_ID,
        bypass_policy_lockout_safety_check: opt bool =
            "BypassPolicyLockoutSafetyCheck" Rule::Boolean,
        tags: opt Vec<Tag> = "Tags" super::api::TAGS,
        multi_region: opt bool = "MultiRegion" Rule::Boolean,
        xks_key_id: opt String = "XksKeyId" Rule::pattern(1, 128, "^[a-zA-Z0-9-_.]+$"),
    }
}

request! {
    /// DescribeKey.
    DescribeKeyRequest {
        key_id: req String = "KeyId" KEY_ID,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
    }
}

request! {
    /// ListKeys.
    ListKeysRequest {
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
        resource_owners: opt Vec<ResourceOwner> = "ResourceOwners" Rule::List {
            min: Some(1),
            max: Some(2),
            item: &Rule::Enum(ResourceOwner::VALUES),
        },
    }
}

request! {
    /// EnableKey.
    EnableKeyRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// DisableKey.
    DisableKeyRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletionRequest {
        key_id: req String = "KeyId" KEY_ID,
        pending_window_in_days: opt i64 = "PendingWindowInDays" Rule::range(1, 365),
    }
}

request! {
    /// CancelKeyDeletion.
    CancelKeyDeletionRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// UpdateKeyDescription.
    UpdateKeyDescriptionRequest {
        key_id: req String = "KeyId" KEY_ID,
        description: req String = "Description" DESCRIPTION,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyListEntry {
    key_id: String,
    key_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScheduleKeyDeletionResponse {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<i64>,
    key_state: &'static str,
    pending_window_in_days: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIdResponse {
    pub(super) key_id: String,
}

impl KeyService {
    pub(super) fn create_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CreateKeyRequest,
    ) -> Result<KeyMetadataResponse, KmsError> {
        let spec = input
            .key_spec
            .or(input
                .customer_master_key_spec
                .map(CustomerMasterKeySpec::key_spec))
            .unwrap_or(KeySpec::SymmetricDefault);
        if input.key_spec.is_some() && input.customer_master_key_spec.is_some() {
            return Err(KmsError::validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
            ));
        }
        let usage = match (input.key_usage, spec) {
            (Some(u), _) => u,
            (None, KeySpec::SymmetricDefault) => KeyUsage::EncryptDecrypt,
            (None, _) => {
                return Err(KmsError::validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ));
            }
        };
        if !specs::usages(spec).contains(&usage) {
            return Err(KmsError::validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}"
            )));
        }
        if !specs::served(spec) {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("keyward does not create {spec} keys with KeyUsage {usage}"),
            ));
        }
        let origin = input.origin.unwrap_or(Origin::AwsKms);
        match origin {
            Origin::AwsKms => {}
            Origin::External if importable(spec.as_str()) => {}
            Origin::External => {
                return Err(KmsError::new(
                    ErrorKind::UnsupportedOperation,
                    format!("You can't import key material for {spec} KMS keys."),
                ));
            }
            Origin::AwsCloudHsm => {}
            Origin::ExternalKeyStore => return Err(no_custom_key_stores()),
        }
        if input.xks_key_id.is_some() {
            return Err(no_custom_key_stores());
        }
        let multi_region = input.multi_region.unwrap_or(false);
        let in_store = (origin == Origin::AwsCloudHsm || input.custom_key_store_id.is_some())
            .then(|| {
                super::store_keys::in_custom_key_store(
                    origin,
                    input.custom_key_store_id.as_deref(),
                    spec,
                    multi_region,
                )
            })
            .transpose()?;
        let tags = input.tags.unwrap_or_default();
        let bypass = input.bypass_policy_lockout_safety_check.unwrap_or(false);
        let mut extra = creation_facts(
            spec.as_str(),
            usage.as_str(),
            origin.as_str(),
            multi_region.then_some("PRIMARY"),
        );
        extra.push((
            "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
            ContextValue::one(bypass.to_string()),
        ));
        extra.extend(tag_facts(&tags));
        self.authorize_account(
            call,
            id,
            "CreateKey",
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        check_tags(&tags, &[])?;
        let scope = self.caller_scope(id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::AccessDenied,
                "a service principal cannot own keys",
            )
        })?;
        // A multi-Region key's id says so: `mrk-` and 32 hex digits.
        let key_id = if multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let policy = input
            .policy
            .unwrap_or_else(|| default_policy(&scope.account.0));
        let now = self.now();
        // A custom key store's key is generated in its token; its version
        // holds the key's label there.
        let in_token = match in_store {
            Some(cks_id) => Some(self.generate_in_store(&scope, cks_id, &key_id)?),
            None => None,
        };
        let versions = if let Some((_, label)) = &in_token {
            vec![VersionRecord::generated(
                1,
                label.as_bytes().to_vec(),
                now,
                "INITIAL",
            )]
        } else if origin == Origin::External {
            Vec::new()
        } else {
            let material = if spec == KeySpec::SymmetricDefault {
                Secret::random(32)
            } else {
                asymmetric::generate(spec.as_str())
                    .map_err(|e| KmsError::internal(e.to_string()))?
            };
            let sealed = self
                .root
                .seal(&key_id, 1, &material)
                .map_err(|e| KmsError::internal(e.to_string()))?;
            vec![VersionRecord::generated(1, sealed, now, "INITIAL")]
        };
        let key = KeyRecord {
            key_id: key_id.clone(),
            arn: scope.key_arn(&key_id),
            description: input.description.unwrap_or_default(),
            state: if versions.is_empty() {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            key_spec: spec.to_string(),
            key_usage: usage.to_string(),
            created: now,
            deletion_date: None,
            pending_window_days: None,
            rotation_period_days: None,
            next_rotation: None,
            policy,
            current_version: u32::from(!versions.is_empty()),
            origin: origin.to_string(),
            primary_region: multi_region.then(|| scope.region.clone()),
            custom_key_store_id: in_store.map(str::to_owned),
            scope,
        };
        // The token's key goes if the key is not created after all.
        let discard = |e: KmsError| {
            if let Some((conn, label)) = &in_token {
                let _ = conn.handle(label).and_then(|h| conn.token.destroy(h));
            }
            e
        };
        let compiled = self
            .check_new_policy(id, &key, &key.policy, bypass)
            .map_err(discard)?;
        call.resources
            .push((key.scope.account.0.clone(), key.arn.clone()));
        let tags: Vec<(String, String)> = tags.into_iter().map(|t| (t.key, t.value)).collect();
        let since = self.cache.since();
        if !self
            .store
            .insert_key(&key, &versions, &tags, &mut self.journal(call, id))
            .map_err(|e| discard(e.into()))?
        {
            return Err(discard(KmsError::internal(
                "a new key id was already taken",
            )));
        }
        self.cache.put_tables(
            &key,
            Arc::new(KeyTables {
                policy: Arc::new(compiled),
                grants: Arc::default(),
            }),
            since,
        );
        Ok(KeyMetadataResponse {
            key_metadata: self.metadata(&key)?,
        })
    }

    /// Compiles a new key policy and, unless bypassed, checks that it still
    /// lets the caller change it later (AWS's lockout safety check).
    pub(super) fn check_new_policy(
        &self,
        id: &Identity,
        key: &KeyRecord,
        policy: &str,
        bypass: bool,
    ) -> Result<CompiledPolicy, KmsError> {
        if policy.len() > MAX_POLICY {
            return Err(KmsError::new(
                ErrorKind::MalformedPolicyDocument,
                format!(
                    "the key policy is {} bytes; the limit is {MAX_POLICY}",
                    policy.len()
                ),
            ));
        }
        let compiled = compile_key_policy(&key.key_id, policy)
            .map_err(|e| KmsError::new(ErrorKind::MalformedPolicyDocument, e.message))?;
        if !bypass {
            let table = DecisionTable::from_parts(
                Arc::new(compiled.clone()),
                id.iam_policies.clone(),
                Arc::default(),
            );
            let Some(put) = Action::from_operation("PutKeyPolicy") else {
                return Err(KmsError::internal("catalog lacks PutKeyPolicy"));
            };
            let facts = Facts::default();
            let req = self.request(id, put, Some(key), &facts);
            if !eval::decide(&table, &req).is_allow() {
                return Err(KmsError::new(
                    ErrorKind::MalformedPolicyDocument,
                    "The new key policy will not allow you to update the key policy in the future.",
                ));
            }
        }
        Ok(compiled)
    }

    pub(super) fn describe_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DescribeKeyRequest,
    ) -> Result<KeyMetadataResponse, KmsError> {
        let (key, alias) = self.resolve(id, &input.key_id, Reach::Named)?;
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        self.authorize(
            call,
            id,
            &key,
            "DescribeKey",
            Need::Any,
            Facts {
                alias,
                ..Facts::default()
            },
        )?;
        Ok(KeyMetadataResponse {
            key_metadata: self.metadata(&key)?,
        })
    }

    pub(super) fn list_keys(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListKeysRequest,
    ) -> Result<Page<KeyListEntry>, KmsError> {
        self.authorize_account(call, id, "ListKeys", Facts::default())?;
        let now = self.now();
        let mut items = Vec::new();
        // keyward shares no keys through AWS RAM: the caller's own keys are
        // all there is, listed unless only shared keys were asked for.
        let own = input
            .resource_owners
            .is_none_or(|o| o.contains(&ResourceOwner::SelfOwned));
        if let Some(scope) = self.caller_scope(id).filter(|_| own) {
            for k in self.store.keys(&scope)? {
                if k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d <= now)
                {
                    self.delete_due(&k)?;
                    continue;
                }
                items.push(KeyListEntry {
                    key_id: k.key_id,
                    key_arn: k.arn,
                });
            }
        }
        paginate("Keys", items, input.limit, input.marker.as_deref())
    }

    pub(super) fn enable_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: EnableKeyRequest,
    ) -> Result<Empty, KmsError> {
        self.set_enabled(call, id, &input.key_id, true)
    }

    pub(super) fn disable_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DisableKeyRequest,
    ) -> Result<Empty, KmsError> {
        self.set_enabled(call, id, &input.key_id, false)
    }

    fn set_enabled(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key_id: &str,
        enable: bool,
    ) -> Result<Empty, KmsError> {
        let op = if enable { "EnableKey" } else { "DisableKey" };
        let mut key = self.authorized_key(call, id, key_id, op, Need::NotPending)?;
        if key.state == KeyState::PendingImport {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is pending import.", key.arn),
            ));
        }
        key.state = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(Empty {})
    }

    pub(super) fn schedule_deletion(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        let (mut key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        let days = input.pending_window_in_days.unwrap_or(30);
        self.authorize(
            call,
            id,
            &key,
            "ScheduleKeyDeletion",
            Need::NotPending,
            Facts::one(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                days.to_string(),
            ),
        )?;
        if !(7..=30).contains(&days) {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{days}' at 'PendingWindowInDays' failed to satisfy constraint: Member must have minimum value of 7 and maximum value of 30."
            )));
        }
        // A multi-Region primary key outlives its replicas: its waiting
        // period begins when the last of them is deleted.
        let has_replicas = key.is_multi_region()
            && !key.is_replica()
            && self
                .store
                .key_everywhere(&key.scope.account, &key.key_id)?
                .len()
                > 1;
        let when = (!has_replicas).then(|| self.now() + days * 86_400);
        key.state = if has_replicas {
            KeyState::PendingReplicaDeletion
        } else {
            KeyState::PendingDeletion
        };
        key.deletion_date = when;
        key.pending_window_days = Some(days);
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(ScheduleKeyDeletionResponse {
            key_id: key.arn,
            deletion_date: when,
            key_state: key.state.as_str(),
            pending_window_in_days: days,
        })
    }

    pub(super) fn cancel_deletion(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CancelKeyDeletionRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        let mut key =
            self.authorized_key(call, id, &input.key_id, "CancelKeyDeletion", Need::Any)?;
        if !matches!(
            key.state,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        ) {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is not pending deletion.", key.arn),
            ));
        }
        key.state = KeyState::Disabled;
        key.deletion_date = None;
        key.pending_window_days = None;
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(KeyIdResponse { key_id: key.arn })
    }

    pub(super) fn update_description(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: UpdateKeyDescriptionRequest,
    ) -> Result<Empty, KmsError> {
        let mut key = self.authorized_key(
            call,
            id,
            &input.key_id,
            "UpdateKeyDescription",
            Need::NotPending,
        )?;
        key.description = input.description;
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(Empty {})
    }
}

/// The request facts of creating a key: its properties as condition keys.
pub(super) fn creation_facts(
    spec: &str,
    usage: &str,
    origin: &str,
    multi_region_type: Option<&str>,
) -> Vec<(String, ContextValue<'static>)> {
    let mut facts = vec![
        fact("kms:KeySpec", spec),
        fact("kms:KeyUsage", usage),
        fact("kms:KeyOrigin", origin),
        fact(
            "kms:MultiRegion",
            if multi_region_type.is_some() {
                "true"
            } else {
                "false"
            },
        ),
    ];
    if let Some(t) = multi_region_type {
        facts.push(fact("kms:MultiRegionKeyType", t));
    }
    facts
}

/// keyward has no custom key stores yet: a request naming one is refused.
pub(super) fn no_custom_key_stores() -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        "keyward has no external key stores (XKS); custom key stores are of type AWS_CLOUDHSM",
    )
}

pub(super) fn default_policy(account: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .unwrap_or_default()
}
