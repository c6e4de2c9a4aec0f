//! KW203: `NotPrincipal` with `Allow`.

use super::{statement_name, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::Effect;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW203",
    name: "not-principal-allow",
    category: Category::Security,
    kinds: &[DocKind::KeyPolicy, DocKind::VpcEndpoint],
    summary: "`NotPrincipal` with `Allow` grants access to everyone not listed.",
    what: "Reports `Allow` statements that use `NotPrincipal`.",
    why: "`NotPrincipal` with `Allow` allows every AWS identity in every account except the \
          ones listed — including anonymous and cross-account callers. AWS recommends against \
          it; name the principals you mean instead.",
    example: include_str!("../../../policies/lint/KW203-not-principal-allow.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for (i, s) in statements(ctx).iter().enumerate() {
        let st = &s.node;
        let Some(p) = &st.principal else { continue };
        if st.effect.node == Effect::Allow && p.node.negated {
            out.push(
                Finding::new(
                    &RULE,
                    p.loc,
                    format!(
                        "{} allows everyone except the principals listed",
                        statement_name(i, st)
                    ),
                )
                .label("NotPrincipal with Allow")
                .help("use `Principal` with the identities that should have access"),
            );
        }
    }
}
