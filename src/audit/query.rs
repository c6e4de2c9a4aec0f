//! Reading the audit log back: which records match a question (who, which
//! key, which operation, allowed or not, which encryption context, when),
//! and one record by its request id.
//!
//! The log is read as written, one JSON record per line; a caller checks
//! the chain first (`keyward audit query` does), so what is read is what
//! was recorded.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AuditError;

/// What a record must say to match; `None` matches anything.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// The caller's ARN, or its account id.
    pub principal: Option<String>,
    /// A key id or key ARN among the record's resources.
    pub key: Option<String>,
    /// The operation (`Decrypt`), case-insensitive.
    pub operation: Option<String>,
    pub outcome: Option<Outcome>,
    /// Encryption-context pairs the request carried (any of its
    /// `EncryptionContext`, `SourceEncryptionContext`,
    /// `DestinationEncryptionContext`).
    pub context: Vec<(String, String)>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Allowed,
    /// It was refused: AccessDeniedException.
    Denied,
    /// It failed, for any reason.
    Failed,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "allow" | "allowed" => Some(Outcome::Allowed),
            "deny" | "denied" => Some(Outcome::Denied),
            "error" | "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }

    /// How the call `record` describes ended.
    pub fn of(record: &Value) -> Outcome {
        match record.get("errorCode").and_then(Value::as_str) {
            None => Outcome::Allowed,
            Some("AccessDeniedException") => Outcome::Denied,
            Some(_) => Outcome::Failed,
        }
    }
}

/// Parses an RFC 3339 time (`2026-12-02T10:00:00Z`).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

impl Query {
    pub fn matches(&self, r: &Value) -> bool {
        if let Some(p) = &self.principal {
            let arn = text(r, &["userIdentity", "arn"]);
            let account = text(r, &["userIdentity", "accountId"]);
            if arn != Some(p.as_str()) && account != Some(p.as_str()) {
                return false;
            }
        }
        if let Some(k) = &self.key {
            let resources = r.get("resources").and_then(Value::as_array);
            let hit = resources.is_some_and(|rs| {
                rs.iter()
                    .filter_map(|x| x.get("ARN").and_then(Value::as_str))
                    .any(|arn| arn == k || arn.rsplit_once("key/").is_some_and(|(_, id)| id == k))
            });
            if !hit {
                return false;
            }
        }
        if let Some(op) = &self.operation
            && !text(r, &["eventName"]).is_some_and(|e| e.eq_ignore_ascii_case(op))
        {
            return false;
        }
        if let Some(o) = self.outcome {
            let actual = Outcome::of(r);
            let ok = match o {
                Outcome::Failed => actual != Outcome::Allowed,
                other => actual == other,
            };
            if !ok {
                return false;
            }
        }
        for (k, v) in &self.context {
            let params = r.get("requestParameters");
            let carried = [
                "EncryptionContext",
                "SourceEncryptionContext",
                "DestinationEncryptionContext",
            ]
            .iter()
            .any(|m| {
                params
                    .and_then(|p| p.get(m))
                    .and_then(|c| c.get(k))
                    .and_then(Value::as_str)
                    == Some(v.as_str())
            });
            if !carried {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = text(r, &["eventTime"]).and_then(parse_time) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        true
    }
}

fn io(e: std::io::Error) -> AuditError {
    AuditError::Io(e.to_string())
}

/// Every record of the log at `path` that `query` matches, in order. A
/// line that is not JSON (a record torn by a crash, which `verify` also
/// reports) is skipped.
pub fn select(path: &Path, query: &Query) -> Result<Vec<Value>, AuditError> {
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(io)?;
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if query.matches(&record) {
            out.push(record);
        }
    }
    Ok(out)
}

/// The record of the call with this `requestID` (or `eventID`).
pub fn find(path: &Path, request_id: &str) -> Result<Option<Value>, AuditError> {
    let file = std::fs::File::open(path).map_err(io)?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(io)?;
        if !line.contains(request_id) {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if text(&record, &["requestID"]) == Some(request_id)
            || text(&record, &["eventID"]) == Some(request_id)
        {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// One line for people: time, request id, operation, outcome, caller,
/// keys, encryption context.
pub fn summary(r: &Value) -> String {
    let keys: Vec<&str> = r
        .get("resources")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|x| x.get("ARN").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let outcome = match Outcome::of(r) {
        Outcome::Allowed => "allowed".to_owned(),
        _ => text(r, &["errorCode"]).unwrap_or("failed").to_owned(),
    };
    let context = r
        .get("requestParameters")
        .and_then(|p| p.get("EncryptionContext"))
        .and_then(Value::as_object)
        .map(|c| {
            let pairs: Vec<String> = c
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            format!(" context {{{}}}", pairs.join(", "))
        })
        .unwrap_or_default();
    format!(
        "{} {} {} {} by {} on {}{context}",
        text(r, &["eventTime"]).unwrap_or("-"),
        text(r, &["requestID"]).unwrap_or("-"),
        text(r, &["eventName"]).unwrap_or("-"),
        outcome,
        text(r, &["userIdentity", "arn"]).unwrap_or("-"),
        if keys.is_empty() {
            "-".to_owned()
        } else {
            keys.join(", ")
        },
    )
}
