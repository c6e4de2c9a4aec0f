//! KW139: resource control policy conditions that also catch AWS services,
//! or test source keys without checking that they are there.

use super::{conditions, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW139",
    name: "rcp-condition-keys",
    category: Category::Warning,
    kinds: &[DocKind::Rcp],
    summary: "An RCP tests principal or source keys without the conditions that keep AWS services and other callers apart.",
    what: "In a resource control policy: a statement testing the calling principal \
           (`aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:PrincipalOrgPaths`, \
           `aws:PrincipalArn`) or the source of a service's request (`aws:SourceOrgID`, \
           `aws:SourceAccount`, `aws:SourceOrgPaths`, `aws:SourceArn`) without \
           `aws:PrincipalIsAWSService`; a source key tested without a `Null` check of it. IAM \
           Access Analyzer calls these \"RCP missing related principal condition key\", \"RCP \
           missing related service principal condition key\" and \"RCP missing service \
           condition key null check\".",
    why: "An RCP applies to every caller of the resource, AWS services acting for you \
          included: a perimeter on the principal's organization without \
          `aws:PrincipalIsAWSService` also denies CloudTrail, S3 replication or EBS; source \
          keys are present only on service requests, so without a `Null` check a negated \
          operator also matches every request that has none.",
    example: include_str!("../../../policies/lint/KW139-rcp-condition-keys.json"),
};

const PRINCIPAL_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalorgpaths",
    "aws:principalarn",
];
const SOURCE_KEYS: &[&str] = &[
    "aws:sourceorgid",
    "aws:sourceaccount",
    "aws:sourceorgpaths",
    "aws:sourcearn",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let all: Vec<_> = conditions(&s.node).collect();
        let has = |k: &str| all.iter().any(|c| c.node.key.node.lowercase() == k);
        let service_tested = has("aws:principalisawsservice");
        for c in &all {
            let key = c.node.key.node.lowercase();
            let principal = PRINCIPAL_KEYS.contains(&key.as_str());
            let source = SOURCE_KEYS.contains(&key.as_str());
            if c.node.operator.node.base == BaseOperator::Null || !(principal || source) {
                continue;
            }
            if !service_tested {
                let who = if principal {
                    "AWS services acting for you are caught by it too"
                } else {
                    "it applies to callers that are not services as well"
                };
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` without `aws:PrincipalIsAWSService`: {who}",
                            c.node.key.node
                        ),
                    )
                    .label("add aws:PrincipalIsAWSService"),
                );
            }
            let null_checked = all.iter().any(|d| {
                d.node.operator.node.base == BaseOperator::Null
                    && d.node.key.node.lowercase() == key
            });
            if source && !null_checked {
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!(
                            "`{}` is present only on service requests: check it with `Null`",
                            c.node.key.node
                        ),
                    )
                    .label("add a Null check"),
                );
            }
        }
    }
}
