//! An explanation as a Mermaid flowchart, for a reviewer to see the path:
//! the caller and request, each policy with its statements (the ones that
//! applied, and for the others the first element that did not match), the
//! caller's grants, and the decision with the statements that made it.

use std::fmt::Write;

use super::render::describe_mismatch;
use super::{Decider, Explanation};
use crate::compile::{Origin, PolicyKind};
use crate::eval::{ContextValue, DecisionKind, Text};

/// Text for a quoted Mermaid label: quotes and angle brackets as entities,
/// so no policy text can close the label or inject markup.
fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out
}

fn statement_name(o: &Origin) -> String {
    match &o.name {
        Some(n) => format!("#{} {n}", o.index),
        None => format!("#{}", o.index),
    }
}

fn decided(deciders: &[Decider], o: &Origin) -> bool {
    deciders
        .iter()
        .any(|d| d.origin.document == o.document && d.origin.index == o.index)
}

impl Explanation {
    /// The explanation as a Mermaid flowchart (`flowchart TD`).
    pub fn render_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let r = &self.request;
        // What the request says (not what keyward derives from the caller).
        let mut context = String::new();
        for (k, v) in &r.context {
            let shown = k.starts_with("kms:EncryptionContext:")
                || matches!(
                    k.as_str(),
                    "kms:ViaService" | "aws:SourceIp" | "aws:SourceVpce"
                );
            if shown {
                let value = match v {
                    ContextValue::One(v) => v.to_string(),
                    ContextValue::Many(vs) => {
                        vs.iter().map(Text::as_str).collect::<Vec<_>>().join(", ")
                    }
                };
                let _ = write!(context, "\n{k} = {value}");
            }
        }
        let _ = writeln!(
            out,
            "  caller[\"{}\"]",
            label(&format!(
                "{}\n{} on {}{context}",
                r.principal, r.action, r.resource
            ))
        );
        let verdict = match self.decision {
            DecisionKind::Allow => "ALLOW",
            DecisionKind::ExplicitDeny => "DENY (explicit)",
            DecisionKind::ImplicitDeny => "DENY (nothing allows it)",
        };
        let _ = writeln!(
            out,
            "  decision{{{{\"{}\"}}}}",
            label(&format!("{verdict}\n{}", self.reason))
        );
        let mut current: Option<(PolicyKind, String)> = None;
        let mut doc_index = 0;
        let mut edges = String::new();
        for (i, s) in self.statements.iter().enumerate() {
            let doc = (s.source, s.origin.document.clone());
            if current.as_ref() != Some(&doc) {
                if current.is_some() {
                    out.push_str("  end\n");
                }
                doc_index += 1;
                let _ = writeln!(
                    out,
                    "  subgraph doc{doc_index}[\"{}\"]",
                    label(&format!("{} {}", s.source, s.origin.document))
                );
                let _ = writeln!(edges, "  caller --> doc{doc_index}");
                current = Some(doc);
            }
            let detail = match (&s.failed, s.applies) {
                (Some(m), _) => format!("no match: {}", describe_mismatch(m)),
                (None, true) => "applies".to_owned(),
                (None, false) => "no match".to_owned(),
            };
            let class = if decided(&self.decided_by, &s.origin) {
                "deciding"
            } else if s.applies {
                "applies"
            } else {
                "nomatch"
            };
            let _ = writeln!(
                out,
                "    s{i}[\"{}\"]:::{class}",
                label(&format!(
                    "{} {}\n{detail}",
                    s.effect,
                    statement_name(&s.origin)
                ))
            );
            if class == "deciding" {
                let _ = writeln!(edges, "  s{i} ==> decision");
            }
        }
        if current.is_some() {
            out.push_str("  end\n");
        }
        let _ = writeln!(
            out,
            "  subgraph grants[\"{}\"]",
            label(&format!(
                "grants: {} for this caller, of {} on the key",
                self.grants.for_caller.len(),
                self.grants.total
            ))
        );
        for (i, g) in self.grants.for_caller.iter().enumerate() {
            let detail = match &g.failed {
                Some(f) => format!("no match: {f}"),
                None if g.allows => "applies".to_owned(),
                None => "no match".to_owned(),
            };
            let class = if decided(&self.decided_by, &g.origin) {
                "deciding"
            } else if g.allows {
                "applies"
            } else {
                "nomatch"
            };
            let _ = writeln!(
                out,
                "    g{i}[\"{}\"]:::{class}",
                label(&format!(
                    "grant {} ({})\n{detail}",
                    g.grant_id,
                    g.operations.join(", ")
                ))
            );
            if class == "deciding" {
                let _ = writeln!(edges, "  g{i} ==> decision");
            }
        }
        out.push_str("  end\n  caller --> grants\n");
        out.push_str(&edges);
        out.push_str(
            "  classDef deciding stroke-width:3px,stroke:#000\n  classDef applies fill:#e8f5e9\n  classDef nomatch fill:#f5f5f5,color:#555\n",
        );
        out
    }
}
