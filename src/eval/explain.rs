//! Why a request was allowed or denied: the deciding statements and grants,
//! and for every statement that did not apply, the first element that failed.
//! `explain/render.rs` turns an explanation into text for people.

mod mermaid;
mod render;

use std::collections::BTreeMap;

use super::{
    ContextValue, DecisionKind, PrincipalMatch, Request, TypedValue, applies, beyond_account,
    condition_holds, decide, grant_constraints_hold, needs_iam, principal_match, resource_matches,
    single_holds, unresolved_in_condition, unresolved_in_resource,
};
use crate::catalog::ResourceKind;
use crate::compile::{
    CompiledCondition, CompiledGrant, CompiledPolicy, DecisionTable, Origin, PolicyKind, Row,
    describe_principal,
};
use crate::policy::ast::{BaseOperator, Effect, SetQualifier};

/// A decision with everything needed to understand it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    pub decision: DecisionKind,
    /// One sentence saying why.
    pub reason: String,
    pub request: RequestView,
    /// The statements and grants that decided the outcome.
    pub decided_by: Vec<Decider>,
    /// Every statement of the key policy and IAM policies, in order.
    pub statements: Vec<StatementTrace>,
    pub grants: GrantsTrace,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestView {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub key_account: Option<String>,
    pub same_account: bool,
    pub context: BTreeMap<String, ContextValue<'static>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Decider {
    /// `key_policy`, `iam_policy` or `grant`.
    pub source: &'static str,
    pub origin: Origin,
    pub effect: Effect,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StatementTrace {
    pub source: PolicyKind,
    pub origin: Origin,
    pub effect: Effect,
    pub applies: bool,
    /// How the principal matched, when the statement applies.
    pub via: Option<PrincipalMatch>,
    /// The first element that did not match, when it does not apply.
    pub failed: Option<Mismatch>,
    /// Whether the statement has a condition on the encryption context.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub on_context: bool,
}

/// The element of a statement that stopped it from applying.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "element", rename_all = "snake_case")]
pub enum Mismatch {
    /// The statement has no `Action`/`NotAction`.
    NoAction,
    /// The statement has no `Resource`/`NotResource`.
    NoResource,
    /// The action does not apply to a key, so the key policy is not consulted.
    NotKeyAction,
    Action {
        action: String,
        negated: bool,
        patterns: Vec<String>,
    },
    Principal {
        caller: String,
        expected: String,
    },
    Resource {
        resource: String,
        negated: bool,
        patterns: Vec<String>,
    },
    Condition {
        operator: String,
        key: String,
        expected: Vec<String>,
        actual: Option<ContextValue<'static>>,
        reason: String,
    },
    /// A policy variable the request cannot resolve: the statement is
    /// invalid for this request and does not apply (Allow or Deny).
    UnresolvedVariable {
        /// `Resource`, or the condition (operator and key).
        within: String,
        variable: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct GrantsTrace {
    /// All grants on the key.
    pub total: usize,
    /// The grants whose grantee is the caller.
    pub for_caller: Vec<GrantTrace>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct GrantTrace {
    pub origin: Origin,
    pub grant_id: String,
    pub operations: Vec<String>,
    pub allows: bool,
    pub failed: Option<String>,
}

/// Decides a request and explains the decision.
pub fn explain(table: &DecisionTable, req: &Request) -> Explanation {
    let decision = decide(table, req);
    let key_applies = req.action.info().resource == ResourceKind::Key;
    let mut statements = Vec::new();
    let mut policies: Vec<&CompiledPolicy> = vec![&table.key_policy];
    policies.extend(table.iam_policies.iter().map(|p| &**p));
    for policy in policies {
        for row in &policy.rows {
            statements.push(trace_row(policy.kind, row, req, key_applies));
        }
    }
    let grants = trace_grants(table, req, key_applies);
    let applied = |kind: PolicyKind, effect: Effect| {
        statements
            .iter()
            .filter(move |s| s.source == kind && s.effect == effect && s.applies)
    };
    let decider = |s: &StatementTrace| Decider {
        source: match s.source {
            PolicyKind::KeyPolicy => "key_policy",
            PolicyKind::IamPolicy => "iam_policy",
        },
        origin: s.origin.clone(),
        effect: s.effect,
    };
    let action = req.action.to_string();
    let key_allow = applied(PolicyKind::KeyPolicy, Effect::Allow)
        .max_by_key(|s| s.via)
        .cloned();
    let iam_allow = applied(PolicyKind::IamPolicy, Effect::Allow)
        .next()
        .cloned();
    let mut decided_by = Vec::new();
    let reason = match decision {
        DecisionKind::ExplicitDeny => {
            let denies: Vec<&StatementTrace> = statements
                .iter()
                .filter(|s| s.effect == Effect::Deny && s.applies)
                .collect();
            decided_by.extend(denies.iter().map(|s| decider(s)));
            match denies.first() {
                Some(d) => format!(
                    "explicitly denied by {} statement {}; an explicit deny overrides every allow",
                    d.source, d.origin
                ),
                None => "explicitly denied".to_owned(),
            }
        }
        DecisionKind::Allow => {
            let allowing = Allowing {
                key: key_allow
                    .as_ref()
                    .map(|k| (&k.origin, k.via.unwrap_or(PrincipalMatch::Direct))),
                iam: iam_allow.as_ref().map(|i| &i.origin),
                grant: grants
                    .for_caller
                    .iter()
                    .find(|g| g.allows)
                    .map(|g| (&g.origin, g.grant_id.as_str())),
            };
            allow_reason(req, key_applies, &allowing, &mut decided_by)
        }
        DecisionKind::ImplicitDeny => {
            implicit_deny_reason(req, key_applies, key_allow.as_ref(), &action)
        }
    };
    Explanation {
        decision,
        reason,
        request: RequestView {
            principal: req.caller.arn.clone(),
            action,
            resource: req.resource.to_string(),
            key_account: req.key_account.as_ref().map(|a| a.0.clone()),
            same_account: req.same_account(),
            context: req.context().into_iter().collect(),
        },
        decided_by,
        statements,
        grants,
    }
}

/// What allowed a request: the key-policy statement (and how its principal
/// matched), the IAM statement, the grant.
struct Allowing<'a> {
    key: Option<(&'a Origin, PrincipalMatch)>,
    iam: Option<&'a Origin>,
    grant: Option<(&'a Origin, &'a str)>,
}

fn decider(source: &'static str, origin: &Origin) -> Decider {
    Decider {
        source,
        origin: origin.clone(),
        effect: Effect::Allow,
    }
}

fn allow_reason(
    req: &Request,
    key_applies: bool,
    a: &Allowing<'_>,
    decided_by: &mut Vec<Decider>,
) -> String {
    if !key_applies {
        if req.caller.is_root() {
            return "allowed: the account root needs no IAM policy, and this action has no key policy".into();
        }
        if let Some(i) = a.iam {
            decided_by.push(decider("iam_policy", i));
            return format!(
                "allowed by IAM policy statement {i}; {} is not authorized on a key, so no key policy applies",
                req.action
            );
        }
    }
    if let Some((k, via)) = a.key {
        if !needs_iam(via, req) {
            decided_by.push(decider("key_policy", k));
            return format!("allowed by key policy statement {k}");
        }
        if let Some(i) = a.iam {
            decided_by.push(decider("key_policy", k));
            decided_by.push(decider("iam_policy", i));
            let why = if via == PrincipalMatch::Account {
                "which allows the caller's account and so delegates to IAM"
            } else {
                "and, as the caller is in another account, its own IAM policy"
            };
            return format!("allowed by key policy statement {k}, {why}: IAM policy statement {i}");
        }
    }
    if let Some((origin, id)) = a.grant {
        decided_by.push(decider("grant", origin));
        return format!("allowed by grant {id}");
    }
    "allowed".into()
}

/// The explanation of an allowed request without tracing the statements
/// that did not apply: what the service records for every allowed call.
/// Denials get the full [`explain`].
pub fn explain_allow(table: &DecisionTable, req: &Request) -> Explanation {
    let key_applies = req.action.info().resource == ResourceKind::Key;
    let key = if key_applies {
        let mut best: Option<(&Origin, PrincipalMatch)> = None;
        for row in table.key_policy.allow_rows(req.action) {
            match applies(row, req) {
                Some(PrincipalMatch::Direct) => {
                    best = Some((&row.origin, PrincipalMatch::Direct));
                    break;
                }
                Some(m) if best.is_none() => best = Some((&row.origin, m)),
                _ => {}
            }
        }
        best
    } else {
        None
    };
    let iam = table
        .iam_policies
        .iter()
        .flat_map(|p| p.allow_rows(req.action))
        .find(|r| applies(r, req).is_some())
        .map(|r| &r.origin);
    let grant = req
        .caller
        .arns()
        .flat_map(|arn| table.grants.for_grantee(arn))
        .find(|g| super::grant_allows(g, req))
        .map(|g| (&g.origin, g.grant_id.as_str()));
    let mut decided_by = Vec::new();
    let reason = allow_reason(
        req,
        key_applies,
        &Allowing { key, iam, grant },
        &mut decided_by,
    );
    Explanation {
        decision: DecisionKind::Allow,
        reason,
        request: RequestView {
            principal: req.caller.arn.clone(),
            action: req.action.to_string(),
            resource: req.resource.to_string(),
            key_account: req.key_account.as_ref().map(|a| a.0.clone()),
            same_account: req.same_account(),
            context: BTreeMap::new(),
        },
        decided_by,
        statements: Vec::new(),
        grants: GrantsTrace {
            total: table.grants.len(),
            for_caller: Vec::new(),
        },
    }
}

fn implicit_deny_reason(
    req: &Request,
    key_applies: bool,
    key_allow: Option<&StatementTrace>,
    action: &str,
) -> String {
    if !key_applies {
        return format!(
            "no IAM policy of the caller allows {action}, which is not authorized on a key, so only IAM policies can allow it"
        );
    }
    if beyond_account(req) {
        return format!(
            "{action} is not available across accounts: the caller is in account {}, the key in account {}, and AWS KMS lets another account use only cryptographic operations, CreateGrant, DescribeKey, GetKeyRotationStatus, GetPublicKey, ListGrants, RetireGrant and RevokeGrant — permissions for anything else \"have no effect\"",
            req.caller.account.as_ref().map_or("-", |a| a.0.as_str()),
            req.key_account.as_ref().map_or("-", |a| a.0.as_str()),
        );
    }
    match key_allow {
        Some(k) if k.via == Some(PrincipalMatch::Account) => format!(
            "the key policy allows the caller's account (statement {}), which delegates to IAM, but no IAM policy of the caller allows {action}",
            k.origin
        ),
        Some(k) => format!(
            "the key policy allows this caller (statement {}), but the caller is in account {}, not the key's account {}, and no IAM policy of the caller allows {action}",
            k.origin,
            req.caller.account.as_ref().map_or("-", |a| a.0.as_str()),
            req.key_account.as_ref().map_or("-", |a| a.0.as_str()),
        ),
        None => format!(
            "no key policy statement, grant, or IAM policy that the key policy delegates to allows {action}; AWS KMS never allows implicitly"
        ),
    }
}

fn trace_row(kind: PolicyKind, row: &Row, req: &Request, key_applies: bool) -> StatementTrace {
    let via = if kind == PolicyKind::KeyPolicy && !key_applies {
        None
    } else {
        applies(row, req)
    };
    let failed = match via {
        Some(_) => None,
        None if kind == PolicyKind::KeyPolicy && !key_applies => Some(Mismatch::NotKeyAction),
        None => first_mismatch(row, req),
    };
    StatementTrace {
        source: kind,
        origin: row.origin.clone(),
        effect: row.effect,
        applies: via.is_some(),
        via,
        failed,
        on_context: row.conditions.iter().any(|c| {
            c.key
                .get(..21)
                .is_some_and(|p| p.eq_ignore_ascii_case("kms:EncryptionContext"))
        }),
    }
}

/// The first element of a row that does not match, in the order AWS
/// documents a statement: action, principal, resource, conditions.
fn first_mismatch(row: &Row, req: &Request) -> Option<Mismatch> {
    let Some(action) = &row.action else {
        return Some(Mismatch::NoAction);
    };
    if !action.covers.contains(req.action) {
        return Some(Mismatch::Action {
            action: req.action.to_string(),
            negated: action.negated,
            patterns: action.patterns.clone(),
        });
    }
    if principal_match(&row.principal, req).is_none() {
        return Some(Mismatch::Principal {
            caller: req.caller.arn.clone(),
            expected: describe_principal(&row.principal),
        });
    }
    let Some(resource) = &row.resource else {
        return Some(Mismatch::NoResource);
    };
    if let Some(v) = unresolved_in_resource(resource, req) {
        let element = if resource.negated {
            "NotResource"
        } else {
            "Resource"
        };
        return Some(Mismatch::UnresolvedVariable {
            within: element.into(),
            variable: v.to_owned(),
        });
    }
    if let Some((c, v)) = row
        .conditions
        .iter()
        .find_map(|c| unresolved_in_condition(c, req).map(|v| (c, v)))
    {
        return Some(Mismatch::UnresolvedVariable {
            within: format!("condition {} {}", c.operator, c.key),
            variable: v.to_owned(),
        });
    }
    if !resource_matches(resource, req) {
        return Some(Mismatch::Resource {
            resource: req.resource.to_string(),
            negated: resource.negated,
            patterns: resource.patterns.iter().map(|(p, _)| p.clone()).collect(),
        });
    }
    row.conditions
        .iter()
        .find(|c| !condition_holds(c, req))
        .map(|c| Mismatch::Condition {
            operator: c.operator.to_string(),
            key: c.key.clone(),
            expected: c.values_text.clone(),
            actual: req.get_key(&c.lookup).map(|v| v.to_owned()),
            reason: condition_failure(c, req),
        })
}

/// Says why a condition that does not hold fails.
fn condition_failure(c: &CompiledCondition, req: &Request) -> String {
    let op = c.operator;
    let key = &c.key;
    let values: Vec<&str> = req
        .get_key(&c.lookup)
        .map_or_else(Vec::new, |v| v.iter().collect());
    let values = values.as_slice();
    if op.base == BaseOperator::Null {
        return if values.is_empty() {
            format!("`{key}` is absent, and `Null` asks for it to be present")
        } else {
            format!("`{key}` is present, and `Null` asks for it to be absent")
        };
    }
    match (op.qualifier, values) {
        (None, []) | (Some(SetQualifier::ForAnyValue), []) => {
            format!("the request has no `{key}`")
        }
        (None, [_, _, ..]) => format!(
            "`{key}` has {} values; an operator without `ForAnyValue:`/`ForAllValues:` never matches more than one",
            values.len()
        ),
        (Some(SetQualifier::ForAnyValue), _) => {
            format!("no value of `{key}` satisfies `{op}`")
        }
        _ => {
            let bad = values
                .iter()
                .find(|v| !single_holds(c, v, req))
                .map_or("", |v| v);
            if TypedValue::parse(op.base, bad).is_none() {
                return format!("`{bad}` is not a valid value for `{op}`");
            }
            if op.base.is_negated() {
                format!("`{bad}` matches a value `{op}` excludes")
            } else {
                format!("`{bad}` matches none of the expected values")
            }
        }
    }
}

fn trace_grants(table: &DecisionTable, req: &Request, key_applies: bool) -> GrantsTrace {
    let mut for_caller: Vec<GrantTrace> = Vec::new();
    for arn in req.caller.arns() {
        for g in table.grants.for_grantee(arn) {
            for_caller.push(trace_grant(g, req, key_applies));
        }
    }
    GrantsTrace {
        total: table.grants.len(),
        for_caller,
    }
}

fn trace_grant(g: &CompiledGrant, req: &Request, key_applies: bool) -> GrantTrace {
    let failed = if !key_applies {
        Some(format!("{} is not authorized on a key", req.action))
    } else if !g.operations.contains(req.action) {
        Some(format!("the grant does not allow {}", req.action.name()))
    } else if !grant_constraints_hold(g, req) {
        Some(constraint_failure(g, req))
    } else {
        None
    };
    GrantTrace {
        origin: g.origin.clone(),
        grant_id: g.grant_id.clone(),
        operations: g.operations.iter().map(|a| a.name().to_owned()).collect(),
        allows: failed.is_none(),
        failed,
    }
}

fn constraint_failure(g: &CompiledGrant, req: &Request) -> String {
    let show = |m: &BTreeMap<String, String>| {
        let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{{{}}}", pairs.join(", "))
    };
    let actual = show(&req.encryption_context);
    let Some(c) = &g.constraints else {
        return "constraints not met".into();
    };
    match (&c.encryption_context_equals, &c.encryption_context_subset) {
        (Some(want), _) if *want != *req.encryption_context => format!(
            "the grant requires encryption context exactly {}; the request has {actual}",
            show(want)
        ),
        (_, Some(want)) => format!(
            "the grant requires encryption context including {}; the request has {actual}",
            show(want)
        ),
        _ => "constraints not met".into(),
    }
}
