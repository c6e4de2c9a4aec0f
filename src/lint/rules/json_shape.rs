//! KW145: empty objects where a `Condition` or `Principal` is expected,
//! and condition value lists that mix JSON types.

use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::Node;
use crate::policy::cst::Json;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW145",
    name: "json-shape",
    category: Category::Suggestion,
    kinds: kind::POLICIES,
    summary: "`Condition` or `Principal` is an empty object, or a condition lists values of mixed JSON types.",
    what: "Reads the JSON as written: `\"Condition\": {}`, an operator with `{}`, \
           `\"Principal\": {}` (suggestions), and a value list mixing strings with numbers or \
           Booleans (an error). IAM Access Analyzer calls these \"Empty object condition\", \
           \"Empty object principal\" and \"Invalid condition data type\".",
    why: "An empty object does nothing and reads as if it did; AWS refuses a value list whose \
          members are of different JSON types.",
    example: include_str!("../../../policies/lint/KW145-json-shape.json"),
};

fn walk(node: &Node<Json>, parent: Option<&str>, out: &mut Vec<Finding>) {
    match &node.node {
        Json::Object(members) => {
            for m in members {
                let key = m.key.node.as_str();
                if let Json::Object(inner) = &m.value.node {
                    let empty = inner.is_empty();
                    if empty
                        && (key == "Condition" || key == "Principal" || parent == Some("Condition"))
                    {
                        let what = if parent == Some("Condition") {
                            format!("the `{key}` block is empty")
                        } else {
                            format!("`{key}` is an empty object")
                        };
                        out.push(
                            Finding::new(&RULE, m.value.loc, format!("{what}: it does nothing"))
                                .label("empty"),
                        );
                    }
                }
                if parent == Some("Operator")
                    && let Json::Array(items) = &m.value.node
                {
                    let strings = items.iter().any(|i| matches!(i.node, Json::String(_)));
                    let others = items
                        .iter()
                        .any(|i| matches!(i.node, Json::Number(_) | Json::Bool(_)));
                    if strings && others {
                        out.push(
                                Finding::new(&RULE, m.value.loc, format!("the values of `{key}` mix strings with numbers or Booleans: AWS refuses the policy"))
                                    .with_category(Category::Error)
                                    .label("mixed types")
                                    .help("write every value as a string"),
                            );
                    }
                }
                let next = match parent {
                    Some("Condition") => Some("Operator"),
                    _ if key == "Condition" => Some("Condition"),
                    _ => None,
                };
                walk(&m.value, next, out);
            }
        }
        Json::Array(items) => {
            for i in items {
                walk(i, None, out);
            }
        }
        _ => {}
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.policy.is_none() {
        return;
    }
    walk(ctx.tree, None, out);
}
