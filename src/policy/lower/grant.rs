//! Grants: a `CreateGrant` request or `ListGrants` entry, an array of
//! them, or a `ListGrants` response, lowered to [`Grant`]s.

use std::collections::BTreeMap;

use super::super::ast::*;
use super::super::cst::Json;
use super::super::{Node, ParseError};
use super::{Errors, duplicates, object, string, strings, unknown, wrong_type};
use crate::catalog;

pub(super) fn grants_parts(tree: &Node<Json>) -> (Vec<Node<Grant>>, Errors) {
    let mut errs = Vec::new();
    let mut out = Vec::new();
    match &tree.node {
        Json::Array(items) => {
            for item in items {
                out.extend(lower_grant(item, &mut errs));
            }
        }
        Json::Object(members) if members.iter().any(|m| m.key.node == "Grants") => {
            for m in members {
                match m.key.node.as_str() {
                    "Grants" => match &m.value.node {
                        Json::Array(items) => {
                            for item in items {
                                out.extend(lower_grant(item, &mut errs));
                            }
                        }
                        other => errs.push(wrong_type("Grants", "an array", other, m.value.loc)),
                    },
                    "NextMarker" | "Truncated" => {}
                    _ => errs.push(unknown(&m.key, "grant list", &["Grants"])),
                }
            }
            duplicates(members, &mut errs);
        }
        _ => out.extend(lower_grant(tree, &mut errs)),
    }
    (out, errs)
}

const GRANT_ELEMENTS: &[&str] = &[
    "KeyId",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "Name",
    "GrantTokens",
    "DryRun",
    "GrantId",
    "IssuingAccount",
    "CreationDate",
];

fn lower_grant(v: &Node<Json>, errs: &mut Errors) -> Option<Node<Grant>> {
    let members = object(v, "grant", errs)?;
    let seen = |name: &str| members.iter().any(|m| m.key.node == name);
    let mut grant_id = None;
    let mut name = None;
    let mut key_id = None;
    let mut grantee = None;
    let mut retiring = None;
    let mut operations = None;
    let mut constraints = None;
    for m in members {
        match m.key.node.as_str() {
            "KeyId" => key_id = string(&m.value, "KeyId", errs),
            "GranteePrincipal" => grantee = string(&m.value, "GranteePrincipal", errs),
            "RetiringPrincipal" => retiring = string(&m.value, "RetiringPrincipal", errs),
            "Name" => name = string(&m.value, "Name", errs),
            "GrantId" => grant_id = string(&m.value, "GrantId", errs),
            "IssuingAccount" | "CreationDate" => {}
            "GrantTokens" => {
                strings(&m.value, "GrantTokens", errs);
            }
            "DryRun" => {
                if !matches!(m.value.node, Json::Bool(_)) {
                    errs.push(wrong_type(
                        "DryRun",
                        "a boolean",
                        &m.value.node,
                        m.value.loc,
                    ));
                }
            }
            "Operations" => operations = Some(grant_operations(&m.value, errs)),
            "Constraints" => constraints = grant_constraints(&m.value, errs),
            _ => errs.push(unknown(&m.key, "grant", GRANT_ELEMENTS)),
        }
    }
    for name in ["GranteePrincipal", "Operations"] {
        if !seen(name) {
            errs.push(ParseError::MissingElement {
                name,
                context: "grant",
                span: v.loc.into(),
            });
        }
    }
    Some(Node::new(
        Grant {
            grant_id,
            name,
            key_id,
            grantee_principal: grantee?,
            retiring_principal: retiring,
            operations: operations?,
            constraints,
        },
        v.loc,
    ))
}

fn grant_operations(v: &Node<Json>, errs: &mut Errors) -> Vec<Node<String>> {
    let ops = match &v.node {
        Json::Array(_) => strings(v, "Operations", errs),
        other => {
            errs.push(wrong_type(
                "Operations",
                "an array of strings",
                other,
                v.loc,
            ));
            return Vec::new();
        }
    };
    let grantable = || {
        catalog::ACTIONS
            .iter()
            .filter(|a| a.grantable)
            .map(|a| a.name)
    };
    for op in &ops {
        // Operation names are an API enum: exact case.
        if !grantable().any(|g| g == op.node) {
            errs.push(ParseError::BadGrantOperation {
                name: op.node.clone(),
                span: op.loc.into(),
                help: catalog::closest(&op.node, grantable())
                    .map(|c| format!("did you mean `{c}`?"))
                    .or_else(|| {
                        Some(format!(
                            "a grant can allow: {}",
                            grantable().collect::<Vec<_>>().join(", ")
                        ))
                    }),
            });
        }
    }
    ops
}

/// KMS allows at most this many pairs in one grant constraint.
const MAX_CONSTRAINT_PAIRS: usize = 8;

fn grant_constraints(v: &Node<Json>, errs: &mut Errors) -> Option<Node<GrantConstraints>> {
    let members = object(v, "Constraints", errs)?;
    let mut c = GrantConstraints::default();
    for m in members {
        let slot = match m.key.node.as_str() {
            "EncryptionContextEquals" => &mut c.encryption_context_equals,
            "EncryptionContextSubset" => &mut c.encryption_context_subset,
            _ => {
                errs.push(unknown(
                    &m.key,
                    "grant constraint",
                    &["EncryptionContextEquals", "EncryptionContextSubset"],
                ));
                continue;
            }
        };
        let Some(pairs) = object(&m.value, &m.key.node, errs) else {
            continue;
        };
        if pairs.len() > MAX_CONSTRAINT_PAIRS {
            errs.push(ParseError::BadGrantConstraint {
                reason: format!(
                    "{} pairs; a constraint holds at most {MAX_CONSTRAINT_PAIRS}",
                    pairs.len()
                ),
                span: m.value.loc.into(),
            });
        }
        let mut map = BTreeMap::new();
        for p in pairs {
            if let Some(value) = string(&p.value, &p.key.node, errs) {
                map.insert(p.key.node.clone(), value.node);
            }
        }
        *slot = Some(map);
    }
    Some(Node::new(c, v.loc))
}
