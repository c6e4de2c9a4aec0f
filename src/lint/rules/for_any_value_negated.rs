//! KW106: `ForAnyValue:` with a negated operator.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::SetQualifier;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW106",
    name: "for-any-value-negated",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "`ForAnyValue:` with a negated operator matches almost every request.",
    what: "Reports `ForAnyValue:StringNotEquals`, `ForAnyValue:StringNotLike` and the other \
           negated operators under `ForAnyValue:`.",
    why: "`ForAnyValue:StringNotEquals` is true as soon as one value differs from the list, so \
          a request with one allowed and one other value matches. The intent is almost always \
          `ForAllValues:StringNotEquals` (no value in the list) or `ForAllValues:StringEquals`.",
    example: include_str!("../../../policies/lint/KW106-for-any-value-negated.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            if op.qualifier == Some(SetQualifier::ForAnyValue) && op.base.is_negated() {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.operator.loc,
                        format!(
                            "`{op}` is true when any one value of `{}` is outside the list",
                            c.node.key.node
                        ),
                    )
                    .label("matches almost every request")
                    .help(format!("did you mean `ForAllValues:{}`?", op.base.name())),
                );
            }
        }
    }
}
