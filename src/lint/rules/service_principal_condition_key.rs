//! KW140: a condition on the calling principal in a statement whose only
//! principals are AWS services.

use super::{conditions, named_principals, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::PrincipalId;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW140",
    name: "service-principal-condition-key",
    category: Category::Error,
    kinds: &[DocKind::KeyPolicy, DocKind::VpcEndpoint],
    summary: "A statement for service principals tests keys only IAM principals carry.",
    what: "Reports conditions on `aws:PrincipalArn`, `aws:PrincipalAccount`, \
           `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalTag/…`, \
           `aws:PrincipalType`, `aws:userid` and `aws:username` in statements whose only \
           principals are services. IAM Access Analyzer calls this \"Unsupported condition \
           key for service principal\".",
    why: "When a service principal calls, these keys are absent: a positive condition on them \
          is never true, so the statement never lets the service in. The source keys \
          (`aws:SourceAccount`, `aws:SourceArn`, `aws:SourceOrgID`) are the ones that \
          describe whom a service acts for.",
    example: include_str!("../../../policies/lint/KW140-service-principal-condition-key.json"),
};

fn principal_key(key: &str) -> bool {
    matches!(
        key,
        "aws:principalarn"
            | "aws:principalaccount"
            | "aws:principalorgid"
            | "aws:principalorgpaths"
            | "aws:principaltype"
            | "aws:userid"
            | "aws:username"
    ) || key.starts_with("aws:principaltag/")
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let named = named_principals(&s.node);
        let only_services = !named.is_empty()
            && named
                .iter()
                .all(|p| matches!(p.node, PrincipalId::Service(_)));
        if !only_services {
            continue;
        }
        for c in conditions(&s.node) {
            if principal_key(&c.node.key.node.lowercase()) {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` is absent when a service principal calls",
                            c.node.key.node
                        ),
                    )
                    .label("not set for services")
                    .help("test `aws:SourceAccount`, `aws:SourceArn` or `aws:SourceOrgID` instead"),
                );
            }
        }
    }
}
