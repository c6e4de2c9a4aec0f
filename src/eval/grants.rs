//! Grants: whether a grant to the caller allows a request, and how grant
//! constraints on the encryption context compare.

use std::collections::BTreeMap;

use super::Request;
use crate::compile::{CompiledGrant, DecisionTable};
use crate::policy::ast::GrantConstraints;

/// A grant to the caller that allows the request.
pub(super) fn grant_allowing<'a>(
    table: &'a DecisionTable,
    req: &Request,
) -> Option<&'a CompiledGrant> {
    req.caller
        .arns()
        .flat_map(|arn| table.grants.for_grantee(arn))
        .find(|g| grant_allows(g, req))
}

/// Whether one grant (already known to name the caller) allows the request.
pub fn grant_allows(g: &CompiledGrant, req: &Request) -> bool {
    g.operations.contains(req.action) && grant_constraints_hold(g, req)
}

/// Grant constraints bind only operations that take an encryption context.
pub fn grant_constraints_hold(g: &CompiledGrant, req: &Request) -> bool {
    let Some(c) = &g.constraints else { return true };
    if !req.action.info().takes_encryption_context {
        return true;
    }
    context_satisfies(c, &req.encryption_context)
}

/// Whether an encryption context satisfies a grant's constraints: equal to
/// `EncryptionContextEquals` (an empty map admits only the empty context)
/// and holding every pair of `EncryptionContextSubset`. An absent member
/// constrains nothing; a present one, even empty, does.
pub fn context_satisfies(c: &GrantConstraints, ctx: &BTreeMap<String, String>) -> bool {
    let equals = c
        .encryption_context_equals
        .as_ref()
        .is_none_or(|want| want == ctx);
    let subset = c
        .encryption_context_subset
        .as_ref()
        .is_none_or(|want| includes(ctx, want));
    equals && subset
}

fn includes(map: &BTreeMap<String, String>, pairs: &BTreeMap<String, String>) -> bool {
    pairs.iter().all(|(k, v)| map.get(k) == Some(v))
}

/// Whether a child grant's constraints are at least as strict as its
/// parent's: every encryption context the child admits, the parent admits
/// too. AWS: "The grant constraints in the grants they create must be at
/// least as strict as those in the parent grant" — a child may add pairs to
/// a Subset constraint or turn it into an Equals constraint, never the
/// reverse. `None` is a grant without constraints.
pub fn constraints_at_least_as_strict(
    child: Option<&GrantConstraints>,
    parent: Option<&GrantConstraints>,
) -> bool {
    let Some(parent) = parent else { return true };
    let none = GrantConstraints::default();
    let child = child.unwrap_or(&none);
    let child_subset = child.encryption_context_subset.clone().unwrap_or_default();
    match &child.encryption_context_equals {
        // The child admits exactly one context, or none at all when its
        // own Subset contradicts its Equals.
        Some(only) => !includes(only, &child_subset) || context_satisfies(parent, only),
        // The child admits every context holding its Subset pairs: an
        // unbounded set, which fits only a Subset parent with fewer pairs.
        None => {
            parent.encryption_context_equals.is_none()
                && parent
                    .encryption_context_subset
                    .as_ref()
                    .is_none_or(|want| includes(&child_subset, want))
        }
    }
}
