//! KW117: an action authorized on `"*"` (ListKeys, ListAliases, CreateKey,
//! GenerateRandom, ...) with a `Resource` that is not `"*"`.

use super::{covered, never_matching, statements};
use crate::catalog::{Action, ResourceKind};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW117",
    name: "star-resource-action",
    category: Category::Warning,
    kinds: &[DocKind::Identity, DocKind::Scp],
    summary: "An action that KMS authorizes on `\"*\"` is named with a key or alias ARN as its only resource.",
    what: "Reports statements naming actions that are not performed on a key — ListKeys, \
           ListAliases, CreateKey, GenerateRandom, ListRetirableGrants, the custom key store \
           operations — whose `Resource` lists only ARNs (no `\"*\"`).",
    why: "These operations are authorized against the resource `*`; a key ARN in `Resource` \
          never matches it, so the `Allow` never allows them (a warning) or the `Deny` never \
          denies them (a security finding).",
    example: include_str!("../../../policies/lint/KW117-star-resource-action.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(resource) = &s.node.resource else {
            continue;
        };
        if resource.node.negated || resource.node.resources.iter().any(|r| r.node == "*") {
            continue;
        }
        if s.node.action.as_ref().is_some_and(|a| a.node.negated) {
            continue;
        }
        // Only actions the statement names outright, not through `kms:*`.
        let named: Vec<Action> = covered(&s.node)
            .iter()
            .filter(|a| a.info().resource == ResourceKind::None)
            .filter(|a| names_exactly(&s.node, *a))
            .collect();
        if named.is_empty() {
            continue;
        }
        let deny = s.node.effect.node == Effect::Deny;
        let list: Vec<String> = named.iter().map(ToString::to_string).collect();
        out.push(
            Finding::new(
                &RULE,
                resource.loc,
                format!(
                    "{} {} authorized on `\"*\"`, which this `Resource` never matches: the statement never {} {}",
                    list.join(", "),
                    if named.len() == 1 { "is" } else { "are" },
                    if deny { "denies" } else { "allows" },
                    if named.len() == 1 { "it" } else { "them" },
                ),
            )
            .with_category(never_matching(deny))
            .label("no `*` here")
            .help("give these actions a statement of their own with `\"Resource\": \"*\"`"),
        );
    }
}

/// Whether the statement's `Action` names `action` without a wildcard.
fn names_exactly(s: &crate::policy::ast::Statement, action: Action) -> bool {
    s.action.as_ref().is_some_and(|a| {
        a.node
            .actions
            .iter()
            .any(|n| Action::parse(&n.node.0) == Some(action))
    })
}
