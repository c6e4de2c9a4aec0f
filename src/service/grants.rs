//! Grants: CreateGrant (child grants only narrow), ListGrants,
//! ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::catalog::Action;
use crate::crypto;
use crate::eval::ContextValue;
use crate::eval::{self, Caller};
use crate::policy::ast::GrantConstraints;
use crate::policy::{self, Source};
use crate::store::{GrantInsert, GrantRecord, KeyRecord};

use super::access::{Reach, access_denied};
use super::fields::{boolean, context_field, hex, page_response, paginate, required, s, strings};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, MAX_GRANTS_PER_KEY, Need};

impl KeyService {
    pub(super) fn create_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
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
        // Validate the grant through the same parser the evaluator reads.
        let grant_id = hex(crypto::random_bytes(32).expose());
        let mut doc = json!({
            "GrantId": grant_id, "KeyId": key.arn, "GranteePrincipal": grantee,
            "Operations": operations, "IssuingAccount": key.scope.account.root_arn(),
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
        if through_grant {
            let child = parsed
                .first()
                .and_then(|g| g.node.constraints.as_ref())
                .map(|c| &c.node);
            self.check_child_grant(id, &key, &operations, child)?;
        }
        if boolean(input, "DryRun")? {
            return Err(KmsError::new(
                ErrorKind::Validation,
                "DryRunOperationException: the request would have succeeded",
            ));
        }
        let token = B64.encode(crypto::random_bytes(48).expose());
        let record = GrantRecord {
            grant_id: grant_id.clone(),
            key_id: key.key_id.clone(),
            token: token.clone(),
            document: text,
        };
        match self.store.insert_grant(
            &key,
            &record,
            MAX_GRANTS_PER_KEY,
            &mut self.journal(call, id, input),
        )? {
            GrantInsert::Created => {}
            // CreateGrant is idempotent for the same name and parameters.
            GrantInsert::Existing(g) => {
                return Ok(json!({"GrantId": g.grant_id, "GrantToken": g.token}));
            }
            GrantInsert::LimitExceeded => {
                return Err(KmsError::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "The key {} has {MAX_GRANTS_PER_KEY} grants, the limit",
                        key.arn
                    ),
                ));
            }
        }
        self.forget(&key.key_id);
        Ok(json!({"GrantId": grant_id, "GrantToken": token}))
    }

    /// A grant that allows CreateGrant may only create grants for a subset of
    /// its operations, with constraints at least as strict as its own
    /// (absent and empty constraints differ: `Equals {}` admits only the
    /// empty context).
    pub(super) fn check_child_grant(
        &self,
        id: &Identity,
        key: &KeyRecord,
        ops: &[String],
        child: Option<&GrantConstraints>,
    ) -> Result<(), KmsError> {
        let caller: Vec<&str> = id.caller.arns().collect();
        for g in self.store.grants(key)? {
            let source = Source::new(format!("grant {}", g.grant_id), g.document.as_str());
            let Ok(parsed) = policy::parse_grants(&source) else {
                continue;
            };
            for parent in parsed.iter().map(|p| &p.node) {
                let parent_ops: Vec<&str> =
                    parent.operations.iter().map(|o| o.node.as_str()).collect();
                let narrower = caller.contains(&parent.grantee_principal.node.as_str())
                    && parent_ops.contains(&"CreateGrant")
                    && ops.iter().all(|o| parent_ops.contains(&o.as_str()))
                    && eval::constraints_at_least_as_strict(
                        child,
                        parent.constraints.as_ref().map(|c| &c.node),
                    );
                if narrower {
                    return Ok(());
                }
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
            .grants(key)?
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
        let key = self.authorized_key(call, id, input, "ListGrants", Need::Any)?;
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
        // AWS: "You must specify a principal in your AWS account." The grants
        // listed may be on keys of other accounts, which named this principal.
        let principal_account = Caller::parse(who).ok().and_then(|c| c.account);
        if principal_account.is_none() || principal_account != id.caller.account {
            let list = Action::from_operation("ListRetirableGrants")
                .ok_or_else(|| KmsError::internal("catalog lacks ListRetirableGrants"))?;
            return Err(access_denied(id, list, Some(who)));
        }
        let items: Vec<Value> = self
            .store
            .retirable_grants(self.caller_region(id), who)?
            .into_iter()
            .filter_map(|g| serde_json::from_str::<Value>(&g.document).ok())
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Grants", page, next))
    }

    /// The grant RetireGrant names: by its token (on a key of any account
    /// in the caller's Region), or by key and grant id.
    pub(super) fn find_grant(
        &self,
        id: &Identity,
        input: &Value,
    ) -> Result<(KeyRecord, GrantRecord, Value), KmsError> {
        if let Some(token) = s(input, "GrantToken")? {
            let invalid = || {
                KmsError::new(
                    ErrorKind::InvalidGrantToken,
                    "The grant token is not valid.",
                )
            };
            let g = self
                .store
                .grant_by_token(self.caller_region(id), token)?
                .ok_or_else(invalid)?;
            let key = self
                .resolve_blob_key(id, &g.key_id)
                .map_err(|_| invalid())?;
            let d = serde_json::from_str(&g.document).unwrap_or(Value::Null);
            return Ok((key, g, d));
        }
        let (key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
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
        let (key, g, d) = self.find_grant(id, input)?;
        call.resources
            .push((key.scope.account.0.clone(), key.arn.clone()));
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
                .is_some_and(|a| *a == key.scope.account);
        if !(is("RetiringPrincipal") || grantee_may || issuing_root) {
            let retire = Action::from_operation("RetireGrant")
                .ok_or_else(|| KmsError::internal("catalog lacks RetireGrant"))?;
            return Err(access_denied(id, retire, Some(&key.arn)));
        }
        if !self
            .store
            .delete_grant(&key, &g.grant_id, &mut self.journal(call, id, input))?
        {
            return Err(KmsError::new(
                ErrorKind::InvalidGrantId,
                format!("Grant ID {} is not valid", g.grant_id),
            ));
        }
        self.forget(&key.key_id);
        Ok(json!({}))
    }

    pub(super) fn revoke_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let grant_id = required(input, "GrantId")?;
        self.authorize(call, id, &key, "RevokeGrant", Need::Any, Facts::default())?;
        if !self
            .store
            .delete_grant(&key, grant_id, &mut self.journal(call, id, input))?
        {
            return Err(KmsError::new(
                ErrorKind::InvalidGrantId,
                format!("Grant ID {grant_id} is not valid"),
            ));
        }
        self.forget(&key.key_id);
        Ok(json!({}))
    }
}
