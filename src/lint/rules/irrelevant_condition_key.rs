//! KW144: a condition on the resource's owner in a key policy.

use super::{conditions, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW144",
    name: "irrelevant-condition-key",
    category: Category::Suggestion,
    kinds: &[DocKind::KeyPolicy],
    summary: "A key policy tests the resource's account or organization, which is always the key's own.",
    what: "Reports `aws:ResourceAccount`, `aws:ResourceOrgID` and `aws:ResourceOrgPaths` in key \
           policies. IAM Access Analyzer calls this \"Irrelevant condition key in policy\".",
    why: "A key policy governs one key: its resource account and organization never vary, so \
          the condition is constant. These keys belong in identity policies, SCPs and VPC \
          endpoint policies, which cover many resources.",
    example: include_str!("../../../policies/lint/KW144-irrelevant-condition-key.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let key = c.node.key.node.lowercase();
            if matches!(
                key.as_str(),
                "aws:resourceaccount" | "aws:resourceorgid" | "aws:resourceorgpaths"
            ) {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` is always the key's own in its key policy",
                            c.node.key.node
                        ),
                    )
                    .label("constant here"),
                );
            }
        }
    }
}
