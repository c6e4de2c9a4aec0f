//! KW115: an alias ARN as the `Resource` of key operations in an IAM policy.

use super::{covered, statements};
use crate::catalog::{Action, ResourceKind};
use crate::compile::PolicyKind;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW115",
    name: "alias-arn-resource",
    category: Category::Warning,
    kinds: &[DocKind::Identity, DocKind::Scp],
    summary: "An alias ARN in an IAM policy's `Resource` matches no request on a key.",
    what: "Reports alias ARNs (`arn:aws:kms:REGION:ACCOUNT:alias/NAME`) in the `Resource` of \
           IAM policy statements that cover operations on keys other than the alias \
           operations themselves (CreateAlias, UpdateAlias, DeleteAlias).",
    why: "AWS KMS authorizes an operation on a key against the key's ARN, whatever alias the \
          caller named it by: \"You cannot use an alias ARN to identify a KMS key in an IAM \
          policy statement.\" An `Allow` on an alias ARN therefore allows nothing and a `Deny` \
          denies nothing. To control access by alias, use the `kms:RequestAlias` or \
          `kms:ResourceAliases` condition keys.",
    example: include_str!("../../../policies/lint/KW115-alias-arn-resource.json"),
};

/// The operations whose resource is the alias itself.
const ALIAS_OPERATIONS: &[&str] = &["CreateAlias", "UpdateAlias", "DeleteAlias"];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.kind != PolicyKind::IamPolicy {
        return;
    }
    for s in statements(ctx) {
        let Some(resource) = &s.node.resource else {
            continue;
        };
        if resource.node.negated {
            continue;
        }
        let key_actions: Vec<Action> = covered(&s.node)
            .iter()
            .filter(|a| {
                a.info().resource == ResourceKind::Key && !ALIAS_OPERATIONS.contains(&a.info().name)
            })
            .collect();
        if key_actions.is_empty() {
            continue;
        }
        let named: Vec<String> = key_actions
            .iter()
            .take(3)
            .map(ToString::to_string)
            .collect();
        let more = if key_actions.len() > 3 { ", ..." } else { "" };
        for r in &resource.node.resources {
            if !is_alias_arn(&r.node) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    r.loc,
                    format!(
                        "`{}` matches no request for {}{more}: KMS authorizes them against the key ARN",
                        r.node,
                        named.join(", ")
                    ),
                )
                .with_category(super::never_matching(
                    s.node.effect.node == crate::policy::ast::Effect::Deny,
                ))
                .label("an alias ARN")
                .help(
                    "name the key ARN, or keep `\"Resource\": \"*\"` and test `kms:RequestAlias` \
                     or `kms:ResourceAliases` in a condition",
                ),
            );
        }
    }
}

fn is_alias_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "kms", _, _, rest] if rest.starts_with("alias/"))
}
