//! An explanation as text for people: the decision, the request, and each
//! statement and grant with why it did or did not apply.

use std::fmt::Write;

use super::{Explanation, Mismatch};
use crate::compile::PolicyKind;
use crate::eval::{ContextValue, PrincipalMatch};

impl Explanation {
    /// The explanation for people.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let r = &self.request;
        let _ = writeln!(out, "decision: {}", self.decision);
        let _ = writeln!(
            out,
            "request:  {} by {} on {}",
            r.action, r.principal, r.resource
        );
        let _ = writeln!(out, "why:      {}", self.reason);
        if !r.same_account {
            let _ = writeln!(
                out,
                "note:     cross-account request (key account {})",
                r.key_account.as_deref().unwrap_or("-")
            );
        }
        let mut last: Option<(PolicyKind, &str)> = None;
        for s in &self.statements {
            if last != Some((s.source, s.origin.document.as_str())) {
                let _ = writeln!(out, "\n{} `{}`:", s.source, s.origin.document);
                last = Some((s.source, s.origin.document.as_str()));
            }
            let mark = if s.applies { "applies " } else { "no match" };
            let _ = writeln!(out, "  {mark} {} {}", s.effect, s.origin);
            match (&s.failed, s.via) {
                (Some(m), _) => {
                    let _ = writeln!(out, "           {}", describe_mismatch(m));
                }
                (None, Some(PrincipalMatch::Account)) if s.source == PolicyKind::KeyPolicy => {
                    let _ = writeln!(
                        out,
                        "           via the caller's account: needs an IAM policy that allows"
                    );
                }
                _ => {}
            }
        }
        if !self
            .statements
            .iter()
            .any(|s| s.source == PolicyKind::IamPolicy)
        {
            let _ = writeln!(out, "\nIAM policy: none given");
        }
        let _ = writeln!(
            out,
            "\ngrants: {} for this caller, of {} on the key",
            self.grants.for_caller.len(),
            self.grants.total
        );
        for g in &self.grants.for_caller {
            let mark = if g.allows { "applies " } else { "no match" };
            let _ = writeln!(
                out,
                "  {mark} grant {} ({})",
                g.grant_id,
                g.operations.join(", ")
            );
            if let Some(f) = &g.failed {
                let _ = writeln!(out, "           {f}");
            }
        }
        out
    }
}

pub(super) fn describe_mismatch(m: &Mismatch) -> String {
    match m {
        Mismatch::NoAction => "statement has no `Action`, so it never applies".into(),
        Mismatch::NoResource => "statement has no `Resource`, so it never applies".into(),
        Mismatch::NotKeyAction => "not consulted: the action is not authorized on a key".into(),
        Mismatch::Action {
            action,
            negated,
            patterns,
        } => {
            let patterns = abbreviate(patterns);
            if *negated {
                format!("NotAction {patterns} excludes {action}")
            } else {
                format!("Action {patterns} does not include {action}")
            }
        }
        Mismatch::Principal { caller, expected } => {
            format!("Principal: {caller} is not {expected}")
        }
        Mismatch::Resource {
            resource,
            negated,
            patterns,
        } => {
            let el = if *negated { "NotResource" } else { "Resource" };
            format!("{el} {} does not admit {resource}", abbreviate(patterns))
        }
        Mismatch::Condition {
            operator,
            key,
            expected,
            actual,
            reason,
        } => {
            let actual = match actual {
                None => "absent".to_owned(),
                Some(ContextValue::One(v)) => format!("{v:?}"),
                Some(ContextValue::Many(v)) => format!("{v:?}"),
            };
            format!("condition {operator} {key} {expected:?}: {reason} (request: {actual})")
        }
        Mismatch::UnresolvedVariable { within, variable } => format!(
            "{within}: the request has no `{variable}` for its policy variable `${{{variable}}}`, so the statement does not apply (AWS: \"any attempt to match it fails and causes the statement to be invalid\")"
        ),
    }
}

/// A list for one line of text: the first few items, then a count.
fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let head: Vec<String> = items.iter().take(SHOWN).map(|s| format!("{s:?}")).collect();
    let more = items.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("[{}, … {more} more]", head.join(", "))
    } else {
        format!("[{}]", head.join(", "))
    }
}
