//! KW108: policy variables in a policy whose version treats them as text.

use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::Span;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW108",
    name: "variables-without-version",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "`${...}` is literal text unless the policy says `\"Version\": \"2012-10-17\"`.",
    what: "Reports `${...}` in condition values and resources of a policy without `Version` or \
           with `\"Version\": \"2008-10-17\"`.",
    why: "Under the older version AWS compares `${aws:PrincipalTag/tenant}` as the literal \
          string, so a tenant-binding condition never matches (or, negated, always matches).",
    example: include_str!("../../../policies/lint/KW108-variables-without-version.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(policy) = ctx.policy else { return };
    if policy.variables_enabled() {
        return;
    }
    let mut report = |text: &str, span: Span| {
        if text.contains("${") {
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    "policy variable is literal text in this policy version",
                )
                .label("compared as written")
                .help("add \"Version\": \"2012-10-17\" at the top of the policy"),
            );
        }
    };
    for s in &policy.statements {
        for c in &s.node.conditions {
            for v in &c.node.values {
                report(&v.node, v.loc);
            }
        }
        if let Some(r) = &s.node.resource {
            for p in &r.node.resources {
                report(&p.node, p.loc);
            }
        }
    }
}
