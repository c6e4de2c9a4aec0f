//! The audit records a call leaves: CloudTrail-shaped KMS events plus
//! keyward's decisions, for calls the service ran and for requests the
//! server refused before they reached it. Every field is bounded, so a
//! request cannot grow the log by more than a few kilobytes however large
//! it is.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audit::{AuditError, Record};

use super::{Call, Identity, KeyService, KmsError};

/// Longest string kept in a record; longer ones keep their start and say
/// how long they were.
const MAX_STRING: usize = 1024;
/// A key policy is kept whole up to the largest KMS accepts (32 KB).
const MAX_POLICY_STRING: usize = 32 * 1024;
/// Entries kept of an array or object.
const MAX_ENTRIES: usize = 64;
/// Nesting kept.
const MAX_DEPTH: usize = 8;

/// A request the server refused before the service ran it: a bad or
/// missing signature, a credential scope it does not serve, an unknown
/// operation, a refused `X-Keyward-On-Behalf-Of`, a body that is not JSON.
#[derive(Debug, Clone)]
pub struct Refusal<'a> {
    /// The `requestID` the refusal is answered and recorded with.
    pub request_id: &'a str,
    /// The operation, when the request named one this service has.
    pub operation: Option<&'static str>,
    /// The authenticated principal, if the signature checked out.
    pub principal: Option<&'a str>,
    /// The access key id the request claimed.
    pub access_key_id: Option<&'a str>,
    pub source_ip: Option<std::net::IpAddr>,
    pub error_code: &'static str,
    pub message: &'a str,
}

fn truncated(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes]", &s[..end], s.len())
}

/// A copy of `v` within the record bounds (one pass: what is over the
/// bounds is never copied).
fn bounded(v: &Value, depth: usize) -> Value {
    match v {
        Value::String(s) => Value::String(truncated(s, MAX_STRING)),
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => Value::String("…".into()),
        Value::Array(items) => bounded_items(items, depth),
        Value::Object(m) => bounded_members(m.iter(), m.len(), depth),
        other => other.clone(),
    }
}

/// An array within the record bounds.
fn bounded_items(items: &[Value], depth: usize) -> Value {
    let n = items.len();
    let mut out: Vec<Value> = items
        .iter()
        .take(MAX_ENTRIES)
        .map(|x| bounded(x, depth + 1))
        .collect();
    if n > MAX_ENTRIES {
        out.push(Value::String(format!("…[{n} entries]")));
    }
    Value::Array(out)
}

/// An object of `n` members within the record bounds.
fn bounded_members<'v>(
    members: impl Iterator<Item = (&'v String, &'v Value)>,
    n: usize,
    depth: usize,
) -> Value {
    let mut out = Map::new();
    for (k, x) in members.take(MAX_ENTRIES) {
        let x = match (k.as_str(), x) {
            ("Policy", Value::String(p)) => Value::String(truncated(p, MAX_POLICY_STRING)),
            (_, x) => bounded(x, depth + 1),
        };
        out.insert(truncated(k, MAX_STRING), x);
    }
    if n > MAX_ENTRIES {
        out.insert("…".into(), Value::String(format!("{n} entries")));
    }
    Value::Object(out)
}

/// Request members never recorded: secrets, and blobs that would only
/// make the record large.
const UNRECORDED: [&str; 10] = [
    "Plaintext",
    "CiphertextBlob",
    "GrantTokens",
    "GrantToken",
    "Message",
    "Signature",
    "Mac",
    // Imported key material, wrapped, and the token whose private key
    // unwraps it: never in the log together.
    "ImportToken",
    "EncryptedKeyMaterial",
    // A custom key store's password.
    "KeyStorePassword",
];

/// A record's `userIdentity`. Fields in name order: the record's canonical
/// form (see [`Record`]).
#[derive(Serialize)]
struct UserIdentity<'a> {
    #[serde(rename = "accountId")]
    account_id: Option<&'a str>,
    arn: &'a str,
    #[serde(rename = "invokedBy")]
    invoked_by: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// One of a record's `resources`, fields in name order.
#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A record's `keyward` member, fields in name order.
#[derive(Serialize)]
struct Keyward {
    decisions: Value,
    #[serde(rename = "endsRecord", skip_serializing_if = "Option::is_none")]
    ends_record: Option<u64>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    error_detail: Option<String>,
}

impl KeyService {
    pub(super) fn event_time(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.now())
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }

    /// The record of `call`, ended by `error` if it failed; `ends` is the
    /// number of the record its change wrote, when this one says how the
    /// call ended after that.
    pub(super) fn audit_record(
        &self,
        call: &Call<'_>,
        id: &Identity,
        error: Option<&KmsError>,
        ends: Option<u64>,
    ) -> Result<Record, AuditError> {
        let params = match call.input {
            Value::Object(input) => {
                let kept = || {
                    input
                        .iter()
                        .filter(|(k, _)| !UNRECORDED.contains(&k.as_str()))
                };
                let mut params = bounded_members(kept(), kept().count(), 0);
                // The algorithm and message type the call used, also when
                // the request left them to their defaults.
                if let Some(o) = params.as_object_mut() {
                    for (member, value) in &call.effective {
                        o.entry(*member).or_insert_with(|| json!(value));
                    }
                }
                params
            }
            other => bounded(other, 0),
        };
        let mut r = Record::new();
        r.member("eventVersion", &"1.08")?;
        r.member("eventTime", &self.event_time())?;
        r.member("eventSource", &"kms.amazonaws.com")?;
        r.member("eventName", &call.event)?;
        r.member("awsRegion", &self.caller_region(id).as_str())?;
        r.member("sourceIPAddress", &id.source_ip.map(|ip| ip.to_string()))?;
        r.member(
            "userIdentity",
            &UserIdentity {
                account_id: id.caller.account.as_ref().map(|a| a.0.as_str()),
                arn: &id.caller.arn,
                invoked_by: id.via_service.as_deref(),
                kind: id.caller.principal_type(),
            },
        )?;
        r.member("requestParameters", &params)?;
        let resources: Vec<Resource<'_>> = call
            .resources
            .iter()
            .map(|(account, arn)| Resource {
                arn,
                account_id: account,
                kind: "AWS::KMS::Key",
            })
            .collect();
        r.member("resources", &resources)?;
        r.member("eventType", &"AwsApiCall")?;
        r.member("eventID", &call.event_id)?;
        r.member("requestID", &call.request_id)?;
        r.member(
            "keyward",
            &Keyward {
                decisions: bounded_items(&call.decisions, 0),
                ends_record: ends,
                error_detail: error
                    .and_then(|e| e.detail.as_deref())
                    .map(|d| truncated(d, MAX_STRING)),
            },
        )?;
        if let Some(e) = error {
            r.member("errorCode", &e.kind.aws_type())?;
            r.member("errorMessage", &truncated(&e.message, MAX_STRING))?;
        }
        Ok(r)
    }

    /// Records a request the server refused at the edge. Fails closed like
    /// every record: if it cannot be written, the caller answers with an
    /// internal error.
    pub fn record_refusal(&self, r: &Refusal<'_>) -> Result<(), KmsError> {
        let record = json!({
            "eventVersion": "1.08",
            "eventTime": self.event_time(),
            "eventSource": "kms.amazonaws.com",
            "eventName": r.operation,
            "awsRegion": self.region().as_str(),
            "sourceIPAddress": r.source_ip.map(|ip| ip.to_string()),
            "userIdentity": {
                "arn": r.principal.map(|p| truncated(p, MAX_STRING)),
                "accessKeyId": r.access_key_id.map(|k| truncated(k, 128)),
            },
            "errorCode": r.error_code,
            "errorMessage": truncated(r.message, MAX_STRING),
            "eventType": "AwsApiCall",
            "requestID": r.request_id,
            "keyward": {"refusedBy": "server"},
        });
        let head = Record::try_from(record)
            .and_then(|r| self.audit.append(r))
            .map_err(|e| KmsError::internal(format!("request not recorded: {e}")))?;
        self.settle(head.seq)
            .map_err(|e| KmsError::internal(format!("request not recorded: {e}")))
    }
}
