//! Finding keys, their compiled tables and material, and authorizing calls
//! through the decision table.

use std::sync::Arc;

use crate::catalog::Action;
use crate::compile::{CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use crate::crypto::KeyMaterial;
use crate::eval::{self, ContextValue, Permit, Request};
use crate::policy::{self, Source};
use crate::store::{KeyRecord, KeyState};

use super::aliases::alias_name;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, Need};

impl KeyService {
    /// Finds a key by id, key ARN, alias name or alias ARN. Carries out a due
    /// deletion and a due rotation first.
    pub(super) fn resolve(&self, key_id: &str) -> Result<(KeyRecord, Option<String>), KmsError> {
        let missing = || KmsError::not_found(format!("Key '{key_id}' does not exist"));
        let (id, alias) = if let Some(name) = alias_name(key_id) {
            let a = self
                .store
                .alias(&name)?
                .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
            (a.key_id, Some(name))
        } else if let Some((_, id)) = key_id.rsplit_once(":key/") {
            (id.to_owned(), None)
        } else {
            (key_id.to_owned(), None)
        };
        let mut key = self.load_key(&id)?.ok_or_else(missing)?;
        let now = self.now();
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now) {
            self.delete_key(&key.key_id)?;
            return Err(missing());
        }
        if key.state == KeyState::Enabled && key.next_rotation.is_some_and(|t| t <= now) {
            self.rotate(&mut key, "AUTOMATIC")?;
        }
        Ok((key, alias))
    }

    pub(super) fn load_key(&self, key_id: &str) -> Result<Option<KeyRecord>, KmsError> {
        if let Some(k) = self
            .records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
        {
            return Ok(Some(k.clone()));
        }
        let k = self.store.key(key_id)?;
        if let Some(k) = &k {
            self.records
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k.key_id.clone(), k.clone());
        }
        Ok(k)
    }

    /// Writes a changed key record (durably) and refreshes the cache.
    pub(super) fn save_key(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.store.update_key(key)?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
    }

    pub(super) fn delete_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.store.delete_key(key_id)?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        self.sealed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _), _| k != key_id);
        self.forget(key_id);
        Ok(())
    }

    pub(super) fn forget(&self, key_id: &str) {
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
    }

    pub(super) fn key_tables(&self, key: &KeyRecord) -> Result<Arc<KeyTables>, KmsError> {
        if let Some(t) = self
            .tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key.key_id)
        {
            return Ok(t.clone());
        }
        let policy = compile_key_policy(&key.key_id, &key.policy)?;
        let mut grants = GrantIndex::default();
        for g in self.store.grants(&key.key_id)? {
            let source = Source::new(format!("grant {}", g.grant_id), g.document.as_str());
            let parsed = policy::parse_grants(&source)
                .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))?;
            grants
                .extend(&parsed, &source)
                .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))?;
        }
        let t = Arc::new(KeyTables {
            policy: Arc::new(policy),
            grants: Arc::new(grants),
        });
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), t.clone());
        Ok(t)
    }

    pub(super) fn request(
        &self,
        id: &Identity,
        action: Action,
        resource: Option<&str>,
        facts: Facts,
    ) -> Request {
        let mut b = Request::builder(id.caller.clone(), action)
            .secure_transport(id.secure_transport)
            .current_time(
                time::OffsetDateTime::from_unix_timestamp(self.now())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            );
        if let Some(r) = resource {
            b = b.resource(r);
        }
        if let Some(ip) = id.source_ip {
            b = b.source_ip(ip);
        }
        if let Some(v) = &id.via_service {
            b = b.via_service(v.clone());
        }
        for (k, v) in &id.tags {
            b = b.principal_tag(k.clone(), v.clone());
        }
        for (k, v) in facts.context {
            b = b.encryption_context(k, v);
        }
        if let Some(a) = facts.alias {
            b = b.context("kms:RequestAlias", a);
        }
        for (k, v) in facts.extra {
            b = match v {
                ContextValue::One(s) => b.context(&k, s),
                ContextValue::Many(vs) => b.context_values(&k, vs),
            };
        }
        b.build()
    }

    /// Authorizes `action` on a key and checks the key's state.
    pub(super) fn authorize(
        &self,
        call: &mut Call,
        id: &Identity,
        key: &KeyRecord,
        action: &str,
        need: Need,
        facts: Facts,
    ) -> Result<Permit, KmsError> {
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let tables = self.key_tables(key)?;
        let table = DecisionTable::from_parts(
            tables.policy.clone(),
            id.iam_policies.clone(),
            tables.grants.clone(),
        );
        let req = self.request(id, action, Some(&key.arn), facts);
        match eval::authorize(&table, &req) {
            Ok((permit, explanation)) => {
                call.record(key, &explanation);
                check_state(key, need)?;
                Ok(permit)
            }
            Err(explanation) => {
                call.record(key, &explanation);
                Err(access_denied(id, action, Some(&key.arn)))
            }
        }
    }

    /// Authorizes an action that is not on a key (IAM policies alone).
    pub(super) fn authorize_account(
        &self,
        call: &mut Call,
        id: &Identity,
        action: &str,
        facts: Facts,
    ) -> Result<(), KmsError> {
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let table = DecisionTable::from_parts(
            self.no_key_policy.clone(),
            id.iam_policies.clone(),
            Arc::default(),
        );
        let req = self.request(id, action, None, facts);
        let explanation = eval::explain(&table, &req);
        call.record_account(&explanation);
        if explanation.decision.is_allow() {
            Ok(())
        } else {
            Err(access_denied(id, action, None))
        }
    }

    pub(super) fn material(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        version: u32,
    ) -> Result<KeyMaterial, KmsError> {
        let cache_key = (key.key_id.clone(), version);
        let cached = self
            .sealed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
            .cloned();
        let sealed = match cached {
            Some(s) => s,
            None => {
                let v = self.store.version(&key.key_id, version)?.ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::InvalidCiphertext,
                        "the ciphertext refers to a key version that does not exist",
                    )
                })?;
                let s = Arc::new(v.sealed);
                self.sealed
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(cache_key, s.clone());
                s
            }
        };
        KeyMaterial::open(permit, &self.root, &key.key_id, version, &sealed)
            .map_err(|e| KmsError::internal(format!("key material: {e}")))
    }
}

pub(super) fn compile_key_policy(key_id: &str, text: &str) -> Result<CompiledPolicy, KmsError> {
    let source = Source::new(format!("key policy of {key_id}"), text);
    let parsed = policy::parse_policy(&source).map_err(|e| {
        let msgs: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
        KmsError::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The key policy is not valid: {}", msgs.join("; ")),
        )
    })?;
    CompiledPolicy::compile(&parsed, PolicyKind::KeyPolicy, &source).map_err(|e| {
        let msgs: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
        KmsError::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The key policy is not valid: {}", msgs.join("; ")),
        )
    })
}

pub(super) fn check_state(key: &KeyRecord, need: Need) -> Result<(), KmsError> {
    match (key.state, need) {
        (KeyState::PendingDeletion, Need::Usable | Need::NotPending) => Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{} is pending deletion.", key.arn),
        )),
        (KeyState::Disabled, Need::Usable) => Err(KmsError::new(
            ErrorKind::Disabled,
            format!("{} is disabled.", key.arn),
        )),
        _ => Ok(()),
    }
}

pub(super) fn access_denied(id: &Identity, action: Action, resource: Option<&str>) -> KmsError {
    let target = resource
        .map(|r| format!(" on resource: {r}"))
        .unwrap_or_default();
    KmsError::new(
        ErrorKind::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {action}{target} because no policy allows the {action} action",
            id.caller.arn
        ),
    )
}
