//! KW136: a `Bool` condition given both `true` and `false`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW136",
    name: "conflicting-bool-values",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A `Bool` condition lists more than one value.",
    what: "Reports `Bool` conditions with several values (`[\"true\", \"false\"]`). IAM Access \
           Analyzer calls this \"Invalid condition multiple Boolean\".",
    why: "A Boolean key has one value; listing both makes the condition hold whatever the \
          value is, so it restricts nothing while reading as a restriction.",
    example: include_str!("../../../policies/lint/KW136-conflicting-bool-values.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            if c.node.operator.node.base == BaseOperator::Bool && c.node.values.len() > 1 {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` is given {} values; a Boolean has one",
                            c.node.key.node,
                            c.node.values.len()
                        ),
                    )
                    .label("several Booleans")
                    .help("keep the one value the condition should require"),
                );
            }
        }
    }
}
