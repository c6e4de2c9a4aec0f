//! KW124: what service and resource control policies may not hold.

use super::statements;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::{Effect, Principals};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW124",
    name: "organizations-policy-syntax",
    category: Category::Error,
    kinds: &[DocKind::Scp, DocKind::Rcp],
    summary: "A service or resource control policy uses an element its kind does not allow.",
    what: "In a service control policy: an action whose `*` is not at its end. In a resource \
           control policy: a principal other than `\"*\"`, `NotPrincipal`, `NotAction`, an \
           `Allow` with a condition or with a principal or resource other than `\"*\"`, and \
           actions of services RCPs do not cover. IAM Access Analyzer calls these \"SCP \
           syntax error …\" and \"RCP syntax error …\".",
    why: "AWS Organizations refuses the policy, so the guardrail it was meant to be is not in \
          place.",
    example: include_str!("../../../policies/lint/KW124-organizations-policy-syntax.json"),
};

/// The services resource control policies apply to.
const RCP_SERVICES: &[&str] = &[
    "s3",
    "sts",
    "sqs",
    "secretsmanager",
    "kms",
    "dynamodb",
    "ecr",
    "logs",
    "cognito-idp",
    "aoss",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let st = &s.node;
        let push = |out: &mut Vec<Finding>, span, message: String| {
            out.push(Finding::new(&RULE, span, message).label(ctx.doc.name()));
        };
        if ctx.doc == DocKind::Scp {
            for a in st.action.iter().flat_map(|a| a.node.actions.iter()) {
                let name = a.node.0.as_str();
                if name.find('*').is_some_and(|i| i + 1 != name.len()) {
                    push(
                        out,
                        a.loc,
                        format!(
                            "`{name}`: a service control policy accepts `*` only at the end of an action"
                        ),
                    );
                }
            }
            continue;
        }
        if let Some(p) = &st.principal {
            if p.node.negated {
                push(
                    out,
                    p.loc,
                    "a resource control policy cannot use `NotPrincipal`".into(),
                );
            } else if p.node.principals != Principals::Any {
                push(
                    out,
                    p.loc,
                    "a resource control policy names only `\"Principal\": \"*\"`".into(),
                );
            }
        }
        if let Some(a) = &st.action {
            if a.node.negated {
                push(
                    out,
                    a.loc,
                    "a resource control policy cannot use `NotAction`".into(),
                );
            }
            for name in &a.node.actions {
                let service = name
                    .node
                    .0
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if name.node.0 != "*" && !RCP_SERVICES.contains(&service.as_str()) {
                    push(
                        out,
                        name.loc,
                        format!(
                            "`{}`: resource control policies do not apply to `{service}`",
                            name.node.0
                        ),
                    );
                }
            }
        }
        if st.effect.node == Effect::Allow {
            let star_resource = st
                .resource
                .as_ref()
                .is_some_and(|r| !r.node.negated && r.node.resources.iter().all(|x| x.node == "*"));
            if !st.conditions.is_empty() || !star_resource {
                push(out, st.effect.loc, "an `Allow` in a resource control policy must allow `*` on `*` with no condition".into());
            }
        }
    }
}
