//! Deciding requests against a [`DecisionTable`], with AWS KMS semantics.
//!
//! 1. An explicit `Deny` that applies, in the key policy or an IAM policy of
//!    the caller, wins. Grants never deny.
//! 2. Otherwise the request is allowed if a key-policy `Allow` names the
//!    caller (same account), or names the caller's account — or the caller
//!    from another account — and an IAM policy of the caller allows too; or a
//!    grant to the caller covers the operation and its constraints hold.
//! 3. Otherwise it is implicitly denied.
//!
//! Every element check is one predicate ([`principal_match`],
//! [`resource_matches`], [`condition_holds`]); [`decide`] combines them on
//! the fast path and [`explain()`] reuses them to say which element of each
//! statement failed.

mod caller;
pub mod explain;
mod grants;
mod request;
mod value;

use std::net::IpAddr;

pub use caller::{BadCaller, Caller, CallerKind};
pub use explain::{Explanation, explain};
pub use grants::{
    constraints_at_least_as_strict, context_satisfies, grant_allows, grant_constraints_hold,
};
pub use request::{Request, RequestBuilder, RequestParts};
pub use value::{ContextValue, Text, Values, ValuesIter};

use grants::grant_allowing;

use crate::catalog::{ContextKey, ResourceKind};
use crate::compile::matcher::{ArnPattern, Part, Pattern, Template, ValueMatcher};
use crate::compile::{
    CompiledCondition, CompiledPolicy, DecisionTable, NamedPrincipal, PrincipalMatcher,
    ResourceMatcher, Row,
};
use crate::policy::ast::{BaseOperator, PrincipalId, SetQualifier};

/// The outcome of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DecisionKind {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl DecisionKind {
    pub fn is_allow(self) -> bool {
        self == DecisionKind::Allow
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecisionKind::Allow => "Allow",
            DecisionKind::ExplicitDeny => "ExplicitDeny",
            DecisionKind::ImplicitDeny => "ImplicitDeny",
        })
    }
}

/// How a statement's principal element matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalMatch {
    /// Through the caller's account principal: in a key policy this
    /// delegates to the caller's IAM policies.
    Account,
    /// The caller by name, `"*"`, or an IAM policy attached to the caller.
    Direct,
}

/// Proof that the evaluator allowed one action on one key for one caller.
/// Only [`authorize`] constructs it, and only a permit opens key material
/// (see `crypto::KeyMaterial::open`), so code that has not been authorized
/// cannot unwrap.
#[derive(Debug)]
pub struct Permit {
    key_id: String,
    action: crate::catalog::Action,
    caller: String,
}

impl Permit {
    /// Whether this permit is for the key with this id.
    pub fn covers_key(&self, key_id: &str) -> bool {
        self.key_id == key_id
    }

    pub fn action(&self) -> crate::catalog::Action {
        self.action
    }

    pub fn caller(&self) -> &str {
        &self.caller
    }
}

/// Decides a request and, when it is allowed, issues the [`Permit`]. The
/// explanation comes back either way, for the audit record.
pub fn authorize(
    table: &DecisionTable,
    req: &Request,
) -> Result<(Permit, Explanation), Box<Explanation>> {
    if !decide(table, req).is_allow() {
        return Err(Box::new(explain(table, req)));
    }
    let explanation = explain::explain_allow(table, req);
    let key_id = req
        .resource
        .rsplit_once(":key/")
        .map_or(req.resource.as_str(), |(_, id)| id)
        .to_owned();
    Ok((
        Permit {
            key_id,
            action: req.action,
            caller: req.caller.arn.clone(),
        },
        explanation,
    ))
}

/// Decides a request. The fast path: no allocation, no explanation.
pub fn decide(table: &DecisionTable, req: &Request) -> DecisionKind {
    let action = req.action;
    let key_applies = action.info().resource == ResourceKind::Key;
    if key_applies
        && table
            .key_policy
            .deny_rows(action)
            .any(|r| applies(r, req).is_some())
    {
        return DecisionKind::ExplicitDeny;
    }
    if table
        .iam_policies
        .iter()
        .any(|p| p.deny_rows(action).any(|r| applies(r, req).is_some()))
    {
        return DecisionKind::ExplicitDeny;
    }
    if key_applies && beyond_account(req) {
        return DecisionKind::ImplicitDeny;
    }
    let key_allow = if key_applies {
        strongest_allow(&table.key_policy, req)
    } else {
        // No key resource (CreateKey, ListKeys, ...): IAM alone decides.
        Some(PrincipalMatch::Account)
    };
    if key_allow.is_some_and(|m| !needs_iam(m, req) || iam_allows(table, req)) {
        return DecisionKind::Allow;
    }
    if key_applies && grant_allowing(table, req).is_some() {
        return DecisionKind::Allow;
    }
    DecisionKind::ImplicitDeny
}

/// Whether the caller is of another account than the key's and the action
/// is one AWS KMS does not offer across accounts: then no policy or grant
/// can allow it (KMS Developer Guide: such permissions "have no effect").
pub fn beyond_account(req: &Request) -> bool {
    req.caller.account.is_some() && !req.same_account() && !req.action.info().cross_account()
}

/// The strongest principal match among the key-policy `Allow` rows that
/// apply.
fn strongest_allow(policy: &CompiledPolicy, req: &Request) -> Option<PrincipalMatch> {
    let mut best = None;
    for row in policy.allow_rows(req.action) {
        match applies(row, req) {
            Some(PrincipalMatch::Direct) => return Some(PrincipalMatch::Direct),
            Some(m) => best = Some(m),
            None => {}
        }
    }
    best
}

/// Whether a key-policy allow of this strength also needs the caller's IAM
/// policies to allow. An account root needs no IAM policy; a caller from
/// another account always needs its own account's IAM allow.
fn needs_iam(m: PrincipalMatch, req: &Request) -> bool {
    if req.caller.is_root() || req.caller.is_service() {
        return false;
    }
    m == PrincipalMatch::Account || !req.same_account()
}

fn iam_allows(table: &DecisionTable, req: &Request) -> bool {
    table
        .iam_policies
        .iter()
        .any(|p| p.allow_rows(req.action).any(|r| applies(r, req).is_some()))
}

/// Whether a row applies to the request, and how its principal matched.
pub fn applies(row: &Row, req: &Request) -> Option<PrincipalMatch> {
    let action = row.action.as_ref()?;
    if !action.covers.contains(req.action) {
        return None;
    }
    let m = principal_match(&row.principal, req)?;
    if !resource_matches(row.resource.as_ref()?, req) {
        return None;
    }
    row.conditions
        .iter()
        .all(|c| condition_holds(c, req))
        .then_some(m)
}

/// Matches a principal element against the caller's identities: its own
/// ARN, its role (for a session), and its account.
pub fn principal_match(p: &PrincipalMatcher, req: &Request) -> Option<PrincipalMatch> {
    let caller = &req.caller;
    match p {
        PrincipalMatcher::Attached => Some(PrincipalMatch::Direct),
        PrincipalMatcher::Named {
            negated: false,
            any,
            ids,
        } => {
            if *any || ids.iter().any(|id| names_caller_arn(id, caller)) {
                Some(PrincipalMatch::Direct)
            } else if ids.iter().any(|id| names_caller_account(id, caller)) {
                if caller.is_root() {
                    Some(PrincipalMatch::Direct)
                } else {
                    Some(PrincipalMatch::Account)
                }
            } else {
                None
            }
        }
        // NotPrincipal: the statement applies unless every identity of the
        // caller is excluded, so excluding a user but not its account still
        // leaves the statement applying (as AWS documents).
        PrincipalMatcher::Named {
            negated: true,
            any,
            ids,
        } => {
            if *any {
                return None;
            }
            let arn_excluded = ids.iter().any(|id| names_caller_arn(id, caller));
            let account_excluded =
                caller.account.is_none() || ids.iter().any(|id| names_caller_account(id, caller));
            let all_excluded = if caller.is_root() {
                account_excluded
            } else {
                arn_excluded && account_excluded
            };
            (!all_excluded).then_some(PrincipalMatch::Direct)
        }
    }
}

fn names_caller_arn(p: &NamedPrincipal, caller: &Caller) -> bool {
    match (&p.id, &caller.kind) {
        (PrincipalId::Arn(arn), _) => {
            *arn == caller.arn || (p.role.is_some() && p.role == caller.role)
        }
        (PrincipalId::Service(s), CallerKind::Service(name)) => s == "*" || s == name,
        (PrincipalId::Federated(f), CallerKind::FederatedUser { .. }) => *f == caller.arn,
        _ => false,
    }
}

fn names_caller_account(p: &NamedPrincipal, caller: &Caller) -> bool {
    matches!((&p.id, &caller.account), (PrincipalId::Account(a), Some(b)) if a == b)
}

pub fn resource_matches(r: &ResourceMatcher, req: &Request) -> bool {
    if unresolved_in_resource(r, req).is_some() {
        return false;
    }
    let any = r
        .patterns
        .iter()
        .any(|(_, p)| arn_matches(p, &req.resource, req));
    any != r.negated
}

/// Evaluates one (operator, key) condition.
pub fn condition_holds(c: &CompiledCondition, req: &Request) -> bool {
    let op = c.operator;
    let value = req.get_key(&c.lookup);
    let len = value.map_or(0, |v| v.len());
    if len > 0 && op.base != BaseOperator::Null && unresolved_in_values(c, req).is_some() {
        return false;
    }
    if op.base == BaseOperator::Null {
        let present = len > 0;
        return c
            .values
            .iter()
            .any(|m| matches!(m, ValueMatcher::Null(absent) if *absent != present));
    }
    let values = || value.into_iter().flat_map(|v| v.iter());
    match op.qualifier {
        None => match value.and_then(|v| v.only()) {
            Some(one) => single_holds(c, one, req),
            None if len == 0 => op.if_exists || op.base.is_negated(),
            // A single-valued operator never matches a multi-element value.
            None => false,
        },
        Some(SetQualifier::ForAnyValue) => {
            if len == 0 {
                op.if_exists
            } else {
                values().any(|v| single_holds(c, v, req))
            }
        }
        Some(SetQualifier::ForAllValues) => values().all(|v| single_holds(c, v, req)),
    }
}

/// Whether one request value satisfies the operator against the policy's
/// values: any match (OR), or for a negated operator no match (NOR). A
/// request value that is not of the operator's type satisfies nothing.
pub fn single_holds(c: &CompiledCondition, v: &str, req: &Request) -> bool {
    let typed = TypedValue::parse(c.operator.base, v);
    let Some(typed) = typed else { return false };
    let any = c
        .values
        .iter()
        .any(|m| value_matches(c.operator.base, m, v, &typed, req));
    any != c.operator.base.is_negated()
}

/// A request value parsed for its operator's family.
enum TypedValue {
    Text,
    Number(f64),
    Date(i128),
    Ip(IpAddr),
}

impl TypedValue {
    fn parse(op: BaseOperator, v: &str) -> Option<TypedValue> {
        use crate::compile::matcher::{parse_date, parse_number};
        use crate::policy::ast::OperatorFamily as F;
        Some(match op.family() {
            F::Numeric => TypedValue::Number(parse_number(v)?),
            F::Date => TypedValue::Date(parse_date(v)?),
            F::Ip => TypedValue::Ip(v.trim().parse().ok()?),
            _ => TypedValue::Text,
        })
    }
}

/// The positive form of the operator: does `v` match this one policy value?
fn value_matches(
    op: BaseOperator,
    m: &ValueMatcher,
    v: &str,
    typed: &TypedValue,
    req: &Request,
) -> bool {
    use BaseOperator::*;
    match (m, typed) {
        (ValueMatcher::Text(t), _) => resolve(t, req).is_some_and(|s| s == v),
        (ValueMatcher::TextIgnoreCase(t), _) => {
            resolve(t, req).is_some_and(|s| s.to_lowercase() == v.to_lowercase())
        }
        (ValueMatcher::Bool(t), _) => resolve(t, req).is_some_and(|s| s.eq_ignore_ascii_case(v)),
        (ValueMatcher::Binary(b), _) => b == v,
        (ValueMatcher::Like(p), _) => pattern_matches(p, v, req),
        (ValueMatcher::Arn(p), _) => arn_matches(p, v, req),
        (ValueMatcher::Number(p), TypedValue::Number(n)) => match op {
            NumericLessThan => n < p,
            NumericLessThanEquals => n <= p,
            NumericGreaterThan => n > p,
            NumericGreaterThanEquals => n >= p,
            _ => n == p,
        },
        (ValueMatcher::Date(p), TypedValue::Date(d)) => match op {
            DateLessThan => d < p,
            DateLessThanEquals => d <= p,
            DateGreaterThan => d > p,
            DateGreaterThanEquals => d >= p,
            _ => d == p,
        },
        (ValueMatcher::Cidr(net), TypedValue::Ip(ip)) => net.contains(ip),
        _ => false,
    }
}

/// The first policy variable in a resource pattern that the request cannot
/// resolve (its key is absent and it has no default), by name. The IAM User
/// Guide (policy variables): for a value that is not present, "any attempt
/// to match it fails and causes the statement to be invalid" — so the
/// statement does not apply, for `NotResource` too.
pub fn unresolved_in_resource<'r>(r: &'r ResourceMatcher, req: &Request) -> Option<&'r str> {
    r.patterns
        .iter()
        .find_map(|(_, p)| unresolved_in_arn(p, req))
}

/// The first policy variable in a condition's values that the request
/// cannot resolve, when the condition compares values at all (its key is in
/// the request). Such a comparison fails and the statement is invalid
/// whatever the operator, negated ones included, so neither an Allow nor a
/// Deny applies. When the key is absent nothing is compared: the
/// missing-key rules decide (`...IfExists` and negated operators hold).
pub fn unresolved_in_condition<'c>(c: &'c CompiledCondition, req: &Request) -> Option<&'c str> {
    if c.operator.base == BaseOperator::Null || req.get_key(&c.lookup).is_none_or(|v| v.is_empty())
    {
        return None;
    }
    unresolved_in_values(c, req)
}

/// The first policy variable in a condition's values that the request
/// cannot resolve, whether or not the condition's key is present.
fn unresolved_in_values<'c>(c: &'c CompiledCondition, req: &Request) -> Option<&'c str> {
    c.values.iter().find_map(|m| match m {
        ValueMatcher::Text(t) | ValueMatcher::TextIgnoreCase(t) | ValueMatcher::Bool(t) => {
            match t {
                Template::Literal(_) => None,
                Template::Dynamic(parts) => unresolved_part(parts, req),
            }
        }
        ValueMatcher::Like(p) => unresolved_in_pattern(p, req),
        ValueMatcher::Arn(p) => unresolved_in_arn(p, req),
        _ => None,
    })
}

fn unresolved_in_arn<'p>(p: &'p ArnPattern, req: &Request) -> Option<&'p str> {
    match p {
        ArnPattern::Any => None,
        ArnPattern::Segments(segments) => {
            segments.iter().find_map(|s| unresolved_in_pattern(s, req))
        }
    }
}

fn unresolved_in_pattern<'p>(p: &'p Pattern, req: &Request) -> Option<&'p str> {
    match p {
        Pattern::Dynamic(parts) => unresolved_part(parts, req),
        _ => None,
    }
}

fn unresolved_part<'p>(parts: &'p [Part], req: &Request) -> Option<&'p str> {
    parts.iter().find_map(|p| match p {
        Part::Var { key, default, name } if variable(key, default, req).is_none() => {
            Some(name.as_str())
        }
        _ => None,
    })
}

/// Substitutes policy variables; `None` if one is unresolved (null). A
/// statement whose values hold an unresolved variable does not apply at
/// all (see [`unresolved_in_condition`]); this is only reached for
/// resolved ones.
fn resolve<'a>(t: &'a Template, req: &Request) -> Option<std::borrow::Cow<'a, str>> {
    match t {
        Template::Literal(s) => Some(std::borrow::Cow::Borrowed(s)),
        Template::Dynamic(parts) => {
            let mut out = String::new();
            for p in parts {
                match p {
                    Part::Lit(s) => out.push_str(s),
                    Part::Var { key, default, .. } => out.push_str(variable(key, default, req)?),
                    Part::Star => out.push('*'),
                    Part::Question => out.push('?'),
                }
            }
            Some(std::borrow::Cow::Owned(out))
        }
    }
}

fn variable<'a>(
    key: &ContextKey,
    default: &'a Option<String>,
    req: &'a Request<'_>,
) -> Option<&'a str> {
    match req.get_key(key).and_then(|v| v.only()) {
        Some(one) => Some(one),
        None => default.as_deref(),
    }
}

fn pattern_matches(p: &Pattern, v: &str, req: &Request) -> bool {
    match p {
        Pattern::Any => true,
        Pattern::Exact(s) => s == v,
        Pattern::Prefix(s) => v.starts_with(s.as_str()),
        Pattern::Glob(g) => g.is_match(v),
        Pattern::Dynamic(parts) => {
            let mut resolved = Vec::with_capacity(parts.len());
            for p in parts {
                match p {
                    Part::Var { key, default, .. } => match variable(key, default, req) {
                        Some(s) => resolved.push(Part::Lit(s.to_owned())),
                        None => return false,
                    },
                    other => resolved.push(other.clone()),
                }
            }
            Pattern::from_parts(resolved, false).is_ok_and(|p| pattern_matches(&p, v, req))
        }
    }
}

fn arn_matches(p: &ArnPattern, v: &str, req: &Request) -> bool {
    match p {
        ArnPattern::Any => true,
        ArnPattern::Segments(segments) => {
            // The value's first five `:`-separated segments, then the rest
            // (as `splitn(6, ':')`, scanning bytes: `:` is ASCII).
            let mut rest = Some(v);
            let mut next = |last: bool| {
                let r = rest?;
                match r.bytes().position(|b| b == b':').filter(|_| !last) {
                    Some(i) => {
                        rest = r.get(i + 1..);
                        r.get(..i)
                    }
                    None => rest.take(),
                }
            };
            let mut n = 0;
            for seg in segments {
                let Some(part) = next(n == 5) else {
                    return false;
                };
                if !pattern_matches(seg, part, req) {
                    return false;
                }
                n += 1;
            }
            n == segments.len() && next(n == 5).is_none()
        }
    }
}
