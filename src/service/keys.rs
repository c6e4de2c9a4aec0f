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
use super::rotation::material_id;
use super::specs::{self, Algorithms};
use super::tags::{check_tags, tag_facts};
use super::{
    Call, Empty, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, MAX_POLICY, Need,
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

/// `KeyMetadata`, as DescribeKey and CreateKey return it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: i64,
    enabled: bool,
    description: String,
    key_usage: String,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<i64>,
    origin: &'static str,
    key_manager: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_master_key_spec: Option<String>,
    key_spec: String,
    #[serde(flatten)]
    algorithms: Algorithms,
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataResponse {
    key_metadata: KeyMetadata,
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
    deletion_date: i64,
    key_state: &'static str,
    pending_window_in_days: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIdResponse {
    pub(super) key_id: String,
}

impl KeyService {
    pub(super) fn metadata(&self, key: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: key.scope.account.0.clone(),
            key_id: key.key_id.clone(),
            arn: key.arn.clone(),
            creation_date: key.created,
            enabled: key.state == KeyState::Enabled,
            description: key.description.clone(),
            key_usage: key.key_usage.clone(),
            key_state: key.state.as_str(),
            deletion_date: key.deletion_date,
            origin: Origin::AwsKms.as_str(),
            key_manager: "CUSTOMER",
            customer_master_key_spec: specs::has_customer_master_key_spec(&key.key_spec)
                .then(|| key.key_spec.clone()),
            key_spec: key.key_spec.clone(),
            algorithms: specs::algorithms(key),
            multi_region: false,
            pending_deletion_window_in_days: key.deletion_date.and(key.pending_window_days),
            current_key_material_id: specs::is_symmetric(key)
                .then(|| material_id(&key.key_id, key.current_version)),
        }
    }

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
        if let Some(origin) = input.origin.filter(|o| *o != Origin::AwsKms) {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("Origin {origin} is not supported by keyward"),
            ));
        }
        if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
            return Err(no_custom_key_stores());
        }
        if input.multi_region == Some(true) {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "multi-Region keys are not supported by keyward",
            ));
        }
        let tags = input.tags.unwrap_or_default();
        let bypass = input.bypass_policy_lockout_safety_check.unwrap_or(false);
        let mut extra = vec![
            (
                "kms:KeySpec".to_owned(),
                ContextValue::One(spec.to_string()),
            ),
            (
                "kms:KeyUsage".to_owned(),
                ContextValue::One(usage.to_string()),
            ),
            (
                "kms:KeyOrigin".to_owned(),
                ContextValue::One("AWS_KMS".into()),
            ),
            (
                "kms:MultiRegion".to_owned(),
                ContextValue::One("false".into()),
            ),
            (
                "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
                ContextValue::One(bypass.to_string()),
            ),
        ];
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
        let key_id = uuid::Uuid::new_v4().to_string();
        let policy = input
            .policy
            .unwrap_or_else(|| default_policy(&scope.account.0));
        let now = self.now();
        let material = if spec == KeySpec::SymmetricDefault {
            Secret::random(32)
        } else {
            asymmetric::generate(spec.as_str()).map_err(|e| KmsError::internal(e.to_string()))?
        };
        let sealed = self
            .root
            .seal(&key_id, 1, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let key = KeyRecord {
            key_id: key_id.clone(),
            arn: scope.key_arn(&key_id),
            scope,
            description: input.description.unwrap_or_default(),
            state: KeyState::Enabled,
            key_spec: spec.to_string(),
            key_usage: usage.to_string(),
            created: now,
            deletion_date: None,
            pending_window_days: None,
            rotation_period_days: None,
            next_rotation: None,
            policy,
            current_version: 1,
        };
        let compiled = self.check_new_policy(id, &key, &key.policy, bypass)?;
        call.resources
            .push((key.scope.account.0.clone(), key.arn.clone()));
        let tags: Vec<(String, String)> = tags.into_iter().map(|t| (t.key, t.value)).collect();
        self.store.insert_key(
            &key,
            &VersionRecord {
                version: 1,
                sealed,
                created: now,
                kind: "INITIAL".into(),
            },
            &tags,
            &mut self.journal(call, id),
        )?;
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key_id,
                Arc::new(KeyTables {
                    policy: Arc::new(compiled),
                    grants: Arc::default(),
                }),
            );
        Ok(KeyMetadataResponse {
            key_metadata: self.metadata(&key),
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
            let req = self.request(id, put, Some(key), Facts::default());
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
            key_metadata: self.metadata(&key),
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
        let when = self.now() + days * 86_400;
        key.state = KeyState::PendingDeletion;
        key.deletion_date = Some(when);
        key.pending_window_days = Some(days);
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(ScheduleKeyDeletionResponse {
            key_id: key.arn,
            deletion_date: when,
            key_state: KeyState::PendingDeletion.as_str(),
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
        if key.state != KeyState::PendingDeletion {
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

/// keyward has no custom key stores yet: a request naming one is refused.
pub(super) fn no_custom_key_stores() -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        "keyward has no custom key stores",
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
