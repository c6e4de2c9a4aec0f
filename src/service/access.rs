//! Finding keys, their compiled tables and material, and authorizing calls
//! through the decision table.

use std::sync::{Arc, LazyLock};

use crate::catalog::{Action, ContextKey};
use crate::compile::{CompiledPolicy, DecisionTable, PolicyKind};
use crate::crypto::KeyMaterial;
use crate::eval::{self, Permit, Request};
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
        let record = match self.cache.record(key_id, |k| &k.scope.region == region) {
            Some(k) => Some(k),
            // Not cached, or cached only in other Regions.
            None => {
                let since = self.cache.since();
                self.cache(self.store.key_in_region(region, key_id)?, since)
            }
        };
        self.due(record.ok_or_else(missing)?, missing)
    }

    /// Carries out what is due for a key: its deletion (then it is
    /// `missing`), the deletion of its replicas, the expiry of imported
    /// material, its rotation.
    fn due(
        &self,
        mut key: KeyRecord,
        missing: impl FnOnce() -> KmsError,
    ) -> Result<KeyRecord, KmsError> {
        let now = self.now();
        if key.state == KeyState::PendingReplicaDeletion {
            key = self.delete_due_replicas(key)?;
        }
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now) {
            self.delete_due(&key)?;
            return Err(missing());
        }
        if key.is_imported() {
            key = self.expire_material(key)?;
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
    pub(super) fn authorized_use<'f>(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key_id: &str,
        grant_tokens: Option<&[String]>,
        operation: &str,
        facts: impl FnOnce(Option<String>) -> Facts<'f>,
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
        if let Some(k) = self.cache.record(key_id, |k| &k.scope == scope) {
            return Ok(Some(k));
        }
        // Not cached, or cached only in other scopes (a multi-Region key's
        // other Regions, or another account's key of the same id).
        let since = self.cache.since();
        Ok(self.cache(self.store.key(scope, key_id)?, since))
    }

    /// Caches a record read from the store when the count was `since`.
    fn cache(&self, k: Option<KeyRecord>, since: u64) -> Option<KeyRecord> {
        if let Some(k) = &k {
            self.cache.put_record(k, since);
        }
        k
    }

    /// Writes a changed key record (durably) and refreshes the cache.
    pub(super) fn save_key(
        &self,
        key: &KeyRecord,
        journal: &mut dyn Journal,
    ) -> Result<(), KmsError> {
        let since = self.cache.since();
        self.store.update_key(key, journal)?;
        if key.is_multi_region() {
            // The rotation schedule reached every Region's record.
            self.cache.drop_records(&key.key_id);
        }
        self.cache.put_record(key, since);
        Ok(())
    }

    /// Deletes a key whose waiting period is over (recorded as `DeleteKey`).
    pub(super) fn delete_due(&self, key: &KeyRecord) -> Result<(), KmsError> {
        let deleted = self.store.delete_key(
            key,
            self.now(),
            &mut ServiceChange {
                service: self,
                event: "DeleteKey",
                key,
            },
        )?;
        self.cache.drop_key(key);
        if !deleted {
            // Another node deleted it, or cancelled its deletion: what is
            // cached of it is read again.
            self.cache.drop_records(&key.key_id);
            return Ok(());
        }
        self.destroy_in_store(key);
        if key.is_replica() {
            // The primary may have begun its own waiting period.
            self.cache.drop_records(&key.key_id);
        }
        Ok(())
    }

    /// A primary key waiting for its replicas' deletion: deletes those
    /// whose time has come; the primary as it is afterwards.
    fn delete_due_replicas(&self, key: KeyRecord) -> Result<KeyRecord, KmsError> {
        let now = self.now();
        let mut deleted = false;
        for r in self.store.key_everywhere(&key.scope.account, &key.key_id)? {
            if r.is_replica()
                && r.state == KeyState::PendingDeletion
                && r.deletion_date.is_some_and(|d| d <= now)
            {
                self.delete_due(&r)?;
                deleted = true;
            }
        }
        if !deleted {
            return Ok(key);
        }
        let since = self.cache.since();
        Ok(self
            .store
            .key(&key.scope, &key.key_id)?
            .inspect(|k| self.cache.put_record(k, since))
            .unwrap_or(key))
    }

    pub(super) fn request<'a>(
        &self,
        id: &'a Identity,
        action: Action,
        key: Option<&'a KeyRecord>,
        facts: &'a Facts,
    ) -> Request<'a> {
        build_request(id, action, key, facts, self.now())
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
        let tables = self.key_tables(key)?;
        self.authorize_with(call, id, key, &tables, action, need, facts)
    }

    /// Authorizes `action` on a key with its policy and grants `tables`
    /// (a key being created has no cached tables yet).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn authorize_with(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key: &KeyRecord,
        tables: &KeyTables,
        action: &str,
        need: Need,
        facts: Facts,
    ) -> Result<Permit, KmsError> {
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let table = DecisionTable::from_parts(
            tables.policy.clone(),
            id.iam_policies.clone(),
            tables.grants.clone(),
        );
        let req = self.request(id, action, Some(key), &facts);
        match eval::authorize(&table, &req) {
            Ok((permit, explanation)) => {
                call.record(key, &explanation);
                check_state(key, need)?;
                if need == Need::Usable && self.is_unavailable(key) {
                    return Err(KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{} is unavailable.", key.arn),
                    ));
                }
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
        let req = self.request(id, action, None, &facts);
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
        if key.custom_key_store_id.is_some() {
            return self.material_in_token(permit, key, version);
        }
        let sealed = match self.cache.sealed(key, version) {
            Some(s) => s,
            None => {
                let since = self.cache.since();
                let v = self.store.version(key, version)?.ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::InvalidCiphertext,
                        "the ciphertext refers to a key version that does not exist",
                    )
                })?;
                // Imported material that expired or was deleted: the key
                // is PendingImport, which authorization refused already,
                // unless this is an older version of a rotated key.
                let s = Arc::new(v.sealed.ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{} is pending import.", key.arn),
                    )
                })?);
                self.cache.put_sealed(key, version, s.clone(), since);
                s
            }
        };
        KeyMaterial::open(permit, &self.root, &key.key_id, version, &sealed)
            .map_err(|e| KmsError::internal(format!("key material: {e}")))
    }
}

/// The condition keys the service sets from a key's record and the call,
/// resolved once.
struct KeyFacts {
    spec: ContextKey,
    usage: ContextKey,
    origin: ContextKey,
    multi_region: ContextKey,
    multi_region_type: ContextKey,
    cmk_spec: ContextKey,
    cmk_usage: ContextKey,
    alias: ContextKey,
}

static KEY_FACTS: LazyLock<KeyFacts> = LazyLock::new(|| KeyFacts {
    spec: ContextKey::new("kms:KeySpec"),
    usage: ContextKey::new("kms:KeyUsage"),
    origin: ContextKey::new("kms:KeyOrigin"),
    multi_region: ContextKey::new("kms:MultiRegion"),
    multi_region_type: ContextKey::new("kms:MultiRegionKeyType"),
    cmk_spec: ContextKey::new("kms:CustomerMasterKeySpec"),
    cmk_usage: ContextKey::new("kms:CustomerMasterKeyUsage"),
    alias: ContextKey::new("kms:RequestAlias"),
});

/// The request the evaluator decides for a call by `id` on `key` at `now`
/// (Unix seconds): the caller, the key's properties as condition keys, and
/// the call's facts.
pub(super) fn build_request<'a>(
    id: &'a Identity,
    action: Action,
    key: Option<&'a KeyRecord>,
    facts: &'a Facts,
    now: i64,
) -> Request<'a> {
    let mut b = Request::builder(&id.caller, action)
        .secure_transport(id.secure_transport)
        .current_time(
            time::OffsetDateTime::from_unix_timestamp(now)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        );
    if let Some(k) = key {
        let keys = &*KEY_FACTS;
        let flag = |b: bool| if b { "true" } else { "false" };
        b = b
            .resource(k.arn.as_str())
            .key_account(&k.scope.account)
            .context_key(&keys.spec, k.key_spec.as_str())
            .context_key(&keys.usage, k.key_usage.as_str())
            .context_key(&keys.origin, k.origin.as_str())
            .context_key(&keys.multi_region, flag(k.is_multi_region()));
        if k.is_multi_region() {
            b = b.context_key(
                &keys.multi_region_type,
                if k.is_replica() { "REPLICA" } else { "PRIMARY" },
            );
        }
        if super::specs::has_customer_master_key_spec(&k.key_spec) {
            b = b
                .context_key(&keys.cmk_spec, k.key_spec.as_str())
                .context_key(&keys.cmk_usage, k.key_usage.as_str());
        }
    }
    if let Some(ip) = id.source_ip {
        b = b.source_ip(ip);
    }
    if let Some(v) = &id.via_service {
        b = b.via_service(v.as_str());
    }
    if let Some(a) = &facts.alias {
        b = b.context_key(&KEY_FACTS.alias, a.as_str());
    }
    for (k, v) in &facts.extra {
        b = b.context_value(k, v.borrowed());
    }
    b.principal_tags(&id.tags)
        .encryption_context_map(&facts.context)
        .build()
}

/// The key policy of a call on no key (CreateKey, ListKeys, ...): none,
/// so only the caller's IAM policies decide.
pub(super) fn no_key_policy() -> Result<CompiledPolicy, KmsError> {
    compile_key_policy("none", r#"{"Version": "2012-10-17", "Statement": []}"#)
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
        (KeyState::PendingReplicaDeletion, Need::Usable | Need::NotPending) => Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{} is pending replica deletion.", key.arn),
        )),
        (KeyState::PendingImport, Need::Usable) => Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{} is pending import.", key.arn),
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
    // Refused for the encryption context: a deny that tests it decided, or
    // an allow that would have applied but for a condition on it.
    let on_context = explanation.statements.iter().any(|s| {
        let deciding = explanation
            .decided_by
            .iter()
            .any(|d| d.origin.document == s.origin.document && d.origin.index == s.origin.index);
        (deciding && s.effect == crate::policy::ast::Effect::Deny && s.on_context)
            || (s.effect == crate::policy::ast::Effect::Allow
                && matches!(&s.failed, Some(crate::eval::explain::Mismatch::Condition { key, .. })
                    if key.get(..21).is_some_and(|p| p.eq_ignore_ascii_case("kms:EncryptionContext"))))
    });
    let error = match kind {
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
    };
    if on_context {
        error.on_context()
    } else {
        error
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
