//! KW111: an encryption-context condition that only tests `*`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::BaseOperator;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW111",
    name: "encryption-context-wildcard",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "A `kms:EncryptionContext:` condition whose only value is `*` binds nothing.",
    what: "Reports `StringLike` (or `ForAnyValue:`/`ForAllValues:StringLike`) conditions on \
           encryption-context keys whose every value is `*`.",
    why: "Encryption context is how a ciphertext is bound to its tenant, record or resource. \
          `StringLike \"*\"` only checks that the pair is present, so any tenant's ciphertext \
          is accepted. Pin the value (often with a policy variable), or write `Null: false` if \
          presence is really all you mean.",
    example: include_str!("../../../policies/lint/KW111-encryption-context-wildcard.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let key = c.node.key.node.0.to_ascii_lowercase();
            let context_key =
                key.starts_with("kms:encryptioncontext:") || key == "kms:encryptioncontextkeys";
            let op = c.node.operator.node;
            let only_star = !c.node.values.is_empty()
                && c.node
                    .values
                    .iter()
                    .all(|v| v.node.chars().all(|ch| ch == '*'));
            if context_key && op.base == BaseOperator::StringLike && only_star {
                out.push(
                    Finding::new(&RULE, c.loc, format!(
                        "`{op}` on `{}` with only `*` matches any value",
                        c.node.key.node
                    ))
                    .label("binds nothing")
                    .help("pin the value, e.g. \"${aws:PrincipalTag/tenant}\", or use `Null: false` to require presence"),
                );
            }
        }
    }
}
