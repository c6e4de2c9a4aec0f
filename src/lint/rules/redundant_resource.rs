//! KW130: a resource that another entry of the same list already matches.

use super::statements;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW130",
    name: "redundant-resource",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "A resource is also matched by a wildcard entry of the same list.",
    what: "Reports entries of a `Resource` or `NotResource` list that another entry's \
           wildcards (`*`, `?`) already match. IAM Access Analyzer calls this \"Redundant \
           resource\".",
    why: "The list reads as if the entry narrowed or added something; it does neither.",
    example: include_str!("../../../policies/lint/KW130-redundant-resource.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(resource) = &s.node.resource else {
            continue;
        };
        let entries = &resource.node.resources;
        for (i, r) in entries.iter().enumerate() {
            let by = entries.iter().enumerate().find(|(j, other)| {
                *j != i
                    && other.node != r.node
                    && (other.node.contains('*') || other.node.contains('?'))
                    && !other.node.contains("${")
                    && wildcard_match(&other.node, &r.node)
            });
            if let Some((_, other)) = by {
                out.push(
                    Finding::new(
                        &RULE,
                        r.loc,
                        format!("`{}` is already matched by `{}`", r.node, other.node),
                    )
                    .label("redundant")
                    .help("remove it"),
                );
            }
        }
    }
}

/// Whether `pattern` (with `*` and `?`) matches all of `text`; wildcards
/// in `text` are matched as characters, so a narrower pattern is matched
/// by a broader one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "arn:aws:kms:*:1:key/*",
            "arn:aws:kms:us-east-1:1:key/abc"
        ));
        assert!(wildcard_match("a*", "a*b"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(!wildcard_match(
            "arn:aws:kms:*:1:alias/*",
            "arn:aws:kms:us-east-1:1:key/abc"
        ));
    }
}
