//! KW201: `Allow` to every principal without a condition that narrows it.

use super::{conditions, is_public, statement_name, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW201",
    name: "public-principal",
    category: Category::Security,
    kinds: &[DocKind::KeyPolicy],
    summary: "An `Allow` to `\"*\"` without a condition that limits who the caller can be.",
    what: "Reports `Allow` statements whose principal is `\"*\"` (or `{\"AWS\": \"*\"}`) and \
           that have no positive condition on a key that identifies the caller or its origin \
           (`kms:CallerAccount`, `aws:PrincipalAccount`, `aws:PrincipalArn`, \
           `aws:PrincipalOrgID`, `aws:SourceAccount`, `aws:SourceArn`, `aws:SourceVpce`, \
           `kms:ViaService`, ...).",
    why: "`\"*\"` is every AWS identity in every account. Same-account callers need nothing \
          more, and any other account can reach the key as soon as its own IAM policy allows \
          it: the key is public.",
    example: include_str!("../../../policies/lint/KW201-public-principal.json"),
};

/// Keys whose positive conditions limit who the caller is or where the
/// request comes from.
const NARROWING: &[&str] = &[
    "kms:calleraccount",
    "kms:viaservice",
    "kms:granteeprincipal",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:userid",
    "aws:username",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for (i, s) in statements(ctx).iter().enumerate() {
        let st = &s.node;
        if st.effect.node != Effect::Allow || !is_public(st) {
            continue;
        }
        let narrowed = conditions(st).any(|c| {
            let op = c.node.operator.node;
            NARROWING.contains(&c.node.key.node.lowercase().as_str())
                && !op.base.is_negated()
                && !op.if_exists
                && op.qualifier.is_none()
        });
        if narrowed {
            continue;
        }
        let span = st.principal.as_ref().map_or(s.loc, |p| p.loc);
        out.push(
            Finding::new(&RULE, span, format!(
                "{} allows every AWS principal, in any account",
                statement_name(i, st)
            ))
            .label("public")
            .help("name the principals, or add a condition such as \"StringEquals\": {\"kms:CallerAccount\": \"111122223333\"}"),
        );
    }
}
