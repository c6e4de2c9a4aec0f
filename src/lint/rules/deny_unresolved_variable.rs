//! KW114: a `Deny` that depends on a policy variable a request may lack.

use super::statements;
use crate::compile::matcher::{Part, parts};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::Span;
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW114",
    name: "deny-on-unresolved-variable",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A `Deny` whose condition or resource uses a policy variable a request may lack is \
              skipped for that request.",
    what: "Reports policy variables without a default, in the conditions and resources of \
           `Deny` statements, whose key is not in every signed request (principal and \
           resource tags, `aws:username`, `kms:` keys, ...).",
    why: "When a request has the condition's key but lacks the variable's, AWS cannot resolve \
          the variable and the statement is invalid for that request: \"any attempt to match it fails and causes the statement \
          to be invalid\" (IAM User Guide, policy variables). For a `Deny` that means it does \
          not apply — a caller without the tag escapes a deny meant to bind it. Give the \
          variable a default, or deny the missing case with a `Null` condition.",
    example: include_str!("../../../policies/lint/KW114-deny-on-unresolved-variable.json"),
};

/// Keys AWS puts in every signed request by a principal with credentials
/// (IAM User Guide, global condition keys, "Availability").
const ALWAYS_PRESENT: &[&str] = &[
    "aws:currenttime",
    "aws:epochtime",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principaltype",
    "aws:requestedregion",
    "aws:securetransport",
    "aws:sourceip",
    "aws:userid",
    "aws:viaawsservice",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(policy) = ctx.policy else { return };
    if !policy.variables_enabled() {
        return;
    }
    let mut report = |text: &str, span: Span, key: Option<&str>| {
        for p in parts(text, true, false) {
            let Part::Var {
                default: None,
                name,
                ..
            } = p
            else {
                continue;
            };
            if ALWAYS_PRESENT.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    match key {
                        Some(key) => format!(
                            "a request with `{key}` but without `{name}` cannot resolve `${{{name}}}`, and AWS then skips this Deny"
                        ),
                        None => format!(
                            "a request without `{name}` cannot resolve `${{{name}}}`, and AWS then skips this Deny"
                        ),
                    },
                )
                .label("may be unresolved")
                .help(format!(
                    "give it a default (`${{{name}, 'none'}}`), or add a Deny with `\"Null\": {{\"{name}\": \"true\"}}`"
                )),
            );
        }
    };
    for s in statements(ctx) {
        if s.node.effect.node != Effect::Deny {
            continue;
        }
        for c in &s.node.conditions {
            if !c.node.operator.node.base.takes_variables() {
                continue;
            }
            for v in &c.node.values {
                report(&v.node, v.loc, Some(&c.node.key.node.0));
            }
        }
        if let Some(r) = &s.node.resource {
            for p in &r.node.resources {
                // Variables count only in the resource part of an ARN.
                if let Some(rest) = p.node.splitn(6, ':').nth(5) {
                    report(rest, p.loc, None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn always_present_keys_are_catalogued() {
        for k in super::ALWAYS_PRESENT {
            assert!(
                matches!(
                    crate::catalog::ContextKey::new(k),
                    crate::catalog::ContextKey::Known(_)
                ),
                "{k}"
            );
        }
    }
}
