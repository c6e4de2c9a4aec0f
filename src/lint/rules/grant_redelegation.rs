//! KW206: a grant that lets its grantee create more grants.

use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW206",
    name: "grant-redelegation",
    category: Category::Security,
    kinds: &[DocKind::Grants],
    summary: "A grant allows `CreateGrant`: its grantee can pass the access on.",
    what: "Reports grants whose `Operations` include `CreateGrant`.",
    why: "A grantee with `CreateGrant` can create grants for other principals, with the same \
          operations, that outlive the review of the original grant. Access then spreads \
          without any key-policy change to notice.",
    example: include_str!("../../../policies/lint/KW206-grant-redelegation.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for g in ctx.grants {
        for op in &g.node.operations {
            if op.node == "CreateGrant" {
                out.push(
                    Finding::new(
                        &RULE,
                        op.loc,
                        format!(
                            "grant to `{}` lets it create further grants",
                            g.node.grantee_principal.node
                        ),
                    )
                    .label("re-delegation")
                    .help("remove CreateGrant unless the grantee is an AWS service that needs it"),
                );
            }
        }
    }
}
