//! Key lifecycle: CreateKey, DescribeKey, ListKeys, enable/disable, deletion and descriptions.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::catalog::Action;
use crate::compile::{CompiledPolicy, DecisionTable};
use crate::crypto::Secret;
use crate::eval::{self, ContextValue};
use crate::store::{KeyRecord, KeyState, VersionRecord};

use super::access::{Reach, compile_key_policy};
use super::fields::{boolean, in_range, int, page_response, paginate, required, s};
use super::tags::tag_list;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, MAX_POLICY, Need};

impl KeyService {
    pub(super) fn metadata(&self, key: &KeyRecord) -> Value {
        let mut m = json!({
            "AWSAccountId": key.scope.account.0,
            "KeyId": key.key_id,
            "Arn": key.arn,
            "CreationDate": key.created,
            "Enabled": key.state == KeyState::Enabled,
            "Description": key.description,
            "KeyUsage": key.key_usage,
            "KeyState": key.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": key.key_spec,
            "KeySpec": key.key_spec,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        });
        if let (Some(o), Some(d)) = (m.as_object_mut(), key.deletion_date) {
            o.insert("DeletionDate".into(), json!(d));
            o.insert(
                "PendingDeletionWindowInDays".into(),
                json!(key.pending_window_days),
            );
        }
        m
    }

    pub(super) fn create_key(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let spec = s(input, "KeySpec")?
            .or(s(input, "CustomerMasterKeySpec")?)
            .unwrap_or("SYMMETRIC_DEFAULT");
        let usage = s(input, "KeyUsage")?.unwrap_or("ENCRYPT_DECRYPT");
        if spec != "SYMMETRIC_DEFAULT" {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("KeySpec {spec} is not supported; keyward supports SYMMETRIC_DEFAULT"),
            ));
        }
        if usage != "ENCRYPT_DECRYPT" {
            return Err(KmsError::validation(format!(
                "KeyUsage {usage} is not valid for KeySpec {spec}"
            )));
        }
        if let Some(origin) = s(input, "Origin")?.filter(|o| *o != "AWS_KMS") {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("Origin {origin} is not supported"),
            ));
        }
        if boolean(input, "MultiRegion")? {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "multi-Region keys are not supported",
            ));
        }
        let tags = tag_list(input)?;
        let mut extra = vec![
            ("kms:KeySpec".to_owned(), ContextValue::One(spec.to_owned())),
            (
                "kms:KeyUsage".to_owned(),
                ContextValue::One(usage.to_owned()),
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
                ContextValue::One(boolean(input, "BypassPolicyLockoutSafetyCheck")?.to_string()),
            ),
        ];
        if !tags.is_empty() {
            extra.push((
                "aws:TagKeys".into(),
                ContextValue::Many(tags.iter().map(|(k, _)| k.clone()).collect()),
            ));
            for (k, v) in &tags {
                extra.push((format!("aws:RequestTag/{k}"), ContextValue::One(v.clone())));
            }
        }
        self.authorize_account(
            call,
            id,
            "CreateKey",
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        let scope = self.caller_scope(id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::AccessDenied,
                "a service principal cannot own keys",
            )
        })?;
        let key_id = uuid::Uuid::new_v4().to_string();
        let policy = match s(input, "Policy")? {
            Some(p) => p.to_owned(),
            None => default_policy(&scope.account.0),
        };
        let now = self.now();
        let material = Secret::random(32);
        let sealed = self
            .root
            .seal(&key_id, 1, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let key = KeyRecord {
            key_id: key_id.clone(),
            arn: scope.key_arn(&key_id),
            scope,
            description: s(input, "Description")?.unwrap_or("").to_owned(),
            state: KeyState::Enabled,
            key_spec: spec.to_owned(),
            key_usage: usage.to_owned(),
            created: now,
            deletion_date: None,
            pending_window_days: None,
            rotation_period_days: None,
            next_rotation: None,
            policy,
            current_version: 1,
        };
        let compiled = self.check_new_policy(
            id,
            &key,
            &key.policy,
            boolean(input, "BypassPolicyLockoutSafetyCheck")?,
        )?;
        call.resources
            .push((key.scope.account.0.clone(), key.arn.clone()));
        self.store.insert_key(
            &key,
            &VersionRecord {
                version: 1,
                sealed,
                created: now,
                kind: "INITIAL".into(),
            },
            &tags,
            &mut self.journal(call, id, input),
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
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
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
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
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
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    pub(super) fn list_keys(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "ListKeys", Facts::default())?;
        let now = self.now();
        let mut items = Vec::new();
        let Some(scope) = self.caller_scope(id) else {
            return Ok(page_response("Keys", Vec::new(), None));
        };
        for k in self.store.keys(&scope)? {
            if k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d <= now) {
                self.delete_due(&k)?;
                continue;
            }
            items.push(json!({"KeyId": k.key_id, "KeyArn": k.arn}));
        }
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Keys", page, next))
    }

    pub(super) fn set_enabled(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        enable: bool,
    ) -> Result<Value, KmsError> {
        let op = if enable { "EnableKey" } else { "DisableKey" };
        let mut key = self.authorized_key(call, id, input, op, Need::NotPending)?;
        key.state = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        self.save_key(&key, &mut self.journal(call, id, input))?;
        Ok(json!({}))
    }

    pub(super) fn schedule_deletion(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let days = int(input, "PendingWindowInDays")?.unwrap_or(30);
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
        in_range(days, 7, 30, "pendingWindowInDays")?;
        let when = self.now() + days * 86_400;
        key.state = KeyState::PendingDeletion;
        key.deletion_date = Some(when);
        key.pending_window_days = Some(days);
        self.save_key(&key, &mut self.journal(call, id, input))?;
        Ok(json!({
            "KeyId": key.arn, "DeletionDate": when, "KeyState": "PendingDeletion", "PendingWindowInDays": days
        }))
    }

    pub(super) fn cancel_deletion(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let mut key = self.authorized_key(call, id, input, "CancelKeyDeletion", Need::Any)?;
        if key.state != KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is not pending deletion.", key.arn),
            ));
        }
        key.state = KeyState::Disabled;
        key.deletion_date = None;
        key.pending_window_days = None;
        self.save_key(&key, &mut self.journal(call, id, input))?;
        Ok(json!({ "KeyId": key.arn }))
    }

    pub(super) fn update_description(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let description = required(input, "Description")?;
        self.authorize(
            call,
            id,
            &key,
            "UpdateKeyDescription",
            Need::NotPending,
            Facts::default(),
        )?;
        key.description = description.to_owned();
        self.save_key(&key, &mut self.journal(call, id, input))?;
        Ok(json!({}))
    }
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
