//! KW116: a condition whose key some of the statement's actions never
//! carry, so the statement never applies to those actions.

use super::{conditions, covered, never_matching, statements};
use crate::catalog::{self, Action};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::{BaseOperator, Effect, SetQualifier};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW116",
    name: "condition-excludes-action",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A condition tests a key that some of the statement's actions never carry.",
    what: "For each condition that needs its key present (a positive operator without \
           `IfExists`, not `ForAllValues` or `Null`), lists the statement's actions whose \
           requests never carry the key (the Service Authorization Reference: \
           `kms:EncryptionContext:*` only on cryptographic operations, \
           `kms:GrantIsForAWSResource` only on CreateGrant, ListGrants and RevokeGrant). When \
           no action carries it, KW104 reports the condition instead. With `NotAction`, only \
           tag keys are checked. IAM Access Analyzer calls these \"Unsupported action for \
           condition key\" and \"Allow/Deny NotAction with unsupported tag condition key for \
           service\".",
    why: "Conditions are checked per request: for those actions the condition is always \
          false, so an `Allow` never allows them (`kms:Describe*` with an encryption-context \
          condition leaves DescribeKey impossible) and a `Deny` never denies them. It is a \
          warning in an `Allow` and a security finding in a `Deny`, whose protection silently \
          stops short.",
    example: include_str!("../../../policies/lint/KW116-condition-excludes-action.json"),
};

/// Whether a condition is false whenever its key is absent.
fn needs_key(op: &crate::policy::ast::ConditionOperator) -> bool {
    !op.if_exists
        && !op.base.is_negated()
        && op.base != BaseOperator::Null
        && op.qualifier != Some(SetQualifier::ForAllValues)
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        // With `NotAction`, only tag keys: a `NotAction` statement with a tag
        // condition reads as covering everything, and the actions that are
        // not on a key carry no tags.
        let not_action = s.node.action.as_ref().is_some_and(|a| a.node.negated);
        let actions: Vec<Action> = covered(&s.node).iter().collect();
        if actions.len() < 2 {
            continue;
        }
        for c in conditions(&s.node) {
            let key = c.node.key.node.0.as_str();
            if !needs_key(&c.node.operator.node) || catalog::condition_key(key).is_none() {
                continue;
            }
            let lower = key.to_ascii_lowercase();
            let tag_key = lower.starts_with("aws:resourcetag/")
                || lower.starts_with("aws:requesttag/")
                || lower == "aws:tagkeys";
            if not_action && !tag_key {
                continue;
            }
            let excluded: Vec<&Action> = actions.iter().filter(|a| !a.populates(key)).collect();
            if excluded.is_empty() || excluded.len() == actions.len() {
                continue; // every action carries it, or none (KW104)
            }
            let names: Vec<String> = excluded.iter().take(4).map(|a| a.to_string()).collect();
            let more = excluded.len().saturating_sub(4);
            let list = if more > 0 {
                format!("{} and {more} more", names.join(", "))
            } else {
                names.join(", ")
            };
            let deny = s.node.effect.node == Effect::Deny;
            let verb = if deny { "denies" } else { "allows" };
            out.push(
                Finding::new(
                    &RULE,
                    c.node.key.loc,
                    format!(
                        "`{key}` is never present in a request for {list}: this statement never {verb} {}",
                        if excluded.len() == 1 { "it" } else { "them" }
                    ),
                )
                .with_category(never_matching(deny))
                .label("absent for some actions")
                .help(
                    "move those actions to a statement of their own without this condition, or \
                     use the `...IfExists` operator if the condition should apply only where the key exists",
                ),
            );
        }
    }
}
