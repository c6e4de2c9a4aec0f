//! KW204: a key policy that leaves nobody able to change it.

use super::{covered, is_public, names_kms, statements};
use crate::catalog::Action;
use crate::compile::PolicyKind;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::Span;
use crate::policy::ast::{Effect, PrincipalId, Principals, Statement};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW204",
    name: "key-policy-lockout",
    category: Category::Error,
    kinds: &[DocKind::KeyPolicy],
    summary: "No principal is left able to call `kms:PutKeyPolicy`.",
    what: "Looks for an `Allow` of `kms:PutKeyPolicy` to some principal that no unconditional \
           `Deny` takes away again. Naming the account (delegating to IAM) counts. Reports the \
           policy when there is none.",
    why: "A key policy nobody can change cannot be repaired: the key becomes unmanageable, and \
          AWS support must be involved. AWS refuses such a policy unless \
          `BypassPolicyLockoutSafetyCheck` is set.",
    example: include_str!("../../../policies/lint/KW204-key-policy-lockout.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.kind != PolicyKind::KeyPolicy || ctx.policy.is_none() {
        return;
    }
    let Some(put) = Action::from_operation("PutKeyPolicy") else {
        return;
    };
    let all = statements(ctx);
    // A document none of whose statements names a KMS action, even
    // misspelled (a resource control policy for S3, say), is not a key
    // policy: it locks no key.
    if !all.iter().any(|s| names_kms(&s.node)) {
        return;
    }
    let applies_to_put = |s: &Statement| s.resource.is_some() && covered(s).contains(put);
    let denied_outright = |id: Option<&PrincipalId>| {
        all.iter().any(|d| {
            let d = &d.node;
            d.effect.node == Effect::Deny
                && applies_to_put(d)
                && d.conditions.is_empty()
                && match &d.principal {
                    Some(p) if !p.node.negated => match (&p.node.principals, id) {
                        (Principals::Any, _) => true,
                        (Principals::Listed(ids), Some(id)) => ids.iter().any(|x| x.node == *id),
                        _ => false,
                    },
                    _ => false,
                }
        })
    };
    let someone = all.iter().any(|s| {
        let st = &s.node;
        if st.effect.node != Effect::Allow || !applies_to_put(st) {
            return false;
        }
        match &st.principal {
            Some(p) if p.node.negated || is_public(st) => !denied_outright(None),
            Some(p) => match &p.node.principals {
                Principals::Listed(ids) => ids.iter().any(|id| !denied_outright(Some(&id.node))),
                Principals::Any => !denied_outright(None),
            },
            None => false,
        }
    });
    if someone {
        return;
    }
    let span = ctx
        .policy
        .and_then(|p| {
            p.statements
                .first()
                .map(|s| Span::new(s.loc.start, s.loc.start + 1))
        })
        .unwrap_or_default();
    out.push(
        Finding::new(&RULE, span, "no principal can call kms:PutKeyPolicy under this key policy")
            .label("nobody can change this policy")
            .help("keep a statement that allows kms:PutKeyPolicy to the account (arn:aws:iam::ACCOUNT:root) or a key-administrator role"),
    );
}
