//! KW208: a key policy that lets an AWS service use the key for anyone.

use super::{conditions, named_principals, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::{Effect, PrincipalId};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW208",
    name: "service-principal-unrestricted",
    category: Category::Security,
    kinds: &[DocKind::KeyPolicy],
    summary: "A service principal is allowed the key without `aws:SourceAccount` or `aws:SourceArn`.",
    what: "Reports `Allow` statements naming a service principal (`{\"Service\": \
           \"cloudtrail.amazonaws.com\"}`) with no condition on `aws:SourceAccount`, \
           `aws:SourceArn`, `aws:SourceOrgID` or `aws:SourceOrgPaths`, nor on an encryption \
           context key (which the service sets to the resource it acts for, such as \
           `kms:EncryptionContext:aws:logs:arn`). IAM Access Analyzer calls this \"Restrict \
           access to service principal\".",
    why: "A service acts for every customer of that service. Without a source condition, \
          another account can point its own resource of that service (a trail, a log group, a \
          topic) at your key and have the service use it on its behalf: the confused deputy.",
    example: include_str!("../../../policies/lint/KW208-service-principal-unrestricted.json"),
};

const SOURCE_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        if s.node.effect.node != Effect::Allow {
            continue;
        }
        let services: Vec<_> = named_principals(&s.node)
            .iter()
            .filter(|p| matches!(p.node, PrincipalId::Service(_)))
            .collect();
        if services.is_empty() {
            continue;
        }
        let bound = conditions(&s.node).any(|c| {
            let key = c.node.key.node.lowercase();
            SOURCE_KEYS.contains(&key.as_str()) || key.starts_with("kms:encryptioncontext:")
        });
        if bound {
            continue;
        }
        for p in services {
            out.push(
                Finding::new(
                    &RULE,
                    p.loc,
                    format!(
                        "{} may use the key for any account's resources: add a condition on `aws:SourceAccount` or `aws:SourceArn`",
                        p.node
                    ),
                )
                .label("for whom?")
                .help("e.g. \"Condition\": {\"StringEquals\": {\"aws:SourceAccount\": \"111122223333\"}}"),
            );
        }
    }
}
