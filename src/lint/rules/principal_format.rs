//! KW133: a principal IAM does not accept where it is written.

use super::statements;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::{PrincipalId, Principals};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW133",
    name: "principal-format",
    category: Category::Error,
    kinds: &[DocKind::KeyPolicy, DocKind::VpcEndpoint],
    summary: "A service principal is malformed, or a federated principal is named in a key or endpoint policy.",
    what: "Checks the principals of key and VPC endpoint policies: a `Service` principal is a \
           DNS name such as `cloudtrail.amazonaws.com` (lowercase letters, digits, `-` and \
           dots, at least one dot); a `Federated` principal (a SAML or OIDC provider) belongs \
           only in role trust policies. IAM Access Analyzer calls these \"Invalid service \
           principal format\" and \"Federated principal not supported\".",
    why: "KMS refuses the key policy (`MalformedPolicyDocumentException`), so the change that \
          carries it does not deploy.",
    example: include_str!("../../../policies/lint/KW133-principal-format.json"),
};

fn service_shape(name: &str) -> bool {
    name == "*"
        || (name.contains('.')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'))
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(p) = &s.node.principal else {
            continue;
        };
        let Principals::Listed(ids) = &p.node.principals else {
            continue;
        };
        for id in ids {
            let why = match &id.node {
                PrincipalId::Service(name) if !service_shape(name) => format!(
                    "`{name}` is not a service principal: they read like `cloudtrail.amazonaws.com`"
                ),
                PrincipalId::Federated(name) => format!(
                    "the federated principal `{name}` belongs in a role trust policy, not in {}",
                    ctx.doc.described()
                ),
                _ => continue,
            };
            out.push(Finding::new(&RULE, id.loc, why).label("not accepted here"));
        }
    }
}
