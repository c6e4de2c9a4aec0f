//! KW202: a wildcard action that grants decrypt.

use super::{covered, is_public, named_principals, statement_name, statements};
use crate::catalog::Action;
use crate::compile::PolicyKind;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::{Effect, PrincipalId};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW202",
    name: "broad-decrypt",
    category: Category::Security,
    kinds: &[DocKind::KeyPolicy, DocKind::Identity],
    summary: "`kms:Decrypt` is granted only through a wildcard (`kms:*`, `*`, `kms:De*`, `NotAction`).",
    what: "Reports `Allow` statements that cover `kms:Decrypt` without naming it: through \
           `kms:*`, `*`, another wildcard, or `NotAction`. The account-root delegation \
           statement (AWS's default key policy) is not reported: it grants nothing by itself.",
    why: "Decrypt is the permission that turns ciphertext into plaintext. Granted through a \
          wildcard it hides from review: key administrators written as `kms:*` can read every \
          secret the key protects.",
    example: include_str!("../../../policies/lint/KW202-broad-decrypt.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(decrypt) = Action::from_operation("Decrypt") else {
        return;
    };
    for (i, s) in statements(ctx).iter().enumerate() {
        let st = &s.node;
        if st.effect.node != Effect::Allow || is_public(st) {
            continue; // KW201 reports public statements.
        }
        let Some(action) = &st.action else { continue };
        let named = !action.node.negated
            && action
                .node
                .actions
                .iter()
                .any(|a| Action::parse(&a.node.0) == Some(decrypt));
        if named || !covered(st).contains(decrypt) {
            continue;
        }
        let names = named_principals(st);
        let only_roots = ctx.kind == PolicyKind::KeyPolicy
            && !names.is_empty()
            && names
                .iter()
                .all(|p| matches!(p.node, PrincipalId::Account(_)));
        if only_roots {
            continue;
        }
        let how = if action.node.negated {
            "`NotAction`"
        } else {
            "a wildcard"
        };
        out.push(
            Finding::new(&RULE, action.loc, format!(
                "{} grants kms:Decrypt through {how}",
                statement_name(i, st)
            ))
            .label("includes kms:Decrypt")
            .help("list the actions this principal needs; if it must decrypt, name kms:Decrypt, ideally with an encryption-context condition"),
        );
    }
}
