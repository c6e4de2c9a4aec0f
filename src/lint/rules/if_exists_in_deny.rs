//! KW107: `...IfExists` in a `Deny`.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::{BaseOperator, Effect};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW107",
    name: "if-exists-in-deny",
    category: Category::Warning,
    kinds: kind::POLICIES,
    summary: "An `...IfExists` condition in a `Deny` silently passes when the key is missing.",
    what: "Reports non-negated `IfExists` operators in `Deny` statements. A negated operator \
           (`StringNotEqualsIfExists`, `ArnNotLikeIfExists`, ...) already matches when the key \
           is missing, so `IfExists` changes nothing there: data-perimeter denies written that \
           way are not reported.",
    why: "`IfExists` makes the condition true whenever the request lacks the key, so the deny \
          also applies to every request without it — including every action that never \
          carries the key — while reading as if it only looked at requests that have it. State \
          the missing-key case explicitly with a separate `Null` condition instead.",
    example: include_str!("../../../policies/lint/KW107-if-exists-in-deny.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        if s.node.effect.node != Effect::Deny {
            continue;
        }
        for c in conditions(&s.node) {
            let op = c.node.operator.node;
            // A negated operator matches a missing key with or without
            // `IfExists`: the deny means what it reads. So does
            // `BoolIfExists` with only `false`: "deny unless true", AWS's
            // documented pattern for MFA and data perimeters, where a
            // missing key is meant to be denied.
            let unless_true = op.base == BaseOperator::Bool
                && !c.node.values.is_empty()
                && c.node
                    .values
                    .iter()
                    .all(|v| v.node.eq_ignore_ascii_case("false"));
            if op.if_exists && !op.base.is_negated() && !unless_true {
                out.push(
                    Finding::new(&RULE, c.node.operator.loc, format!(
                        "`{op}` in a Deny passes when `{}` is missing, so the deny applies to every request without it",
                        c.node.key.node
                    ))
                    .label("true when the key is missing")
                    .help(format!(
                        "write `{}` and decide the missing-key case with a separate `Null` condition",
                        op.base.name()
                    )),
                );
            }
        }
    }
}
