//! KW205: a grant that allows decrypt with no encryption-context constraint.

use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW205",
    name: "grant-without-constraint",
    category: Category::Security,
    kinds: &[DocKind::Grants],
    summary: "A grant allows decrypt-capable operations with no encryption-context constraint.",
    what: "Reports grants whose `Operations` include `Decrypt`, `ReEncryptFrom`, \
           `GenerateDataKey` or `GenerateDataKeyPair` and that have no \
           `EncryptionContextEquals` or `EncryptionContextSubset` constraint.",
    why: "Without a constraint the grantee can decrypt every ciphertext of the key, for every \
          tenant and record, until someone revokes the grant. A constraint binds the grant to \
          the data it was created for.",
    example: include_str!("../../../policies/lint/KW205-grant-without-constraint.json"),
};

const DECRYPT: &[&str] = &[
    "Decrypt",
    "ReEncryptFrom",
    "GenerateDataKey",
    "GenerateDataKeyPair",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for g in ctx.grants {
        let constrained = g.node.constraints.as_ref().is_some_and(|c| {
            c.node
                .encryption_context_equals
                .as_ref()
                .is_some_and(|m| !m.is_empty())
                || c.node
                    .encryption_context_subset
                    .as_ref()
                    .is_some_and(|m| !m.is_empty())
        });
        if constrained {
            continue;
        }
        for op in &g.node.operations {
            if DECRYPT.contains(&op.node.as_str()) {
                out.push(
                    Finding::new(&RULE, op.loc, format!(
                        "grant to `{}` allows {} on every ciphertext of the key",
                        g.node.grantee_principal.node, op.node
                    ))
                    .label("no encryption-context constraint")
                    .help("add \"Constraints\": {\"EncryptionContextSubset\": {...}} with the context this grantee may use"),
                );
            }
        }
    }
}
