//! Finding keys, their compiled tables and material, and authorizing calls
//! through the decision table.

use std::sync::Arc;

use crate::catalog::Action;
use crate::compile::{CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use crate::crypto::KeyMaterial;
use crate::eval::{self, ContextValue, Permit, Request};
use crate::policy::{self, Source};
use crate::scope::{KeyRef, KeyRefError, Scope};
use crate::store::{Journal, KeyRecord, KeyState};

use super::aliases::alias_not_found;
use super::journal::ServiceChange;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KeyTables, KmsError, Need};

/// Which accounts a `KeyId` may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// The account an ARN names (cross-account use, which the key policy
    /// and the caller's IAM policies then decide).
    Named,
    /// The caller's own account only (aliases, which never cross accounts).
    Own,
}

impl KeyService {
    /// Finds a key by id, key ARN, alias name or alias ARN. A bare id or
    /// alias name resolves in the caller's own account and Region; an ARN
    /// in the account it names, and only in the caller's Region. With
    /// [`Reach::Own`], an ARN of another account finds nothing. Carries out
    /// a due deletion and a due rotation first.
    pub(super) fn resolve(
        &self,
        id: &Identity,
        key_id: &str,
        reach: Reach,
    ) -> Result<(KeyRecord, Option<String>), KmsError> {
        let own = self.caller_scope(id);
        let named = KeyRef::parse(key_id, self.caller_region(id)).map_err(|e| match e {
            KeyRefError::OtherRegion(r) => KmsError::not_found(format!("Invalid arn {r}")),
            KeyRefError::Malformed => KmsError::not_found(format!("Invalid keyId '{key_id}'")),
        })?;
        let (scope, key, alias) = match named {
            KeyRef::Id(k) | KeyRef::Alias(k) if own.is_none() => {
                return Err(KmsError::not_found(format!("Key '{k}' does not exist")));
            }
            KeyRef::Id(k) => (own.clone(), k, None),
            KeyRef::Alias(name) => (own.clone(), String::new(), Some(name)),
            KeyRef::KeyArn(s, k) => (Some(s), k, None),
            KeyRef::AliasArn(s, name) => (Some(s), String::new(), Some(name)),
        };
        // INVARIANT: the first arm returned for callers without a scope.
        let Some(scope) = scope else {
            return Err(KmsError::not_found(format!(
                "Key '{key_id}' does not exist"
            )));
        };
        let missing =
            |k: &str| KmsError::not_found(format!("Key '{}' does not exist", scope.key_arn(k)));
        if reach == Reach::Own && own.as_ref() != Some(&scope) {
            return Err(match &alias {
                Some(name) => alias_not_found(&scope, name),
                None => missing(&key),
            });
        }
        let key = match &alias {
            Some(name) => {
                self.store
                    .alias(&scope, name)?
                    .ok_or_else(|| alias_not_found(&scope, name))?
                    .key_id
            }
            None => key,
        };
        let record = self.load_key(&scope, &key)?.ok_or_else(|| missing(&key))?;
        Ok((self.due(record, || missing(&key))?, alias))
    }

    /// The key a ciphertext names, in the caller's Region and any account
    /// (as a key ARN would name it); its record says whose it is.
    pub(super) fn resolve_blob_key(
        &self,
        id: &Identity,
        key_id: &str,
    ) -> Result<KeyRecord, KmsError> {
        let missing = || {
            KmsError::not_found(format!(
                "the ciphertext was encrypted under key '{key_id}', which does not exist"
            ))
        };
        let region = self.caller_region(id);
        let cached = self
            .records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            .cloned();
        let record = match cached {
            Some(k) if &k.scope.region == region => Some(k),
            Some(_) => None,
            None => self.cache(self.store.key_in_region(region, key_id)?),
        };
        self.due(record.ok_or_else(missing)?, missing)
    }

    /// Carries out a key's due deletion (then it is `missing`) or rotation.
    fn due(
        &self,
        mut key: KeyRecord,
        missing: impl FnOnce() -> KmsError,
    ) -> Result<KeyRecord, KmsError> {
        let now = self.now();
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now) {
            self.delete_due(&key)?;
            return Err(missing());
        }
        if key.state == KeyState::Enabled && key.next_rotation.is_some_and(|t| t <= now) {
            let before = key.clone();
            self.rotate(
                &mut key,
                "AUTOMATIC",
                &mut ServiceChange {
                    service: self,
                    event: "RotateKey",
                    key: &before,
                },
            )?;
        }
        Ok(key)
    }

    /// The key the request's `KeyId` names, authorized for `operation` with
    /// no request facts beyond the key: how most key operations begin.
    pub(super) fn authorized_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key_id: &str,
        operation: &str,
        need: Need,
    ) -> Result<KeyRecord, KmsError> {
        let (key, _) = self.resolve(id, key_id, Reach::Named)?;
        self.authorize(call, id, &key, operation, need, Facts::default())?;
        Ok(key)
    }

    /// The key a cryptographic request names, authorized for `operation`
    /// on a usable key: resolve the `KeyId`, check the grant tokens,
    /// authorize with the request's facts (which may name the alias used).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn authorized_use(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key_id: &str,
        grant_tokens: Option<&[String]>,
        operation: &str,
        facts: impl FnOnce(Option<String>) -> Facts,
    ) -> Result<(KeyRecord, Permit), KmsError> {
        let (key, alias) = self.resolve(id, key_id, Reach::Named)?;
        self.check_grant_tokens(grant_tokens)?;
        let permit = self.authorize(call, id, &key, operation, Need::Usable, facts(alias))?;
        Ok((key, permit))
    }

    /// The key `key_id` of `scope`, through the record cache.
    pub(super) fn load_key(
        &self,
        scope: &Scope,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, KmsError> {
        if let Some(k) = self
            .records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
        {
            // Key ids are unique: a cached key of another scope means this
            // scope has none.
            return Ok((&k.scope == scope).then(|| k.clone()));
        }
        Ok(self.cache(self.store.key(scope, key_id)?))
    }

    fn cache(&self, k: Option<KeyRecord>) -> Option<KeyRecord> {
        if let Some(k) = &k {
            self.records
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k.key_id.clone(), k.clone());
        }
        k
    }

    /// Writes a changed key record (durably) and refreshes the cache.
    pub(super) fn save_key(
        &self,
        key: &KeyRecord,
        journal: &mut dyn Journal,
    ) -> Result<(), KmsError> {
        self.store.update_key(key, journal)?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
    }

    /// Deletes a key whose waiting period is over (recorded as `DeleteKey`).
    pub(super) fn delete_due(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.store.delete_key(
            key,
            &mut ServiceChange {
                service: self,
                event: "DeleteKey",
                key,
            },
        )?;
        let key_id = key.key_id.as_str();
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        self.sealed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _), _| k != key_id);
        self.public_keys
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
        for g in self.store.grants(key)? {
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
        key: Option<&KeyRecord>,
        facts: Facts,
    ) -> Request {
        let mut b = Request::builder(id.caller.clone(), action)
            .secure_transport(id.secure_transport)
            .current_time(
                time::OffsetDateTime::from_unix_timestamp(self.now())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            );
        if let Some(k) = key {
            b = b
                .resource(k.arn.as_str())
                .key_account(k.scope.account.clone())
                .context("kms:KeySpec", k.key_spec.clone())
                .context("kms:KeyUsage", k.key_usage.clone())
                .context("kms:KeyOrigin", "AWS_KMS")
                .context("kms:MultiRegion", "false");
            if super::specs::has_customer_master_key_spec(&k.key_spec) {
                b = b
                    .context("kms:CustomerMasterKeySpec", k.key_spec.clone())
                    .context("kms:CustomerMasterKeyUsage", k.key_usage.clone());
            }
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
        call: &mut Call<'_>,
        id: &Identity,
        key: &KeyRecord,
        action: &str,
        need: Need,
        facts: Facts,
    ) -> Result<Permit, KmsError> {
        self.charge(call, id, Some(&key.key_spec))?;
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let tables = self.key_tables(key)?;
        let table = DecisionTable::from_parts(
            tables.policy.clone(),
            id.iam_policies.clone(),
            tables.grants.clone(),
        );
        let req = self.request(id, action, Some(key), facts);
        match eval::authorize(&table, &req) {
            Ok((permit, explanation)) => {
                call.record(key, &explanation);
                check_state(key, need)?;
                Ok(permit)
            }
            Err(explanation) => {
                call.record(key, &explanation);
                Err(denied_by(id, action, Some(&key.arn), &explanation))
            }
        }
    }

    /// Authorizes an action that is not on a key (IAM policies alone).
    pub(super) fn authorize_account(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        action: &str,
        facts: Facts,
    ) -> Result<(), KmsError> {
        self.charge(call, id, None)?;
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
            Err(denied_by(id, action, None, &explanation))
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
                let v = self.store.version(key, version)?.ok_or_else(|| {
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

/// AWS's AccessDeniedException for a request the evaluator denied: an
/// explicit deny names the kind of policy that denied it.
fn denied_by(
    id: &Identity,
    action: Action,
    resource: Option<&str>,
    explanation: &crate::eval::Explanation,
) -> KmsError {
    let deny = explanation
        .decided_by
        .iter()
        .find(|d| d.effect == crate::policy::ast::Effect::Deny);
    let kind = match deny.map(|d| d.source) {
        _ if explanation.decision != crate::eval::DecisionKind::ExplicitDeny => None,
        Some("key_policy") => Some("a resource-based policy"),
        Some(_) => Some("an identity-based policy"),
        None => None,
    };
    match kind {
        Some(kind) => {
            let target = resource
                .map(|r| format!(" on resource: {r}"))
                .unwrap_or_default();
            KmsError::new(
                ErrorKind::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: {action}{target} with an explicit deny in {kind}",
                    id.caller.arn
                ),
            )
        }
        None => access_denied(id, action, resource),
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
