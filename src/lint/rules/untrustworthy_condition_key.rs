//! KW134: a condition on a key the caller writes themselves.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW134",
    name: "untrustworthy-condition-key",
    category: Category::Security,
    kinds: kind::POLICIES,
    summary: "An `Allow` depends on `aws:UserAgent` or `aws:Referer`, which the caller sets.",
    what: "Reports `Allow` statements whose conditions test `aws:UserAgent` or `aws:Referer`. \
           IAM Access Analyzer calls this \"Untrustworthy condition key\".",
    why: "Both are HTTP headers the caller writes: any client can send the expected value, so \
          the condition keeps out only those who do not read the policy.",
    example: include_str!("../../../policies/lint/KW134-untrustworthy-condition-key.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        if s.node.effect.node != Effect::Allow {
            continue;
        }
        for c in conditions(&s.node) {
            let key = c.node.key.node.lowercase();
            if key == "aws:useragent" || key == "aws:referer" {
                out.push(
                    Finding::new(&RULE, c.node.key.loc, format!("`{}` is whatever the caller sends", c.node.key.node))
                        .label("caller-controlled")
                        .help("bind the request to something AWS vouches for: `aws:SourceVpce`, `aws:PrincipalArn`, `aws:PrincipalOrgID`"),
                );
            }
        }
    }
}
