//! KW118: a `Sid` IAM does not accept in an identity policy, SCP or RCP.

use super::statements;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW118",
    name: "unsupported-sid",
    category: Category::Error,
    kinds: &[DocKind::Identity, DocKind::Scp, DocKind::Rcp],
    summary: "A `Sid` holds characters IAM accepts only in key policies.",
    what: "In IAM identity policies, service control policies and resource control policies, \
           a `Sid` may hold only ASCII letters and digits. Key policies accept spaces and \
           punctuation (`\"Enable IAM User Permissions\"`), so a statement copied from one \
           to the other breaks. IAM Access Analyzer calls this \"Unsupported Sid\".",
    why: "IAM rejects the whole policy (`MalformedPolicyDocument`), so the change that carries \
          it fails to deploy.",
    example: include_str!("../../../policies/lint/KW118-unsupported-sid.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(sid) = &s.node.sid else {
            continue;
        };
        let text = sid.node.0.as_str();
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
            out.push(
                Finding::new(
                    &RULE,
                    sid.loc,
                    format!(
                        "the Sid {text:?} holds {bad:?}: {} accepts only letters and digits",
                        ctx.doc.described()
                    ),
                )
                .label("letters and digits only")
                .help(format!(
                    "write it as \"{}\"",
                    text.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                )),
            );
        }
    }
}
