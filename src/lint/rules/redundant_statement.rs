//! KW110: a statement that never applies, or that another statement covers.

use super::{covered, names_kms, statement_name, statements};
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo, kind};
use crate::policy::Span;
use crate::policy::ast::{Principals, Statement};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW110",
    name: "redundant-statement",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "A statement can never match, or another statement with the same effect covers it.",
    what: "Reports statements with no `Action` or `Resource`, statements of a key policy whose \
           actions name no KMS action (in an IAM policy such a statement applies to another \
           service, and is not reported), and statements that another statement of the same effect fully covers: \
           the other names every principal this one does (or `*`), every action, every \
           resource, and asks no condition this one does not.",
    why: "A statement that cannot change any decision misleads reviewers: it looks like a \
          restriction or a grant and is neither. Removing it makes the policy say what it does.",
    example: include_str!("../../../policies/lint/KW110-redundant-statement.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let all = statements(ctx);
    if ctx.policy.is_some() && all.is_empty() {
        out.push(
            Finding::new(
                &RULE,
                Span::new(0, 1.min(ctx.source.text.len())),
                "the policy has no statements: AWS refuses it",
            )
            .with_category(Category::Error)
            .label("no statements"),
        );
        return;
    }
    // A document about another service entirely (no statement names KMS).
    let about_kms = all.iter().any(|s| names_kms(&s.node));
    for (i, s) in all.iter().enumerate() {
        let st = &s.node;
        // AWS refuses a statement without `Action` or `Resource` (IAM
        // Access Analyzer: "Missing action", "Missing resource").
        let missing = if st.action.is_none() {
            Some("`Action`")
        } else if st.resource.is_none() {
            Some("`Resource`")
        } else {
            None
        };
        if let Some(element) = missing {
            out.push(
                Finding::new(
                    &RULE,
                    s.loc,
                    format!(
                        "{} has no {element}: AWS refuses the policy",
                        statement_name(i, st)
                    ),
                )
                .with_category(Category::Error)
                .label("incomplete statement"),
            );
            continue;
        }
        let never = if covered(st).is_empty() && ctx.doc == DocKind::KeyPolicy && about_kms {
            Some("its actions name no AWS KMS action, so it never applies to a key".to_owned())
        } else {
            None
        };
        if let Some(why) = never {
            out.push(
                Finding::new(
                    &RULE,
                    s.loc,
                    format!("{} never applies: {why}", statement_name(i, st)),
                )
                .label("never applies"),
            );
            continue;
        }
        // Report the later of two mutually covering statements only.
        let cover = all
            .iter()
            .enumerate()
            .find(|(j, o)| *j != i && covers(&o.node, st) && (!covers(st, &o.node) || *j < i));
        if let Some((j, o)) = cover {
            out.push(
                Finding::new(
                    &RULE,
                    s.loc,
                    format!(
                        "{} is covered by {}: it cannot change any decision",
                        statement_name(i, st),
                        statement_name(j, &o.node)
                    ),
                )
                .label("redundant")
                .help("remove it, or narrow the covering statement"),
            );
        }
    }
}

/// Whether `a` applies to every request `b` applies to, with the same effect.
fn covers(a: &Statement, b: &Statement) -> bool {
    if a.effect.node != b.effect.node {
        return false;
    }
    let principal = match (&a.principal, &b.principal) {
        (None, None) => true,
        (Some(pa), Some(pb)) if !pa.node.negated && !pb.node.negated => {
            match (&pa.node.principals, &pb.node.principals) {
                (Principals::Any, _) => true,
                (Principals::Listed(x), Principals::Listed(y)) => {
                    y.iter().all(|id| x.iter().any(|o| o.node == id.node))
                }
                _ => false,
            }
        }
        _ => false,
    };
    let resource = match (&a.resource, &b.resource) {
        (Some(ra), Some(rb)) if !ra.node.negated => {
            ra.node.resources.iter().any(|r| r.node == "*")
                || (!rb.node.negated
                    && rb
                        .node
                        .resources
                        .iter()
                        .all(|r| ra.node.resources.iter().any(|o| o.node == r.node)))
        }
        _ => false,
    };
    let conditions = a
        .conditions
        .iter()
        .all(|c| b.conditions.iter().any(|d| d.node == c.node));
    principal && resource && conditions && covered(b).is_subset(covered(a))
}
