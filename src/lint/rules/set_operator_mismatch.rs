//! KW105: a set operator on a single-valued key, or a plain operator on a
//! multivalued key.

use super::{conditions, statements};
use crate::catalog::{self, KeyType};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::SetQualifier;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW105",
    name: "set-operator-mismatch",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "`ForAllValues:`/`ForAnyValue:` on a single-valued key, or neither on a multivalued key.",
    what: "Checks that set qualifiers are used with multivalued keys (`kms:EncryptionContextKeys`, \
           `kms:GrantOperations`, `aws:TagKeys`, ...) and only with them. `ForAllValues:` on a \
           `kms:EncryptionContext:*` key is reported as a security problem.",
    why: "`ForAllValues:` is true when the key is missing, so on a single-valued key it allows \
          requests without it — AWS calls this overly permissive. A plain operator never \
          matches a multivalued key that holds more than one value.",
    example: include_str!("../../../policies/lint/KW105-set-operator-mismatch.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            let key = c.node.key.node.0.as_str();
            let Some(info) = catalog::condition_key(key) else {
                continue;
            };
            let multivalued = info.ty == KeyType::ArrayOfString;
            match (op.qualifier, multivalued) {
                (Some(SetQualifier::ForAllValues), false)
                    if info.name.eq_ignore_ascii_case("kms:EncryptionContext:") =>
                {
                    out.push(
                        Finding::new(&RULE, c.node.operator.loc, format!(
                            "`{op}` on `{key}` is true when the request has no such context key"
                        ))
                        .with_category(Category::Security)
                        .label("overly permissive")
                        .help(format!("use `{}` to require the value", op.base.name())),
                    );
                }
                (Some(q), false) => out.push(
                    Finding::new(&RULE, c.node.operator.loc, format!(
                        "`{op}` on `{key}`, which has a single value"
                    ))
                    .label(match q {
                        SetQualifier::ForAllValues => "true when the key is missing",
                        SetQualifier::ForAnyValue => "needless set qualifier",
                    })
                    .help(format!("use `{}` without the qualifier", op.base.name())),
                ),
                (None, true) if op.base != crate::policy::ast::BaseOperator::Null => out.push(
                    Finding::new(&RULE, c.node.operator.loc, format!(
                        "`{op}` on `{key}`, which can hold several values"
                    ))
                    .label("never matches more than one value")
                    .help(format!(
                        "use `ForAnyValue:{op}` (some value matches) or `ForAllValues:{op}` (every value matches)"
                    )),
                ),
                _ => {}
            }
        }
    }
}
