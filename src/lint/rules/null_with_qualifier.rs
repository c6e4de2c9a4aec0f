//! KW127: `ForAnyValue:Null` or `ForAllValues:Null`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW127",
    name: "null-with-qualifier",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "`Null` with a set qualifier tests something other than presence.",
    what: "Reports `ForAnyValue:Null` and `ForAllValues:Null`. IAM Access Analyzer calls this \
           \"Null with qualifier\".",
    why: "`Null` asks whether a key is present; a set qualifier makes it compare each value \
          instead, which is always true or always false. Plain `Null` is what it means.",
    example: include_str!("../../../policies/lint/KW127-null-with-qualifier.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            if op.base == BaseOperator::Null && op.qualifier.is_some() {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.operator.loc,
                        format!(
                            "`{op}` does not test whether `{}` is present",
                            c.node.key.node
                        ),
                    )
                    .label("a qualified Null")
                    .help("write `Null`"),
                );
            }
        }
    }
}
