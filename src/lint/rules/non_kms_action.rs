//! KW137: another service's action in a key policy.

use super::{names_kms, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW137",
    name: "non-kms-action",
    category: Category::Error,
    kinds: &[DocKind::KeyPolicy],
    summary: "A key policy names another service's action.",
    what: "Reports `Action` entries of a key policy whose service is not `kms` (`s3:GetObject` \
           beside `kms:Decrypt`), in documents that name KMS at all. IAM Access Analyzer calls \
           this \"Unsupported action in policy\".",
    why: "A key policy governs one KMS key: another service's action can never be requested \
          on it, so the entry grants or denies nothing, and often shows the statement was \
          copied from a bucket or role policy without the change it needed.",
    example: include_str!("../../../policies/lint/KW137-non-kms-action.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let all = statements(ctx);
    if !all.iter().any(|s| names_kms(&s.node)) {
        return; // a policy about another service (an S3 RCP, say)
    }
    for s in all {
        let Some(action) = &s.node.action else {
            continue;
        };
        for a in &action.node.actions {
            let name = a.node.0.as_str();
            let service = name.split(':').next().unwrap_or_default();
            if name == "*" || service.eq_ignore_ascii_case("kms") || !name.contains(':') {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    a.loc,
                    format!("`{name}` is not a KMS action: a key policy never applies to it"),
                )
                .label("another service"),
            );
        }
    }
}
