//! KW143: several bounds under one numeric comparison, of which one counts.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW143",
    name: "redundant-numeric-values",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "A `NumericLessThan`-like condition lists several bounds; only the widest counts.",
    what: "Reports `NumericLessThan(Equals)` and `NumericGreaterThan(Equals)` conditions with \
           more than one value. IAM Access Analyzer calls this \"Redundant condition value \
           num\".",
    why: "Values of one condition are alternatives: `< 30` or `< 90` is `< 90`. The others \
          read as limits and limit nothing.",
    example: include_str!("../../../policies/lint/KW143-redundant-numeric-values.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node.base;
            let bound = matches!(
                op,
                BaseOperator::NumericLessThan
                    | BaseOperator::NumericLessThanEquals
                    | BaseOperator::NumericGreaterThan
                    | BaseOperator::NumericGreaterThanEquals
            );
            if bound && c.node.values.len() > 1 {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` lists {} bounds; the widest decides",
                            op.name(),
                            c.node.values.len()
                        ),
                    )
                    .label("one bound counts")
                    .help("keep the one bound you mean"),
                );
            }
        }
    }
}
