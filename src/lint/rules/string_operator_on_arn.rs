//! KW131: a string operator on an ARN key.

use super::{conditions, statements};
use crate::catalog::{self, KeyType};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::OperatorFamily;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW131",
    name: "string-operator-on-arn",
    category: Category::Security,
    kinds: kind::POLICIES,
    summary: "An ARN key (`aws:PrincipalArn`, `aws:SourceArn`) is compared with a string operator.",
    what: "Reports `String…` operators on keys whose type is ARN. IAM Access Analyzer calls \
           this \"String like operator with ARN condition keys\".",
    why: "`ArnLike` matches an ARN field by field, so a `*` stays within its field; \
          `StringLike` matches the whole text, so a `*` also matches `:` and spans fields, \
          admitting ARNs the pattern was not written for. The ARN operators say what such a \
          condition means.",
    example: include_str!("../../../policies/lint/KW131-string-operator-on-arn.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node.base;
            let key = c.node.key.node.0.as_str();
            let is_arn = catalog::condition_key(key).is_some_and(|k| k.ty == KeyType::Arn);
            if !is_arn || op.family() != OperatorFamily::String {
                continue;
            }
            // Exact comparisons of whole ARNs mean the same either way.
            if !op.name().contains("Like") {
                continue;
            }
            let arn_op = op.name().replace("String", "Arn");
            out.push(
                Finding::new(
                    &RULE,
                    c.node.operator.loc,
                    format!(
                        "`{}` compares `{key}` as text, across its fields",
                        op.name()
                    ),
                )
                .label("text, not ARN fields")
                .help(format!("use `{arn_op}`")),
            );
        }
    }
}
