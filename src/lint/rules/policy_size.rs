//! KW123: a policy longer than its kind's size quota.

use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::Span;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW123",
    name: "policy-size",
    category: Category::Error,
    kinds: &[
        DocKind::KeyPolicy,
        DocKind::Identity,
        DocKind::Scp,
        DocKind::Rcp,
        DocKind::VpcEndpoint,
    ],
    summary: "The policy is longer than AWS accepts for its kind.",
    what: "Counts the document as AWS does: a key policy in bytes (32 KB), an identity \
           policy (6,144), a service or resource control policy (5,120) and a VPC endpoint \
           policy (20,480) in characters, whitespace not counted except in a key policy. \
           IAM Access Analyzer calls these \"Policy size exceeds … quota\".",
    why: "AWS refuses the whole document (`PutKeyPolicy`, `PutRolePolicy`, `CreatePolicy` \
          fail), so the change that carries it does not deploy.",
    example: include_str!("../../../policies/lint/KW123-policy-size.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let text: &str = &ctx.source.text;
    let no_space = || text.chars().filter(|c| !c.is_whitespace()).count();
    let (size, limit, unit) = match ctx.doc {
        DocKind::KeyPolicy => (text.len(), 32_768, "bytes"),
        DocKind::Identity => (no_space(), 6_144, "characters without whitespace"),
        DocKind::Scp | DocKind::Rcp => (no_space(), 5_120, "characters without whitespace"),
        DocKind::VpcEndpoint => (no_space(), 20_480, "characters without whitespace"),
        DocKind::Grants => return,
    };
    if size > limit {
        out.push(
            Finding::new(
                &RULE,
                Span::new(0, 1.min(text.len())),
                format!(
                    "{} is {size} {unit}; AWS accepts at most {limit}",
                    ctx.doc.described()
                ),
            )
            .label("too long")
            .help(
                "split it into several policies, or shorten it with wildcards and fewer statements",
            ),
        );
    }
}
