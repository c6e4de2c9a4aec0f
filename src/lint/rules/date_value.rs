//! KW142: a number where a `Date` operator expects a date.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::OperatorFamily;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW142",
    name: "date-value",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A `Date` condition gives a number instead of an ISO 8601 date.",
    what: "Reports numeric values under `Date…` operators (except on `kms:ValidTo`, which AWS \
           documents in Unix seconds). IAM Access Analyzer calls this \"Invalid date value\".",
    why: "AWS reads the number as Unix seconds: a value in milliseconds lands tens of \
          thousands of years out, and the condition holds (or never does) for every request. \
          `2026-12-31T23:59:59Z` says what it means.",
    example: include_str!("../../../policies/lint/KW142-date-value.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            if c.node.operator.node.base.family() != OperatorFamily::Date
                || c.node.key.node.lowercase() == "kms:validto"
            {
                continue;
            }
            for v in &c.node.values {
                let numeric =
                    !v.node.is_empty() && v.node.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
                if numeric {
                    out.push(
                        Finding::new(
                            &RULE,
                            v.loc,
                            format!("`{}` is read as Unix seconds", v.node),
                        )
                        .label("a number, not a date")
                        .help("write the date as ISO 8601, e.g. 2026-12-31T23:59:59Z"),
                    );
                }
            }
        }
    }
}
