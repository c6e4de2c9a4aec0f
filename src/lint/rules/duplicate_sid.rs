//! KW109: two statements with the same `Sid`.

use super::statements;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW109",
    name: "duplicate-sid",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "Two statements share a `Sid`.",
    what: "Reports every statement whose `Sid` repeats an earlier statement's.",
    why: "AWS requires `Sid`s to be unique within a policy; explanations, audit records and \
          reviews refer to statements by `Sid`, so a repeat makes them ambiguous.",
    example: include_str!("../../../policies/lint/KW109-duplicate-sid.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let all = statements(ctx);
    for (i, s) in all.iter().enumerate() {
        let Some(sid) = &s.node.sid else { continue };
        let first = all[..i]
            .iter()
            .position(|p| p.node.sid.as_ref().is_some_and(|o| o.node == sid.node));
        if let Some(j) = first {
            out.push(
                Finding::new(
                    &RULE,
                    sid.loc,
                    format!("`Sid` {:?} is already used by statement #{j}", sid.node.0),
                )
                .label("repeated Sid")
                .help("give every statement its own `Sid`"),
            );
        }
    }
}
