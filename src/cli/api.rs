//! `keyward api`: the AWS KMS operations keyward serves and the request
//! model each is checked against.

use std::io::Write;

use keyward::service::API_MODEL;
use keyward::service::api::{Member, Rule, model_json};

use super::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// `text` (one line per member) or `json` (the whole model).
    #[arg(long, default_value = "text")]
    format: String,
}

pub fn run(a: &ApiArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let text = match a.format.as_str() {
        "json" => {
            serde_json::to_string_pretty(&model_json()).map_err(|e| miette::miette!("{e}"))? + "\n"
        }
        "text" => {
            let mut s = String::new();
            for op in API_MODEL {
                s.push_str(op.name);
                s.push('\n');
                for m in op.members {
                    s.push_str(&format!("  {}\n", member_line(m)));
                }
            }
            s
        }
        other => miette::bail!("unknown format `{other}`; use text or json"),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::Ok)
}

fn member_line(m: &Member) -> String {
    let required = if m.required { " (required)" } else { "" };
    format!("{}{required}: {}", m.name, describe(&m.rule))
}

fn describe(rule: &Rule) -> String {
    let range = |min: Option<String>, max: Option<String>| match (min, max) {
        (Some(lo), Some(hi)) => format!(" {lo}..{hi}"),
        (Some(lo), None) => format!(" >= {lo}"),
        (None, Some(hi)) => format!(" <= {hi}"),
        (None, None) => String::new(),
    };
    let s = |n: &Option<u64>| n.map(|n| n.to_string());
    match rule {
        Rule::Text { min, max, pattern } => format!(
            "string{}{}",
            range(s(min), s(max)),
            pattern
                .map(|p| format!(" matching {p}"))
                .unwrap_or_default()
        ),
        Rule::Enum(values) => format!("one of {}", values.join(", ")),
        Rule::Integer { min, max } => format!(
            "integer{}",
            range(min.map(|n| n.to_string()), max.map(|n| n.to_string()))
        ),
        Rule::Boolean => "boolean".into(),
        Rule::Timestamp => "timestamp (seconds since the Unix epoch)".into(),
        Rule::Blob { min, max } => format!("base64 bytes{}", range(s(min), s(max))),
        Rule::StringMap => "map of strings".into(),
        Rule::List { min, max, item } => {
            format!("list{} of {}", range(s(min), s(max)), describe(item))
        }
        Rule::Structure(members) => {
            let inner: Vec<String> = members.iter().map(member_line).collect();
            format!("{{ {} }}", inner.join("; "))
        }
    }
}
