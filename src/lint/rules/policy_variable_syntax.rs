//! KW132: a policy variable written so that IAM cannot read it.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::Node;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW132",
    name: "policy-variable-syntax",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A `${…}` policy variable is unclosed, empty, holds a space, or an unquoted default.",
    what: "Reports variables in `Action` and `Principal`, where IAM reads them as text, and \
           checks every `${` in `Resource` entries and condition values: it needs a closing \
           `}`, a name, no space in the name, and a default value, if any, in single quotes \
           (`${aws:PrincipalTag/team, 'none'}`). `${*}`, `${?}` and `${$}` stand for the \
           characters. IAM Access Analyzer calls these \"Missing brace in variable\", \"Empty \
           variable\", \"Unsupported space in variable\" and \"Missing quote in variable\".",
    why: "IAM refuses the policy, or reads the text literally, so the value never matches \
          what the variable was meant to stand for.",
    example: include_str!("../../../policies/lint/KW132-policy-variable-syntax.json"),
};

/// The first problem of a value's variables, if any.
fn problem(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Some(format!("`{}` has no closing `}}`", &rest[i..]));
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        if matches!(inner, "*" | "?" | "$") {
            continue;
        }
        let (name, default) = match inner.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim())),
            None => (inner, None),
        };
        if name.trim().is_empty() {
            return Some("`${}` names no variable".into());
        }
        if name.contains(char::is_whitespace) {
            return Some(format!("`${{{inner}}}`: a variable name holds no space"));
        }
        if let Some(d) = default
            && !(d.len() >= 2 && d.starts_with('\'') && d.ends_with('\''))
        {
            return Some(format!(
                "`${{{inner}}}`: the default value goes in single quotes"
            ));
        }
    }
    None
}

fn check_value(v: &Node<String>, out: &mut Vec<Finding>) {
    if let Some(why) = problem(&v.node) {
        out.push(Finding::new(&RULE, v.loc, why).label("not a variable IAM reads"));
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        // Variables are read only in `Resource` and `Condition`.
        let actions = s.node.action.iter().flat_map(|a| a.node.actions.iter());
        for a in actions.filter(|a| a.node.0.contains("${")) {
            out.push(
                Finding::new(
                    &RULE,
                    a.loc,
                    format!(
                        "`{}`: a policy variable in `Action` is read as text",
                        a.node.0
                    ),
                )
                .label("variables work in Resource and Condition"),
            );
        }
        if let Some(p) = &s.node.principal
            && let crate::policy::ast::Principals::Listed(ids) = &p.node.principals
        {
            for id in ids.iter().filter(|id| id.node.to_string().contains("${")) {
                out.push(
                    Finding::new(
                        &RULE,
                        id.loc,
                        format!(
                            "`{}`: a policy variable in `Principal` is read as text",
                            id.node
                        ),
                    )
                    .label("variables work in Resource and Condition"),
                );
            }
        }
        for r in s.node.resource.iter().flat_map(|r| r.node.resources.iter()) {
            check_value(r, out);
        }
        for c in conditions(&s.node) {
            for v in &c.node.values {
                check_value(v, out);
                // KW103 reports variables under the Numeric, Date and IP
                // operators, whose values it parses.
                if c.node.operator.node.base == crate::policy::ast::BaseOperator::Bool
                    && v.node.contains("${")
                {
                    out.push(
                        Finding::new(
                            &RULE,
                            v.loc,
                            format!("`{}`: `Bool` takes no policy variable", v.node),
                        )
                        .label("variables work with String and Arn operators"),
                    );
                }
            }
        }
    }
}
