//! `keyward audit query` and `keyward audit explain`: the audit log read
//! back, after its chain checks.

use std::io::Write;
use std::path::PathBuf;

use keyward::audit::query::{self, Outcome, Query};
use keyward::service::DataDir;
use serde_json::{Value, json};

use super::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum QueryFormat {
    Text,
    Json,
}

/// The filters of `keyward audit query`.
#[derive(Debug, clap::Args)]
pub(super) struct QueryArgs {
    /// The caller's ARN, or its account id.
    #[arg(long)]
    principal: Option<String>,
    /// A key id or key ARN.
    #[arg(long)]
    key: Option<String>,
    /// The operation, e.g. Decrypt.
    #[arg(long)]
    operation: Option<String>,
    /// allow (succeeded), deny (AccessDeniedException) or error (failed).
    #[arg(long, value_parser = parse_outcome)]
    decision: Option<Outcome>,
    /// An encryption-context pair the request carried (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Records at or after this time (RFC 3339, e.g. 2026-12-02T10:00:00Z).
    #[arg(long, value_parser = parse_time)]
    since: Option<time::OffsetDateTime>,
    /// Records at or before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<time::OffsetDateTime>,
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    Outcome::parse(s).ok_or_else(|| format!("`{s}` is not allow, deny or error"))
}

fn parse_time(s: &str) -> Result<time::OffsetDateTime, String> {
    query::parse_time(s)
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 time (2026-12-02T10:00:00Z)"))
}

/// Refuses to read a log whose chain does not check.
fn verified(dir: &DataDir) -> miette::Result<PathBuf> {
    let path = dir.audit_log();
    match super::audit::verify_with_keys(dir, &path, None)? {
        Ok(_) => Ok(path),
        Err(e) => Err(miette::miette!(
            "the audit log does not verify, so it is not read: {e} (see `keyward audit verify`)"
        )),
    }
}

pub(super) fn query_cmd(
    dir: &DataDir,
    a: QueryArgs,
    format: QueryFormat,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let path = verified(dir)?;
    let mut context = Vec::new();
    for c in &a.context {
        let (k, v) = c.split_once('=').ok_or_else(|| {
            miette::miette!(
                code = "keyward::usage",
                "--context takes KEY=VALUE, not `{c}`"
            )
        })?;
        context.push((k.to_owned(), v.to_owned()));
    }
    let q = Query {
        principal: a.principal,
        key: a.key,
        operation: a.operation,
        outcome: a.decision,
        context,
        since: a.since,
        until: a.until,
    };
    let records = query::select(&path, &q).map_err(|e| miette::miette!("{e}"))?;
    let text = match format {
        QueryFormat::Text => {
            let mut t: String = records.iter().map(|r| query::summary(r) + "\n").collect();
            t.push_str(&format!("{} records\n", records.len()));
            t
        }
        QueryFormat::Json => {
            serde_json::to_string_pretty(&records).map_err(|e| miette::miette!("{e}"))? + "\n"
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::Ok)
}

pub(super) fn explain_cmd(
    dir: &DataDir,
    request_id: &str,
    identities: Option<PathBuf>,
    format: QueryFormat,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let path = verified(dir)?;
    let record = query::find(&path, request_id)
        .map_err(|e| miette::miette!("{e}"))?
        .ok_or_else(|| {
            miette::miette!("no record of request `{request_id}` in {}", path.display())
        })?;
    let principal = record
        .pointer("/userIdentity/arn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let identities_path = identities.unwrap_or_else(|| dir.root.join("identities.json"));
    let identity = match keyward::server::identities::Identities::load(&identities_path) {
        Ok(ids) => ids.by_principal(&principal).map(|e| e.identity.clone()),
        Err(_) => None,
    };
    let identity = match identity {
        Some(i) => i,
        // A caller no longer in the identities file: decided with no IAM
        // policy, as AWS would for a principal whose policies are gone.
        None => keyward::service::Identity::new(
            keyward::eval::Caller::parse(&principal).map_err(|e| miette::miette!("{e}"))?,
        ),
    };
    let today =
        keyward::service::decide_again(dir, &identity, &record).map_err(|e| miette::miette!("{e}"));
    let recorded = record
        .pointer("/keyward/decisions")
        .cloned()
        .unwrap_or(json!([]));
    let text = match format {
        QueryFormat::Json => {
            let today = match &today {
                Ok(Some(e)) => serde_json::to_value(e).unwrap_or(Value::Null),
                Ok(None) => Value::Null,
                Err(e) => json!({"error": e.to_string()}),
            };
            serde_json::to_string_pretty(&json!({
                "record": record, "recorded": recorded, "today": today
            }))
            .map_err(|e| miette::miette!("{e}"))?
                + "\n"
        }
        QueryFormat::Text => {
            let mut t = format!("{}\n", query::summary(&record));
            for d in recorded.as_array().into_iter().flatten() {
                t.push_str(&format!(
                    "recorded: {} {}: {}\n",
                    d["decision"].as_str().unwrap_or("-"),
                    d["action"].as_str().unwrap_or("-"),
                    d["reason"].as_str().unwrap_or("-")
                ));
            }
            match &today {
                Ok(Some(e)) => {
                    let last = recorded
                        .as_array()
                        .and_then(|d| d.last())
                        .and_then(|d| d["decision"].as_str())
                        .unwrap_or_default();
                    let verdict = if last == e.decision.to_string() {
                        "the same as recorded"
                    } else {
                        "CHANGED since the call: the policies or grants are not what they were"
                    };
                    t.push_str(&format!("today:    {} ({verdict})\n\n", e.decision));
                    t.push_str(&e.render_text());
                }
                Ok(None) => t.push_str("today:    not an operation keyward authorizes\n"),
                Err(e) => t.push_str(&format!("today:    cannot decide again: {e}\n")),
            }
            t
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::Ok)
}
