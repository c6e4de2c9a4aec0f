//! KW128: a `Sid` that is the empty string.

use super::statements;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW128",
    name: "empty-sid",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "A statement's `Sid` is empty.",
    what: "Reports `\"Sid\": \"\"`. IAM Access Analyzer calls this \"Empty Sid value\".",
    why: "An empty Sid names nothing: it says neither what the statement is for nor lets \
          findings, audit explanations and reviews point at it. Name it, or leave `Sid` out.",
    example: include_str!("../../../policies/lint/KW128-empty-sid.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        if let Some(sid) = s.node.sid.as_ref().filter(|sid| sid.node.0.is_empty()) {
            out.push(
                Finding::new(&RULE, sid.loc, "the Sid is empty")
                    .label("empty")
                    .help("name the statement for what it allows or denies"),
            );
        }
    }
}
