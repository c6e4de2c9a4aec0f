//! KW122: an action that another entry of the same `Action` list already
//! covers.

use super::statements;
use crate::compile::actions_named;
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW122",
    name: "redundant-action",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "An action is also matched by a wildcard in the same list.",
    what: "Reports entries of an `Action` or `NotAction` list whose KMS actions another entry \
           of the list (`kms:*`, `kms:Describe*`) already matches. IAM Access Analyzer calls \
           this \"Redundant action\".",
    why: "The list reads as if the entry added something; removing it makes the statement \
          say what it grants.",
    example: include_str!("../../../policies/lint/KW122-redundant-action.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let Some(action) = &s.node.action else {
            continue;
        };
        let entries = &action.node.actions;
        for (i, a) in entries.iter().enumerate() {
            let mine = actions_named(&a.node.0);
            if mine.is_empty() {
                continue;
            }
            let by = entries.iter().enumerate().find(|(j, b)| {
                *j != i
                    && b.node.0 != a.node.0
                    && (b.node.0.contains('*') || b.node.0.contains('?'))
                    && mine.is_subset(actions_named(&b.node.0))
            });
            if let Some((_, b)) = by {
                out.push(
                    Finding::new(
                        &RULE,
                        a.loc,
                        format!("`{}` is already matched by `{}`", a.node.0, b.node.0),
                    )
                    .label("redundant")
                    .help("remove it"),
                );
            }
        }
    }
}
