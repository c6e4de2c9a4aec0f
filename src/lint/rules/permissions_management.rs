//! KW207: an identity policy that lets its holder change who may use keys.

use super::{conditions, covered, statements};
use crate::catalog::Action;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW207",
    name: "permissions-management",
    category: Category::Security,
    kinds: &[DocKind::Identity],
    summary: "An identity policy allows `kms:PutKeyPolicy`, or `kms:CreateGrant` without a condition, on every key.",
    what: "Reports `Allow` statements of identity policies whose `Resource` is `\"*\"` and that \
           cover `kms:PutKeyPolicy` (with or without conditions), or `kms:CreateGrant` with no \
           condition at all.",
    why: "These are permissions-management actions: whoever holds them can give anyone, \
          themselves included, every other permission on every key whose policy defers to \
          IAM. Name the keys, and bound CreateGrant with `kms:GrantIsForAWSResource`, \
          `kms:GranteePrincipal` or `kms:GrantOperations`.",
    example: include_str!("../../../policies/lint/KW207-permissions-management.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let (Some(put), Some(grant)) = (
        Action::from_operation("PutKeyPolicy"),
        Action::from_operation("CreateGrant"),
    ) else {
        return;
    };
    for s in statements(ctx) {
        if s.node.effect.node != Effect::Allow {
            continue;
        }
        let Some(resource) = &s.node.resource else {
            continue;
        };
        if resource.node.negated || !resource.node.resources.iter().any(|r| r.node == "*") {
            continue;
        }
        let actions = covered(&s.node);
        let unconditioned = conditions(&s.node).next().is_none();
        let mut risky = Vec::new();
        if actions.contains(put) {
            risky.push("kms:PutKeyPolicy");
        }
        if actions.contains(grant) && unconditioned {
            risky.push("kms:CreateGrant (with no condition)");
        }
        if risky.is_empty() {
            continue;
        }
        let at = s.node.action.as_ref().map_or(s.loc, |a| a.loc);
        out.push(
            Finding::new(
                &RULE,
                at,
                format!(
                    "allows {} on every key: whoever holds it can grant themselves and others any use of those keys",
                    risky.join(" and ")
                ),
            )
            .label("permissions management on `*`")
            .help("name the keys in `Resource`, and constrain CreateGrant with a condition"),
        );
    }
}
