//! KW121: a wildcard in the value of an exact string operator.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW121",
    name: "wildcard-without-like",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A condition value holds `*` or `?` under an operator that compares exactly.",
    what: "Reports `*` and `?` in the values of `StringEquals`, `StringNotEquals` and their \
           `IgnoreCase` forms (outside policy variables such as `${*}`). IAM Access Analyzer \
           calls this \"Wildcard without like operator\".",
    why: "These operators compare characters one by one: `arn:aws:iam::111122223333:role/*` \
          matches only a principal literally named `*`. `StringLike` (or `ArnLike`) is what \
          such a value means.",
    example: include_str!("../../../policies/lint/KW121-wildcard-without-like.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node.base;
            let like = match op {
                BaseOperator::StringEquals | BaseOperator::StringEqualsIgnoreCase => "StringLike",
                BaseOperator::StringNotEquals | BaseOperator::StringNotEqualsIgnoreCase => {
                    "StringNotLike"
                }
                _ => continue,
            };
            for v in &c.node.values {
                let literal = v.node.replace("${*}", "").replace("${?}", "");
                if literal.contains('*') || literal.contains('?') {
                    out.push(
                        Finding::new(
                            &RULE,
                            v.loc,
                            format!(
                                "`{}` holds a wildcard, which `{}` compares as a plain character",
                                v.node,
                                op.name()
                            ),
                        )
                        .label("a literal wildcard")
                        .help(format!("use `{like}` for a pattern")),
                    );
                }
            }
        }
    }
}
