//! KW138: a wildcard in the service part of an action or ARN.

use super::statements;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW138",
    name: "wildcard-in-service",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "An action's or ARN's service name holds a wildcard (`*ms:Decrypt`).",
    what: "Reports `Action` entries whose service prefix, and `Resource` ARNs whose service \
           field, hold `*` or `?` (a bare `*` is fine). IAM Access Analyzer calls this \
           \"Wildcard in service name\".",
    why: "The pattern matches every service whose name fits it, today's and tomorrow's: \
          `*ms:Decrypt` is meant as KMS and would also match a future `xyzms`. Name the \
          service.",
    example: include_str!("../../../policies/lint/KW138-wildcard-in-service.json"),
};

fn wild(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for a in s.node.action.iter().flat_map(|a| a.node.actions.iter()) {
            if let Some((service, _)) = a.node.0.split_once(':')
                && wild(service)
            {
                out.push(
                    Finding::new(
                        &RULE,
                        a.loc,
                        format!("`{}`: the service `{service}` is a pattern", a.node.0),
                    )
                    .label("which service?")
                    .help("write `kms:` and the action"),
                );
            }
        }
        for r in s.node.resource.iter().flat_map(|r| r.node.resources.iter()) {
            let service = r.node.split(':').nth(2).unwrap_or_default();
            if r.node.starts_with("arn:") && wild(service) && service != "*" {
                out.push(
                    Finding::new(
                        &RULE,
                        r.loc,
                        format!("`{}`: the service `{service}` is a pattern", r.node),
                    )
                    .label("which service?"),
                );
            }
        }
    }
}
