//! KW113: a policy without `Version`.

use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::Span;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW113",
    name: "missing-version",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "A policy without `\"Version\": \"2012-10-17\"`.",
    what: "Reports policies with no `Version`, or with the legacy `2008-10-17`.",
    why: "Without `2012-10-17`, policy variables are literal text and newer features behave \
          differently; stating the version makes the meaning explicit.",
    example: include_str!("../../../policies/lint/KW113-missing-version.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(policy) = ctx.policy else { return };
    if policy.variables_enabled() {
        return;
    }
    let (span, message) = match &policy.version {
        Some(v) => (v.loc, "policy uses the legacy version `2008-10-17`"),
        None => (Span::new(0, 1), "policy has no `Version`"),
    };
    out.push(
        Finding::new(&RULE, span, message)
            .label("use 2012-10-17")
            .help("add \"Version\": \"2012-10-17\""),
    );
}
