//! The rule catalog: one file per rule, each with its code, category,
//! documentation and check.

mod alias_arn_resource;
mod broad_decrypt;
mod condition_excludes_action;
mod condition_key_never_applies;
mod condition_value_format;
mod conflicting_bool;
mod cross_account;
mod date_value;
mod deny_unresolved_variable;
mod duplicate_condition_key;
mod duplicate_sid;
mod empty_sid;
mod encryption_context_wildcard;
mod for_any_value_negated;
mod grant_redelegation;
mod grant_without_constraint;
mod if_exists_in_deny;
pub(super) mod invalid_document;
mod ip_address_range;
mod irrelevant_condition_key;
mod json_shape;
mod key_policy_lockout;
mod missing_version;
mod non_kms_action;
mod not_principal_allow;
mod null_with_qualifier;
pub(super) mod operator_type_mismatch;
mod organizations_syntax;
mod paired_condition_key;
mod permissions_management;
mod permissive_pattern;
mod policy_size;
mod policy_variable_syntax;
mod principal_format;
mod public_principal;
mod rcp_condition_keys;
mod redundant_action;
mod redundant_numeric_values;
mod redundant_resource;
mod redundant_statement;
mod resource_arn;
mod service_principal_condition_key;
mod service_principal_unrestricted;
mod set_operator_mismatch;
mod star_resource_action;
mod string_operator_on_arn;
mod unknown_action;
mod unknown_condition_key;
mod unsupported_sid;
mod untrustworthy_condition_key;
mod variables_without_version;
mod via_service_format;
mod wildcard_in_service;
mod wildcard_only_condition;
mod wildcard_without_like;

use super::{Category, Context, Finding, RuleInfo};
use crate::compile::{ActionSet, actions_covered};
use crate::policy::Node;
use crate::policy::ast::{Condition, PrincipalId, Principals, Statement};

/// A rule's check: reads the context, appends findings.
pub type Check = fn(&Context<'_>, &mut Vec<Finding>);

/// Every rule, in code order.
pub static RULES: &[(RuleInfo, Check)] = &[
    (invalid_document::RULE, invalid_document::check),
    (unknown_action::RULE, unknown_action::check),
    (unknown_condition_key::RULE, unknown_condition_key::check),
    (operator_type_mismatch::RULE, operator_type_mismatch::check),
    (
        condition_key_never_applies::RULE,
        condition_key_never_applies::check,
    ),
    (set_operator_mismatch::RULE, set_operator_mismatch::check),
    (for_any_value_negated::RULE, for_any_value_negated::check),
    (if_exists_in_deny::RULE, if_exists_in_deny::check),
    (
        variables_without_version::RULE,
        variables_without_version::check,
    ),
    (duplicate_sid::RULE, duplicate_sid::check),
    (redundant_statement::RULE, redundant_statement::check),
    (
        encryption_context_wildcard::RULE,
        encryption_context_wildcard::check,
    ),
    (via_service_format::RULE, via_service_format::check),
    (missing_version::RULE, missing_version::check),
    (
        deny_unresolved_variable::RULE,
        deny_unresolved_variable::check,
    ),
    (alias_arn_resource::RULE, alias_arn_resource::check),
    (
        condition_excludes_action::RULE,
        condition_excludes_action::check,
    ),
    (star_resource_action::RULE, star_resource_action::check),
    (unsupported_sid::RULE, unsupported_sid::check),
    (ip_address_range::RULE, ip_address_range::check),
    (condition_value_format::RULE, condition_value_format::check),
    (wildcard_without_like::RULE, wildcard_without_like::check),
    (redundant_action::RULE, redundant_action::check),
    (policy_size::RULE, policy_size::check),
    (organizations_syntax::RULE, organizations_syntax::check),
    (resource_arn::RULE, resource_arn::check),
    (
        duplicate_condition_key::RULE,
        duplicate_condition_key::check,
    ),
    (null_with_qualifier::RULE, null_with_qualifier::check),
    (empty_sid::RULE, empty_sid::check),
    (paired_condition_key::RULE, paired_condition_key::check),
    (redundant_resource::RULE, redundant_resource::check),
    (string_operator_on_arn::RULE, string_operator_on_arn::check),
    (policy_variable_syntax::RULE, policy_variable_syntax::check),
    (principal_format::RULE, principal_format::check),
    (
        untrustworthy_condition_key::RULE,
        untrustworthy_condition_key::check,
    ),
    (
        wildcard_only_condition::RULE,
        wildcard_only_condition::check,
    ),
    (conflicting_bool::RULE, conflicting_bool::check),
    (non_kms_action::RULE, non_kms_action::check),
    (wildcard_in_service::RULE, wildcard_in_service::check),
    (rcp_condition_keys::RULE, rcp_condition_keys::check),
    (
        service_principal_condition_key::RULE,
        service_principal_condition_key::check,
    ),
    (permissive_pattern::RULE, permissive_pattern::check),
    (date_value::RULE, date_value::check),
    (
        redundant_numeric_values::RULE,
        redundant_numeric_values::check,
    ),
    (
        irrelevant_condition_key::RULE,
        irrelevant_condition_key::check,
    ),
    (json_shape::RULE, json_shape::check),
    (public_principal::RULE, public_principal::check),
    (broad_decrypt::RULE, broad_decrypt::check),
    (not_principal_allow::RULE, not_principal_allow::check),
    (key_policy_lockout::RULE, key_policy_lockout::check),
    (
        grant_without_constraint::RULE,
        grant_without_constraint::check,
    ),
    (grant_redelegation::RULE, grant_redelegation::check),
    (permissions_management::RULE, permissions_management::check),
    (
        service_principal_unrestricted::RULE,
        service_principal_unrestricted::check,
    ),
    (cross_account::RULE, cross_account::check),
];

/// The category of a statement that can never match: a warning in an
/// `Allow` (it grants nothing), a security finding in a `Deny` (the
/// protection it reads as is not there).
fn never_matching(deny: bool) -> Category {
    if deny {
        Category::Security
    } else {
        Category::Warning
    }
}

/// The statements of the policy being linted.
fn statements<'a>(ctx: &Context<'a>) -> &'a [Node<Statement>] {
    ctx.policy.map_or(&[], |p| p.statements.as_slice())
}

/// The KMS actions a statement's `Action`/`NotAction` covers.
fn covered(s: &Statement) -> ActionSet {
    s.action
        .as_ref()
        .map_or_else(ActionSet::default, |a| actions_covered(&a.node))
}

/// Whether a statement's `Action` names KMS at all, even misspelled
/// (`kms:…`, `*`, or a `NotAction`): a document with no such statement is
/// about another service.
fn names_kms(s: &Statement) -> bool {
    s.action.as_ref().is_some_and(|a| {
        a.node.negated
            || a.node.actions.iter().any(|n| {
                let n = n.node.0.as_str();
                n == "*" || n.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("kms:"))
            })
    })
}

/// Every condition of a statement.
fn conditions(s: &Statement) -> impl Iterator<Item = &Node<Condition>> {
    s.conditions.iter()
}

/// Whether a statement's principal element is `"*"` (not negated).
fn is_public(s: &Statement) -> bool {
    matches!(&s.principal, Some(p) if !p.node.negated && p.node.principals == Principals::Any)
}

/// The principals a (non-negated) statement names.
fn named_principals(s: &Statement) -> &[Node<PrincipalId>] {
    match &s.principal {
        Some(p) if !p.node.negated => match &p.node.principals {
            Principals::Listed(ids) => ids,
            Principals::Any => &[],
        },
        _ => &[],
    }
}

/// A short name for a statement in messages: its Sid, or its index.
fn statement_name(index: usize, s: &Statement) -> String {
    match &s.sid {
        Some(sid) => format!("statement #{index} ({:?})", sid.node.0),
        None => format!("statement #{index}"),
    }
}
