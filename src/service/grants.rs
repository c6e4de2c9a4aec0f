//! Grants: CreateGrant (child grants only narrow), ListGrants,
//! ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::json;

use crate::catalog::Action;
use crate::crypto;
use crate::eval::ContextValue;
use crate::eval::{self, Caller};
use crate::policy::ast::GrantConstraints;
use crate::policy::{self, Source};
use crate::store::{GrantInsert, GrantRecord, KeyRecord};

use super::access::{Reach, access_denied};
use super::api::enums::GrantOperation;
use super::api::types::GrantConstraints as Constraints;
use super::api::{
    GRANT_ID, GRANT_TOKEN, GRANT_TOKENS, KEY_ID, LIMIT, MARKER, Member, PRINCIPAL_ID, Rule,
    SERVICE_PRINCIPAL, null_member, request,
};
use super::fields::{Page, hex, paginate};
use super::{
    Call, Empty, ErrorKind, Facts, Identity, KeyService, KmsError, MAX_GRANTS_PER_KEY, Need,
};

const CONSTRAINTS: Rule = Rule::Structure(&[
    Member {
        name: "EncryptionContextSubset",
        required: false,
        rule: Rule::StringMap,
        sensitive: false,
    },
    Member {
        name: "EncryptionContextEquals",
        required: false,
        rule: Rule::StringMap,
        sensitive: false,
    },
    Member {
        name: "SourceArn",
        required: false,
        rule: Rule::pattern(
            20,
            512,
            "^arn:aws[a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:.+$",
        ),
        sensitive: false,
    },
]);

request! {
    /// CreateGrant.
    CreateGrantRequest {
        key_id: req String = "KeyId" KEY_ID,
        grantee_principal: opt String = "GranteePrincipal" PRINCIPAL_ID,
        retiring_principal: opt String = "RetiringPrincipal" PRINCIPAL_ID,
        operations: req Vec<GrantOperation> = "Operations"
            Rule::list(&Rule::Enum(GrantOperation::VALUES)),
        constraints: opt Constraints = "Constraints" CONSTRAINTS,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        name: opt String = "Name" Rule::pattern(1, 256, "^[a-zA-Z0-9:/_-]+$"),
        dry_run: opt bool = "DryRun" Rule::Boolean,
        grantee_service_principal: opt String = "GranteeServicePrincipal" SERVICE_PRINCIPAL,
        retiring_service_principal: opt String = "RetiringServicePrincipal" SERVICE_PRINCIPAL,
    }
}

request! {
    /// ListGrants.
    ListGrantsRequest {
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
        key_id: req String = "KeyId" KEY_ID,
        grant_id: opt String = "GrantId" GRANT_ID,
        grantee_principal: opt String = "GranteePrincipal" PRINCIPAL_ID,
        grantee_service_principal: opt String = "GranteeServicePrincipal" SERVICE_PRINCIPAL,
    }
}

request! {
    /// ListRetirableGrants.
    ListRetirableGrantsRequest {
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
        retiring_principal: opt String = "RetiringPrincipal" PRINCIPAL_ID,
        retiring_service_principal: opt String = "RetiringServicePrincipal" SERVICE_PRINCIPAL,
    }
}

request! {
    /// RetireGrant.
    RetireGrantRequest {
        grant_token: opt String = "GrantToken" GRANT_TOKEN,
        key_id: opt String = "KeyId" KEY_ID,
        grant_id: opt String = "GrantId" GRANT_ID,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// RevokeGrant.
    RevokeGrantRequest {
        key_id: req String = "KeyId" KEY_ID,
        grant_id: req String = "GrantId" GRANT_ID,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateGrantResponse {
    grant_token: String,
    grant_id: String,
}

/// A `GrantListEntry`: a grant as ListGrants and ListRetirableGrants show
/// it, and as the store keeps it.
#[derive(Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GrantListEntry {
    key_id: String,
    grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    creation_date: i64,
    grantee_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<String>,
    issuing_account: String,
    operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constraints: Option<Constraints>,
}

/// A stored grant document as an entry; one that does not read is an
/// internal error, never a silently missing grant.
fn entry(g: &GrantRecord) -> Result<GrantListEntry, KmsError> {
    serde_json::from_str(&g.document)
        .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))
}

fn unsupported_service_principal() -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        "keyward does not support service principals as grantees or retiring principals",
    )
}

impl KeyService {
    pub(super) fn create_grant(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CreateGrantRequest,
    ) -> Result<CreateGrantResponse, KmsError> {
        if input.grantee_service_principal.is_some() || input.retiring_service_principal.is_some() {
            return Err(unsupported_service_principal());
        }
        let (key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        let grantee = input
            .grantee_principal
            .ok_or_else(|| null_member("granteePrincipal"))?;
        let retiring = input.retiring_principal;
        let operations: Vec<String> = input
            .operations
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect();
        if operations.is_empty() {
            return Err(KmsError::validation(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        if input
            .operations
            .iter()
            .all(|o| *o == GrantOperation::CreateGrant)
        {
            return Err(KmsError::validation(
                "Grants must not contain only the CreateGrant operation.",
            ));
        }
        let constraints = input.constraints;
        if let Some(c) = &constraints {
            if c.subset.is_some() && c.equals.is_some() {
                return Err(KmsError::validation("More than one constraint supplied"));
            }
            if c.source_arn.is_some() {
                return Err(KmsError::new(
                    ErrorKind::UnsupportedOperation,
                    "keyward does not support the SourceArn grant constraint",
                ));
            }
        }
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        let mut extra = vec![
            (
                "kms:GrantOperations".to_owned(),
                ContextValue::many(operations.clone()),
            ),
            (
                "kms:GranteePrincipal".to_owned(),
                ContextValue::one(grantee.clone()),
            ),
            (
                "kms:GrantIsForAWSResource".to_owned(),
                ContextValue::one("false"),
            ),
        ];
        if let Some(r) = &retiring {
            extra.push(("kms:RetiringPrincipal".into(), ContextValue::one(r.clone())));
        }
        let mut context = BTreeMap::new();
        if let Some(c) = &constraints {
            for (kind, map) in [
                ("EncryptionContextEquals", &c.equals),
                ("EncryptionContextSubset", &c.subset),
            ] {
                if let Some(map) = map {
                    extra.push(("kms:GrantConstraintType".into(), ContextValue::one(kind)));
                    context.extend(map.clone());
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
                context: std::borrow::Cow::Owned(context),
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
                o.insert("Constraints".into(), json!(c));
            }
            if let Some(n) = &input.name {
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
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
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
            &mut self.journal(call, id),
        )? {
            GrantInsert::Created => {}
            // CreateGrant is idempotent for the same name and parameters.
            GrantInsert::Existing(g) => {
                return Ok(CreateGrantResponse {
                    grant_id: g.grant_id,
                    grant_token: g.token,
                });
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
        self.grant_added(&key, &record);
        Ok(CreateGrantResponse {
            grant_id,
            grant_token: token,
        })
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
    ) -> Result<Vec<(GrantRecord, GrantListEntry)>, KmsError> {
        self.store
            .grants(key)?
            .into_iter()
            .map(|g| entry(&g).map(|d| (g, d)))
            .collect()
    }

    pub(super) fn list_grants(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListGrantsRequest,
    ) -> Result<Page<GrantListEntry>, KmsError> {
        if input.grantee_service_principal.is_some() {
            return Err(unsupported_service_principal());
        }
        let key = self.authorized_key(call, id, &input.key_id, "ListGrants", Need::Any)?;
        let grant_id = input.grant_id.as_deref();
        let grantee = input.grantee_principal.as_deref();
        let items = self
            .grant_entries(&key)?
            .into_iter()
            .filter(|(g, d)| {
                grant_id.is_none_or(|w| w == g.grant_id)
                    && grantee.is_none_or(|w| d.grantee_principal == w)
            })
            .map(|(_, d)| d)
            .collect();
        paginate("Grants", items, input.limit, input.marker.as_deref())
    }

    pub(super) fn list_retirable_grants(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListRetirableGrantsRequest,
    ) -> Result<Page<GrantListEntry>, KmsError> {
        if input.retiring_service_principal.is_some() {
            return Err(unsupported_service_principal());
        }
        self.authorize_account(call, id, "ListRetirableGrants", Facts::default())?;
        let who = input
            .retiring_principal
            .ok_or_else(|| null_member("retiringPrincipal"))?;
        // AWS: "You must specify a principal in your AWS account." The grants
        // listed may be on keys of other accounts, which named this principal.
        let principal_account = Caller::parse(&who).ok().and_then(|c| c.account);
        if principal_account.is_none() || principal_account != id.caller.account {
            let list = Action::from_operation("ListRetirableGrants")
                .ok_or_else(|| KmsError::internal("catalog lacks ListRetirableGrants"))?;
            return Err(access_denied(id, list, Some(&who)));
        }
        let items = self
            .store
            .retirable_grants(self.caller_region(id), &who)?
            .into_iter()
            .map(|g| entry(&g))
            .collect::<Result<Vec<_>, _>>()?;
        paginate("Grants", items, input.limit, input.marker.as_deref())
    }

    /// The grant RetireGrant names: by its token (on a key of any account
    /// in the caller's Region), or by key and grant id.
    fn find_grant(
        &self,
        id: &Identity,
        input: &RetireGrantRequest,
    ) -> Result<(KeyRecord, GrantRecord, GrantListEntry), KmsError> {
        if let Some(token) = &input.grant_token {
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
            let d = entry(&g)?;
            return Ok((key, g, d));
        }
        let (Some(key_id), Some(grant_id)) = (&input.key_id, &input.grant_id) else {
            return Err(KmsError::validation(
                "Grant token OR (grant ID, key ID) must be specified",
            ));
        };
        let (key, _) = self.resolve(id, key_id, Reach::Named)?;
        let (g, d) = self
            .grant_entries(&key)?
            .into_iter()
            .find(|(g, _)| g.grant_id == *grant_id)
            .ok_or_else(|| invalid_grant_id(grant_id))?;
        Ok((key, g, d))
    }

    /// RetireGrant: by the grant's retiring principal, by its grantee when
    /// the grant allows RetireGrant, or by the account that owns the key
    /// (its root user, or a principal of that account whose policies allow
    /// kms:RetireGrant on the key).
    pub(super) fn retire_grant(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: RetireGrantRequest,
    ) -> Result<Empty, KmsError> {
        let (key, g, d) = self.find_grant(id, &input)?;
        let caller_arns: Vec<&str> = id.caller.arns().collect();
        let is = |principal: Option<&str>| principal.is_some_and(|v| caller_arns.contains(&v));
        let grantee_may =
            is(Some(&d.grantee_principal)) && d.operations.iter().any(|o| o == "RetireGrant");
        let in_key_account = id
            .caller
            .account
            .as_ref()
            .is_some_and(|a| *a == key.scope.account);
        if is(d.retiring_principal.as_deref())
            || grantee_may
            || (in_key_account && id.caller.is_root())
        {
            call.resources
                .push((key.scope.account.0.clone(), key.arn.clone()));
        } else if in_key_account {
            self.authorize(call, id, &key, "RetireGrant", Need::Any, Facts::default())?;
        } else {
            call.resources
                .push((key.scope.account.0.clone(), key.arn.clone()));
            let retire = Action::from_operation("RetireGrant")
                .ok_or_else(|| KmsError::internal("catalog lacks RetireGrant"))?;
            return Err(access_denied(id, retire, Some(&key.arn)));
        }
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        if !self
            .store
            .delete_grant(&key, &g.grant_id, &mut self.journal(call, id))?
        {
            return Err(invalid_grant_id(&g.grant_id));
        }
        self.grant_removed(&key, &g.grant_id);
        Ok(Empty {})
    }

    pub(super) fn revoke_grant(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: RevokeGrantRequest,
    ) -> Result<Empty, KmsError> {
        let key = self.authorized_key(call, id, &input.key_id, "RevokeGrant", Need::Any)?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        if !self
            .store
            .delete_grant(&key, &input.grant_id, &mut self.journal(call, id))?
        {
            return Err(invalid_grant_id(&input.grant_id));
        }
        self.grant_removed(&key, &input.grant_id);
        Ok(Empty {})
    }
}

fn invalid_grant_id(grant_id: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidGrantId,
        format!("Grant ID {grant_id} is not valid"),
    )
}
