//! KW135: a pattern condition whose only value is `*`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW135",
    name: "wildcard-only-condition",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "`StringLike`/`ArnLike` with only `*` tests whether the key is present, and no more.",
    what: "Reports `Like` conditions (outside encryption-context keys, which KW111 covers) \
           whose only value is `*`: `StringLike` then holds exactly when the key is present, \
           `StringNotLike` exactly when it is absent, and with `IfExists` the condition always \
           holds. IAM Access Analyzer calls these \"Equivalent to null false/true\" and \
           \"Redundant key due to wildcard in condition\".",
    why: "The condition reads as a restriction on the value and is not one; `Null` says what it \
          does.",
    example: include_str!("../../../policies/lint/KW135-wildcard-only-condition.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            if c.node
                .key
                .node
                .lowercase()
                .starts_with("kms:encryptioncontext")
            {
                continue;
            }
            let only_star =
                !c.node.values.is_empty() && c.node.values.iter().all(|v| v.node == "*");
            if !only_star || op.qualifier.is_some() {
                continue;
            }
            let key = &c.node.key.node;
            let means = match (op.base, op.if_exists) {
                (_, true)
                    if matches!(op.base, BaseOperator::StringLike | BaseOperator::ArnLike) =>
                {
                    "always holds".to_owned()
                }
                (BaseOperator::StringLike | BaseOperator::ArnLike, false) => {
                    format!(
                        "holds exactly when `{key}` is present: `\"Null\": {{\"{key}\": \"false\"}}`"
                    )
                }
                (BaseOperator::StringNotLike | BaseOperator::ArnNotLike, false) => {
                    format!(
                        "holds exactly when `{key}` is absent: `\"Null\": {{\"{key}\": \"true\"}}`"
                    )
                }
                (BaseOperator::StringNotLike | BaseOperator::ArnNotLike, true) => {
                    format!("holds only when `{key}` is absent")
                }
                _ => continue,
            };
            out.push(
                Finding::new(
                    &RULE,
                    c.node.operator.loc,
                    format!("`{op}` with only `*` {means}"),
                )
                .label("only `*`"),
            );
        }
    }
}
