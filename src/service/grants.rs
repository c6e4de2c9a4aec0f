//! Grants: CreateGrant (child grants only narrow), ListGrants,
//! ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::catalog::Action;
use crate::crypto;
use crate::eval::ContextValue;
use crate::policy::{self, Source};
use crate::store::{GrantRecord, KeyRecord};

use super::access::access_denied;
use super::fields::{boolean, context_field, hex, page_response, paginate, required, s, strings};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, MAX_GRANTS_PER_KEY, Need};

impl KeyService {
    pub(super) fn create_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grantee = required(input, "GranteePrincipal")?.to_owned();
        let retiring = s(input, "RetiringPrincipal")?.map(str::to_owned);
        let operations = strings(input, "Operations")?;
        if operations.is_empty() {
            return Err(KmsError::validation(
                "1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null",
            ));
        }
        let constraints = input.get("Constraints").filter(|c| !c.is_null()).cloned();
        let name = s(input, "Name")?.map(str::to_owned);
        self.check_grant_tokens(input)?;
        let mut extra = vec![
            (
                "kms:GrantOperations".to_owned(),
                ContextValue::Many(operations.clone()),
            ),
            (
                "kms:GranteePrincipal".to_owned(),
                ContextValue::One(grantee.clone()),
            ),
            (
                "kms:GrantIsForAWSResource".to_owned(),
                ContextValue::One("false".into()),
            ),
        ];
        if let Some(r) = &retiring {
            extra.push(("kms:RetiringPrincipal".into(), ContextValue::One(r.clone())));
        }
        let mut context = BTreeMap::new();
        if let Some(c) = &constraints {
            for (kind, field) in [
                ("EncryptionContextEquals", "EncryptionContextEquals"),
                ("EncryptionContextSubset", "EncryptionContextSubset"),
            ] {
                if c.get(field).is_some() {
                    extra.push((
                        "kms:GrantConstraintType".into(),
                        ContextValue::One(kind.into()),
                    ));
                    context.extend(context_field(c, field)?);
                }
            }
        }
        self.authorize(
            call,
            id,
            &key,
            "CreateGrant",
            Need::Usable,
            Facts {
                context,
                extra,
                ..Facts::default()
            },
        )?;
        let through_grant = call
            .decisions
            .last()
            .and_then(|d| d["decidedBy"][0]["source"].as_str())
            == Some("grant");
        if through_grant {
            self.check_child_grant(id, &key, &operations, constraints.as_ref())?;
        }
        // Validate the grant through the same parser the evaluator reads.
        let grant_id = hex(crypto::random_bytes(32).expose());
        let mut doc = json!({
            "GrantId": grant_id, "KeyId": key.arn, "GranteePrincipal": grantee,
            "Operations": operations, "IssuingAccount": format!("arn:aws:iam::{}:root", key.account),
            "CreationDate": self.now(),
        });
        if let Some(o) = doc.as_object_mut() {
            if let Some(r) = &retiring {
                o.insert("RetiringPrincipal".into(), json!(r));
            }
            if let Some(c) = &constraints {
                o.insert("Constraints".into(), c.clone());
            }
            if let Some(n) = &name {
                o.insert("Name".into(), json!(n));
            }
        }
        let text = doc.to_string();
        let source = Source::new("CreateGrant", text.as_str());
        let parsed = policy::parse_grants(&source).map_err(|e| {
            let first = e
                .errors()
                .first()
                .map(|x| x.to_string())
                .unwrap_or_default();
            KmsError::validation(first)
        })?;
        if let (Some(g), Some(_)) = (parsed.first(), &constraints) {
            let bad: Vec<&str> = g
                .node
                .operations
                .iter()
                .map(|o| o.node.as_str())
                .filter(|o| {
                    Action::from_operation(o).is_some_and(|a| !a.info().takes_encryption_context)
                        && !matches!(*o, "DescribeKey" | "RetireGrant" | "CreateGrant")
                })
                .collect();
            if !bad.is_empty() {
                return Err(KmsError::validation(format!(
                    "Grant constraints are not supported for {}",
                    bad.join(", ")
                )));
            }
        }
        let existing = self.store.grants(&key.key_id)?;
        if let Some(n) = &name {
            // CreateGrant is idempotent for the same name and parameters.
            for g in &existing {
                let d: Value = serde_json::from_str(&g.document).unwrap_or(Value::Null);
                let same = d.get("Name").and_then(Value::as_str) == Some(n)
                    && d.get("GranteePrincipal") == doc.get("GranteePrincipal")
                    && d.get("Operations") == doc.get("Operations")
                    && d.get("Constraints") == doc.get("Constraints")
                    && d.get("RetiringPrincipal") == doc.get("RetiringPrincipal");
                if same {
                    return Ok(json!({"GrantId": g.grant_id, "GrantToken": g.token}));
                }
            }
        }
        if existing.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "The key {} has {MAX_GRANTS_PER_KEY} grants, the limit",
                    key.arn
                ),
            ));
        }
        if boolean(input, "DryRun")? {
            return Err(KmsError::new(
                ErrorKind::Validation,
                "DryRunOperationException: the request would have succeeded",
            ));
        }
        let token = B64.encode(crypto::random_bytes(48).expose());
        self.store.insert_grant(&GrantRecord {
            grant_id: grant_id.clone(),
            key_id: key.key_id.clone(),
            token: token.clone(),
            document: text,
        })?;
        self.forget(&key.key_id);
        Ok(json!({"GrantId": grant_id, "GrantToken": token}))
    }

    /// A grant that allows CreateGrant may only create grants for a subset of
    /// its operations, with constraints at least as strict as its own.
    pub(super) fn check_child_grant(
        &self,
        id: &Identity,
        key: &KeyRecord,
        ops: &[String],
        constraints: Option<&Value>,
    ) -> Result<(), KmsError> {
        let caller: Vec<&str> = id.caller.arns().collect();
        let child_equals = constraints
            .map(|c| context_field(c, "EncryptionContextEquals"))
            .transpose()?
            .filter(|m| !m.is_empty());
        let child_subset = constraints
            .map(|c| context_field(c, "EncryptionContextSubset"))
            .transpose()?
            .filter(|m| !m.is_empty());
        let narrower = |parent: &Value| -> Result<bool, KmsError> {
            let parent_ops: Vec<String> = strings(parent, "Operations")?;
            if !parent_ops.iter().any(|o| o == "CreateGrant")
                || !ops.iter().all(|o| parent_ops.contains(o))
            {
                return Ok(false);
            }
            let pc = parent.get("Constraints").cloned().unwrap_or(Value::Null);
            let p_equals = context_field(&pc, "EncryptionContextEquals")?;
            let p_subset = context_field(&pc, "EncryptionContextSubset")?;
            let ok_equals = p_equals.is_empty() || child_equals.as_ref() == Some(&p_equals);
            let includes =
                |m: &BTreeMap<String, String>| p_subset.iter().all(|(k, v)| m.get(k) == Some(v));
            let ok_subset = p_subset.is_empty()
                || child_equals.as_ref().is_some_and(includes)
                || child_subset.as_ref().is_some_and(includes);
            Ok(ok_equals && ok_subset)
        };
        for (_, d) in self.grant_entries(key)? {
            let mine = d
                .get("GranteePrincipal")
                .and_then(Value::as_str)
                .is_some_and(|g| caller.contains(&g));
            if mine && narrower(&d)? {
                return Ok(());
            }
        }
        Err(KmsError::new(
            ErrorKind::AccessDenied,
            format!(
                "{} may create grants only for operations its own grant allows, with constraints at least as strict",
                id.caller.arn
            ),
        ))
    }

    pub(super) fn grant_entries(
        &self,
        key: &KeyRecord,
    ) -> Result<Vec<(GrantRecord, Value)>, KmsError> {
        Ok(self
            .store
            .grants(&key.key_id)?
            .into_iter()
            .map(|g| {
                let d: Value = serde_json::from_str(&g.document).unwrap_or(Value::Null);
                (g, d)
            })
            .collect())
    }

    pub(super) fn list_grants(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(call, id, &key, "ListGrants", Need::Any, Facts::default())?;
        let grant_id = s(input, "GrantId")?;
        let grantee = s(input, "GranteePrincipal")?;
        let items: Vec<Value> = self
            .grant_entries(&key)?
            .into_iter()
            .filter(|(g, d)| {
                grant_id.is_none_or(|w| w == g.grant_id)
                    && grantee.is_none_or(|w| {
                        d.get("GranteePrincipal").and_then(Value::as_str) == Some(w)
                    })
            })
            .map(|(_, d)| d)
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Grants", page, next))
    }

    pub(super) fn list_retirable_grants(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "ListRetirableGrants", Facts::default())?;
        let who = required(input, "RetiringPrincipal")?;
        let items: Vec<Value> = self
            .store
            .all_grants()?
            .into_iter()
            .filter_map(|g| serde_json::from_str::<Value>(&g.document).ok())
            .filter(|d| d.get("RetiringPrincipal").and_then(Value::as_str) == Some(who))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Grants", page, next))
    }

    pub(super) fn find_grant(
        &self,
        input: &Value,
    ) -> Result<(KeyRecord, GrantRecord, Value), KmsError> {
        if let Some(token) = s(input, "GrantToken")? {
            let g = self
                .store
                .all_grants()?
                .into_iter()
                .find(|g| g.token == token)
                .ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::InvalidGrantToken,
                        "The grant token is not valid.",
                    )
                })?;
            let (key, _) = self.resolve(&g.key_id)?;
            let d = serde_json::from_str(&g.document).unwrap_or(Value::Null);
            return Ok((key, g, d));
        }
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grant_id = required(input, "GrantId")?;
        let (g, d) = self
            .grant_entries(&key)?
            .into_iter()
            .find(|(g, _)| g.grant_id == grant_id)
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::InvalidGrantId,
                    format!("Grant ID {grant_id} is not valid"),
                )
            })?;
        Ok((key, g, d))
    }

    pub(super) fn retire_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, g, d) = self.find_grant(input)?;
        call.resources.push((key.account.clone(), key.arn.clone()));
        let caller_arns: Vec<&str> = id.caller.arns().collect();
        let is = |field: &str| {
            d.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| caller_arns.contains(&v))
        };
        let grantee_may = is("GranteePrincipal")
            && d.get("Operations")
                .and_then(Value::as_array)
                .is_some_and(|ops| ops.iter().any(|o| o == "RetireGrant"));
        let issuing_root = id.caller.is_root()
            && id
                .caller
                .account
                .as_ref()
                .is_some_and(|a| a.0 == key.account);
        if !(is("RetiringPrincipal") || grantee_may || issuing_root) {
            let retire = Action::from_operation("RetireGrant")
                .ok_or_else(|| KmsError::internal("catalog lacks RetireGrant"))?;
            return Err(access_denied(id, retire, Some(&key.arn)));
        }
        self.store.delete_grant(&g.grant_id)?;
        self.forget(&key.key_id);
        Ok(json!({}))
    }

    pub(super) fn revoke_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grant_id = required(input, "GrantId")?;
        self.authorize(call, id, &key, "RevokeGrant", Need::Any, Facts::default())?;
        if !self
            .store
            .grants(&key.key_id)?
            .iter()
            .any(|g| g.grant_id == grant_id)
        {
            return Err(KmsError::new(
                ErrorKind::InvalidGrantId,
                format!("Grant ID {grant_id} is not valid"),
            ));
        }
        self.store.delete_grant(grant_id)?;
        self.forget(&key.key_id);
        Ok(json!({}))
    }
}
