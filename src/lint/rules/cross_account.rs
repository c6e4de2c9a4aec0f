//! KW301: access from another AWS account.

use std::collections::BTreeMap;

use super::{covered, named_principals, statement_name, statements};
use crate::catalog::{Action, ResourceKind};
use crate::compile::PolicyKind;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};
use crate::policy::ast::{AccountId, Effect, PrincipalId};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW301",
    name: "cross-account-access",
    category: Category::Suggestion,
    kinds: &[DocKind::KeyPolicy],
    summary: "The key policy allows principals of another AWS account.",
    what: "Works out the key's account (from key ARNs in `Resource`, else the account named \
           most often) and reports each `Allow` to a principal of another account, naming the \
           actions it grants that AWS KMS never allows across accounts.",
    why: "Cross-account access is often intended, but it is the access reviewers most need to \
          see: the other account decides, through its own IAM policies, which of its \
          identities can use the key. Only cryptographic operations, CreateGrant, DescribeKey, \
          GetKeyRotationStatus, GetPublicKey, ListGrants, RetireGrant and RevokeGrant work \
          across accounts; granting anything else (key management) to another account has no \
          effect, and usually means the author expected it to.",
    example: include_str!("../../../policies/lint/KW301-cross-account-access.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.kind != PolicyKind::KeyPolicy {
        return;
    }
    let all = statements(ctx);
    let Some(home) = home_account(ctx) else {
        return;
    };
    for (i, s) in all.iter().enumerate() {
        if s.node.effect.node != Effect::Allow {
            continue;
        }
        let never = never_across_accounts(&s.node);
        for p in named_principals(&s.node) {
            if let Some(account) = account_of(&p.node).filter(|a| *a != home) {
                let mut message = format!(
                    "{} allows account {account}; the key is in account {home}",
                    statement_name(i, &s.node)
                );
                if !never.is_empty() {
                    let verb = if never.len() == 1 { "works" } else { "work" };
                    message.push_str(&format!(
                        "; {} never {verb} across accounts, so it has no effect there",
                        list(&never)
                    ));
                }
                out.push(Finding::new(&RULE, p.loc, message).label("another account"));
            }
        }
    }
}

/// The key actions a statement allows that AWS KMS does not offer to
/// another account.
fn never_across_accounts(s: &crate::policy::ast::Statement) -> Vec<String> {
    covered(s)
        .iter()
        .filter(|a| a.info().resource == ResourceKind::Key && !a.info().cross_account())
        .map(|a| a.to_string())
        .collect()
}

/// `a, b and c`, or the first few and a count.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 4;
    match names {
        [one] => one.clone(),
        _ if names.len() <= SHOWN => format!(
            "{} and {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        ),
        _ => format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        ),
    }
}

fn account_of(p: &PrincipalId) -> Option<AccountId> {
    match p {
        PrincipalId::Account(a) => Some(a.clone()),
        PrincipalId::Arn(arn) => arn.split(':').nth(4).and_then(AccountId::parse),
        _ => None,
    }
}

/// The key's account: a KMS key ARN in a `Resource`; else an account whose
/// root the policy lets manage the key (`kms:PutKeyPolicy`, as AWS's default
/// key policy does); else the account the policy names first most often.
fn home_account(ctx: &Context<'_>) -> Option<AccountId> {
    let all = statements(ctx);
    let from_resource = all.iter().find_map(|s| {
        s.node
            .resource
            .as_ref()?
            .node
            .resources
            .iter()
            .find_map(|r| {
                let parts: Vec<&str> = r.node.splitn(6, ':').collect();
                match parts.as_slice() {
                    ["arn", _, "kms", _, account, _] => AccountId::parse(account),
                    _ => None,
                }
            })
    });
    if from_resource.is_some() {
        return from_resource;
    }
    let put = Action::from_operation("PutKeyPolicy");
    let administering = all.iter().find_map(|s| {
        let manages = s.node.effect.node == Effect::Allow
            && put.is_some_and(|a| covered(&s.node).contains(a));
        if !manages {
            return None;
        }
        named_principals(&s.node)
            .iter()
            .find_map(|p| match &p.node {
                PrincipalId::Account(a) => Some(a.clone()),
                _ => None,
            })
    });
    if administering.is_some() {
        return administering;
    }
    let mut counts: BTreeMap<AccountId, (usize, usize)> = BTreeMap::new();
    let mut order = 0;
    for s in all {
        for p in named_principals(&s.node) {
            if let Some(a) = account_of(&p.node) {
                order += 1;
                let entry = counts.entry(a).or_insert((0, order));
                entry.0 += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first)))
        .map(|(a, _)| a)
}
