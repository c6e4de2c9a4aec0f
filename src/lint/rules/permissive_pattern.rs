//! KW141: a wildcard or variable that lets a condition on who is calling
//! match far more than it names.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW141",
    name: "permissive-pattern",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A wildcard or variable in a condition on the caller's identity comes too early to restrict anything.",
    what: "In values of `aws:userid`, `aws:username`, `aws:PrincipalArn` and `aws:SourceArn`, \
           reports a `*`, `?` or `${…}` with fewer than six fixed characters before it, and \
           in `aws:userid` one before the `:` that ends the unique id (`*:alice`). IAM Access \
           Analyzer calls these \"Wildcard usage too permissive\" and \"Variable usage too \
           permissive\".",
    why: "These keys say who the caller is. `arn:*` or `*:alice` matches any principal (or \
          any role session named alice, in any account): the condition reads as an identity \
          check and admits nearly everyone.",
    example: include_str!("../../../policies/lint/KW141-permissive-pattern.json"),
};

const IDENTITY_KEYS: &[&str] = &[
    "aws:userid",
    "aws:username",
    "aws:principalarn",
    "aws:sourcearn",
];

/// Where the first wildcard or variable starts, if any.
fn first_pattern(v: &str) -> Option<usize> {
    [v.find('*'), v.find('?'), v.find("${")]
        .into_iter()
        .flatten()
        .min()
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let key = c.node.key.node.lowercase();
            if !IDENTITY_KEYS.contains(&key.as_str()) {
                continue;
            }
            for v in &c.node.values {
                let Some(at) = first_pattern(&v.node) else {
                    continue;
                };
                let why = if key == "aws:userid" && v.node[at..].contains(':') {
                    "a pattern in the unique-id part of `aws:userid` matches every principal's id"
                } else if v.node[..at].chars().count() < 6 {
                    "fewer than six fixed characters come before the pattern"
                } else {
                    continue;
                };
                out.push(
                    Finding::new(&RULE, v.loc, format!("`{}`: {why}", v.node))
                        .label("matches nearly anyone")
                        .help("name the account and principal the condition means"),
                );
            }
        }
    }
}
