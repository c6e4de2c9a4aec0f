//! KW104: a condition key that none of the statement's actions carries.

use super::{conditions, covered, statements};
use crate::catalog;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW104",
    name: "condition-key-never-applies",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A condition tests a key that no action of its statement ever carries.",
    what: "For each condition, checks that at least one action the statement covers can carry \
           the key (from the Service Authorization Reference: `kms:EncryptionContext:*` only on \
           cryptographic operations, `kms:RotationPeriodInDays` only on EnableKeyRotation, \
           another service's keys never in a KMS request).",
    why: "A key that is never present makes a positive condition always false and a negated \
          one always true, so the statement does not do what it reads as.",
    example: include_str!("../../../policies/lint/KW104-condition-key-never-applies.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let actions = covered(&s.node);
        if actions.is_empty() {
            continue;
        }
        for c in conditions(&s.node) {
            let key = c.node.key.node.0.as_str();
            let prefix = key.split(':').next().unwrap_or("");
            let known_service =
                prefix.eq_ignore_ascii_case("kms") || prefix.eq_ignore_ascii_case("aws");
            if known_service && catalog::condition_key(key).is_none() {
                continue; // KW102 reports it.
            }
            if known_service && actions.iter().any(|a| a.populates(key)) {
                continue;
            }
            let message = if known_service {
                let names: Vec<String> = actions.iter().take(3).map(|a| a.to_string()).collect();
                let more = actions.iter().count().saturating_sub(3);
                let list = if more > 0 {
                    format!("{} and {more} more", names.join(", "))
                } else {
                    names.join(", ")
                };
                format!("`{key}` is never present in a request for {list}")
            } else {
                format!("`{key}` is never present in an AWS KMS request")
            };
            out.push(Finding::new(&RULE, c.node.key.loc, message).label("never present"));
        }
    }
}
