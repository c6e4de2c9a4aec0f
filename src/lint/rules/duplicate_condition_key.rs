//! KW126: one condition key twice under one operator, spelled in two cases.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW126",
    name: "duplicate-condition-key",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A condition key appears twice under one operator, in different cases.",
    what: "Condition keys are case-insensitive, so `kms:CallerAccount` and \
           `KMS:calleraccount` under one operator are the same key written twice. IAM Access \
           Analyzer calls this \"Duplicate keys with different case\".",
    why: "AWS keeps only one of them, and which one is not what a reader expects: one of the \
          two restrictions silently does not exist.",
    example: include_str!("../../../policies/lint/KW126-duplicate-condition-key.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let all: Vec<_> = conditions(&s.node).collect();
        for (i, c) in all.iter().enumerate() {
            let earlier = all[..i].iter().find(|d| {
                d.node.operator.loc == c.node.operator.loc
                    && d.node.key.node.lowercase() == c.node.key.node.lowercase()
                    && d.node.key.node.0 != c.node.key.node.0
            });
            if let Some(d) = earlier {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` is `{}` again: condition keys ignore case",
                            c.node.key.node, d.node.key.node
                        ),
                    )
                    .label("the same key")
                    .help("merge the values into one entry"),
                );
            }
        }
    }
}
