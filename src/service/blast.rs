//! `keyward check blast-radius`: everything one principal can do with the
//! keys of a data directory, and the plan to contain it.
//!
//! For every key in the store and every operation on keys, the request the
//! principal would make (with no encryption context) is decided by the
//! evaluator. An allowed operation is reported at the key policy statement
//! that allowed it. An operation refused only because an encryption-context
//! condition of an otherwise matching statement or grant failed is
//! reported as bound to that context: that is what the principal's
//! decrypts are limited to. Grants whose grantee is the principal are
//! reported on their own. The findings read like the linter's, so the
//! same outputs carry them; the plan says what to revoke, change and
//! rotate, and what rotation cannot fix.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{Action, ResourceKind};
use crate::compile::DecisionTable;
use crate::eval::explain::Mismatch;
use crate::eval::{self, DecisionKind, PrincipalMatch};
use crate::lint::{FileReport, Finding};
use crate::policy::{Source, Span};
use crate::store::{KeyRecord, Store};

use super::access::build_request;
use super::tables::load_tables;
use super::{DataDir, Facts, Identity, KmsError};

/// What one principal can reach, and the plan to contain it.
pub struct BlastRadius {
    /// One report per key the principal reaches: its key policy, with a
    /// finding at each statement that lets the principal in; and one per
    /// key on which the principal holds grants, over those grants.
    pub reports: Vec<FileReport>,
    pub plan: Vec<String>,
}

fn rule(code: &str) -> &'static crate::lint::RuleInfo {
    crate::lint::rule(code).unwrap_or(&crate::check::RULES[0])
}

/// The operations that hand out or use plaintext key material: those whose
/// past use rotation cannot undo.
const UNWRAPPING: &[&str] = &[
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "DeriveSharedSecret",
    "Decapsulate",
];

/// Everything `id` can do with the keys of the data directory `dir`, at
/// `now` (Unix seconds).
pub fn blast_radius(dir: &DataDir, id: &Identity, now: i64) -> Result<BlastRadius, KmsError> {
    let store = dir.open_store()?;
    let principal = id.caller.arn.clone();
    let mut reports = Vec::new();
    let mut plan = Vec::new();
    for key in store.all_keys()? {
        let tables = load_tables(&store, &key)?;
        let table =
            DecisionTable::from_parts(tables.policy, id.iam_policies.clone(), tables.grants);
        // Statement (document, index, span) → the operations it decides,
        // how the principal matched, and the contexts that bind them.
        let mut by_statement: BTreeMap<(String, usize), Reach> = BTreeMap::new();
        let mut any = false;
        for action in Action::all().filter(|a| a.info().resource == ResourceKind::Key) {
            let facts = Facts::default();
            let req = build_request(id, action, Some(&key), &facts, now);
            let e = eval::explain(&table, &req);
            if e.decision == DecisionKind::Allow {
                any = true;
                let key_stmt = e.decided_by.iter().find(|d| d.source == "key_policy");
                let iam: Vec<String> = e
                    .decided_by
                    .iter()
                    .filter(|d| d.source == "iam_policy")
                    .map(|d| d.origin.to_string())
                    .collect();
                let grant = e.decided_by.iter().find(|d| d.source == "grant");
                // Through a grant: the grant's own finding reports it.
                let (doc, index, span) = match (key_stmt, grant) {
                    (Some(d), None) => (d.origin.document.clone(), d.origin.index, d.origin.span),
                    _ => continue,
                };
                let via = e
                    .statements
                    .iter()
                    .find(|s| s.origin.document == doc && s.origin.index == index)
                    .and_then(|s| s.via);
                let r = by_statement.entry((doc, index)).or_insert_with(|| Reach {
                    span,
                    via,
                    iam: Vec::new(),
                    actions: Vec::new(),
                    bound: Vec::new(),
                    name: key_stmt.map(|d| d.origin.to_string()),
                    in_iam: false,
                });
                r.actions.push(action.to_string());
                for i in iam {
                    if !r.iam.contains(&i) {
                        r.iam.push(i);
                    }
                }
                continue;
            }
            // Refused only for want of an encryption context: try the
            // context an allow statement asks for; if that is allowed, the
            // principal's use is bound to it.
            let candidates: Vec<(String, String)> = e
                .statements
                .iter()
                .filter(|s| s.effect == crate::policy::ast::Effect::Allow)
                .filter_map(|s| match &s.failed {
                    Some(Mismatch::Condition {
                        key: ck, expected, ..
                    }) => ck
                        .strip_prefix("kms:EncryptionContext:")
                        .zip(expected.first())
                        .map(|(name, value)| (name.to_owned(), value.clone())),
                    _ => None,
                })
                .collect();
            for (name, value) in candidates {
                let facts = Facts {
                    context: Cow::Owned(BTreeMap::from([(name.clone(), value.clone())])),
                    ..Facts::default()
                };
                let again =
                    eval::explain(&table, &build_request(id, action, Some(&key), &facts, now));
                if again.decision != DecisionKind::Allow {
                    continue;
                }
                let Some(d) = again
                    .decided_by
                    .iter()
                    .find(|d| d.source == "iam_policy")
                    .or_else(|| again.decided_by.iter().find(|d| d.source == "key_policy"))
                else {
                    continue;
                };
                any = true;
                let in_iam = d.source == "iam_policy";
                let r = by_statement
                    .entry((d.origin.document.clone(), d.origin.index))
                    .or_insert_with(|| Reach {
                        // An IAM statement's span is in its own document,
                        // not in the key policy this report shows.
                        span: if in_iam {
                            Span::default()
                        } else {
                            d.origin.span
                        },
                        via: None,
                        iam: Vec::new(),
                        actions: Vec::new(),
                        bound: Vec::new(),
                        name: Some(d.origin.to_string()),
                        in_iam,
                    });
                r.bound.push(format!(
                    "{action} only with kms:EncryptionContext:{name} = {value:?}"
                ));
                break;
            }
        }
        if any {
            reports.push(key_report(&key, &principal, &by_statement, &mut plan));
        }
        if let Some(r) = grants_report(&store, &key, &principal, &mut plan)? {
            reports.push(r);
        }
    }
    Ok(BlastRadius { reports, plan })
}

/// How the principal reaches a key through one statement.
struct Reach {
    span: Span,
    via: Option<PrincipalMatch>,
    /// The IAM policy statements that completed an account delegation.
    iam: Vec<String>,
    actions: Vec<String>,
    /// Operations allowed only under an encryption context.
    bound: Vec<String>,
    name: Option<String>,
    /// The statement is in the principal's IAM policy, not the key policy.
    in_iam: bool,
}

fn key_report(
    key: &KeyRecord,
    principal: &str,
    reach: &BTreeMap<(String, usize), Reach>,
    plan: &mut Vec<String>,
) -> FileReport {
    let mut findings = Vec::new();
    let mut unwraps = false;
    for r in reach.values() {
        let mut message = String::new();
        if !r.actions.is_empty() {
            message.push_str(&format!(
                "{principal} can call {} on this key",
                r.actions.join(", ")
            ));
            unwraps |= r.actions.iter().any(|a| {
                UNWRAPPING
                    .iter()
                    .any(|u| a.trim_start_matches("kms:") == *u)
            });
        }
        if !r.bound.is_empty() {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&format!("bound by context: {}", r.bound.join("; ")));
            unwraps = true;
        }
        let statement = r.name.clone().unwrap_or_else(|| "a grant".into());
        let (how, fix) = match (r.via, r.iam.is_empty()) {
            _ if r.in_iam => (
                format!(
                    " (through its IAM policy statement {statement}, the key policy delegating to the account)"
                ),
                format!(
                    "remove or narrow IAM policy statement {statement} of {principal}, which reaches {}",
                    key.arn
                ),
            ),
            (Some(PrincipalMatch::Account), false) => (
                format!(
                    " (the key policy delegates to the account; IAM: {})",
                    r.iam.join(", ")
                ),
                format!(
                    "remove the IAM policy statement(s) {} that give {principal} KMS access, or deny it in {statement} of {}",
                    r.iam.join(", "),
                    key.arn
                ),
            ),
            _ => (
                String::new(),
                format!(
                    "remove {principal} from key policy statement {statement} of {} (PutKeyPolicy), or add a Deny for it",
                    key.arn
                ),
            ),
        };
        plan.push(fix.clone());
        findings.push(
            Finding::new(rule("KC004"), r.span, format!("{message}{how}"))
                .label("lets the principal in")
                .help(fix),
        );
    }
    if unwraps {
        plan.push(format!(
            "rotate {} (RotateKeyOnDemand): new data keys only — data keys {principal} already unwrapped stay exposed; re-encrypt the records they protect (keyward audit query --principal {principal} --key {} --operation Decrypt lists them)",
            key.arn, key.key_id
        ));
    }
    findings.sort_by_key(|f| f.span.start);
    FileReport {
        path: format!("{} (key policy)", key.arn),
        source: Source::new(format!("key policy of {}", key.key_id), key.policy.as_str()),
        findings,
    }
}

/// The grants on `key` whose grantee is `principal`, as a report over
/// their documents.
fn grants_report(
    store: &Store,
    key: &KeyRecord,
    principal: &str,
    plan: &mut Vec<String>,
) -> Result<Option<FileReport>, KmsError> {
    let held: Vec<Value> = store
        .grants(key)?
        .into_iter()
        .filter_map(|g| serde_json::from_str::<Value>(&g.document).ok())
        .filter(|d| d.get("GranteePrincipal").and_then(Value::as_str) == Some(principal))
        .collect();
    if held.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string_pretty(&held).unwrap_or_default();
    let mut findings = Vec::new();
    for g in &held {
        let id = g.get("GrantId").and_then(Value::as_str).unwrap_or("-");
        let ops: Vec<&str> = g
            .get("Operations")
            .and_then(Value::as_array)
            .map(|o| o.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let constraints = g
            .get("Constraints")
            .map(|c| format!(" under constraints {c}"))
            .unwrap_or_else(|| " with no constraint".into());
        let at = text
            .find(id)
            .map(|i| Span::new(i, i + id.len()))
            .unwrap_or_default();
        let fix = format!("revoke grant {id} on {} (RevokeGrant)", key.arn);
        plan.push(fix.clone());
        if ops.contains(&"CreateGrant") {
            plan.push(format!(
                "grant {id} lets {principal} create grants on {}: list the key's grants (ListGrants) for grants it made",
                key.arn
            ));
        }
        findings.push(
            Finding::new(
                rule("KC005"),
                at,
                format!(
                    "{principal} holds grant {id}: {}{constraints}",
                    ops.join(", ")
                ),
            )
            .label("held grant")
            .help(fix),
        );
    }
    Ok(Some(FileReport {
        path: format!("{} (grants)", key.arn),
        source: Source::new(format!("grants of {}", key.key_id), text),
        findings,
    }))
}
