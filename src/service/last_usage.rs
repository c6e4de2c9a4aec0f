//! GetKeyLastUsage: the last successful cryptographic operation on a key,
//! read from the audit log (as AWS derives it from CloudTrail). The index
//! is built from the log on first use and kept current by every call after.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};

use serde::Serialize;
use serde_json::Value;

use super::access::Reach;
use super::api::{KEY_ID, request};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

request! {
    /// GetKeyLastUsage.
    GetKeyLastUsageRequest { key_id: req String = "KeyId" KEY_ID }
}

/// The operations whose use GetKeyLastUsage reports (the API model's
/// `KeyLastUsageTrackingOperation` values keyward serves).
const TRACKED: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
];

/// One key's last use.
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyLastUsage {
    operation: String,
    timestamp: i64,
    cloud_trail_event_id: String,
    kms_request_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetKeyLastUsageResponse {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_last_usage: Option<KeyLastUsage>,
    tracking_start_date: i64,
    key_creation_date: i64,
}

/// The last use of every key, by key ARN, and when tracking began (the
/// time of the log's first record).
#[derive(Default)]
pub(super) struct UsageIndex {
    by_key: HashMap<String, KeyLastUsage>,
    since: Option<i64>,
}

impl UsageIndex {
    fn note(&mut self, arn: &str, usage: KeyLastUsage) {
        self.since.get_or_insert(usage.timestamp);
        match self.by_key.get(arn) {
            Some(u) if u.timestamp > usage.timestamp => {}
            _ => {
                self.by_key.insert(arn.to_owned(), usage);
            }
        }
    }

    /// Reads every successful tracked call from the audit log.
    fn load(path: &std::path::Path) -> Result<UsageIndex, KmsError> {
        let mut index = UsageIndex::default();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(index),
            Err(e) => return Err(KmsError::internal(format!("audit log: {e}"))),
        };
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| KmsError::internal(format!("audit log: {e}")))?;
            let Ok(r) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let time = r["eventTime"]
                .as_str()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(time::OffsetDateTime::unix_timestamp);
            let Some(time) = time else { continue };
            index.since.get_or_insert(time);
            let name = r["eventName"].as_str().unwrap_or_default();
            if !TRACKED.contains(&name) || r.get("errorCode").is_some() {
                continue;
            }
            let usage = KeyLastUsage {
                operation: name.to_owned(),
                timestamp: time,
                cloud_trail_event_id: r["eventID"].as_str().unwrap_or_default().to_owned(),
                kms_request_id: r["requestID"].as_str().unwrap_or_default().to_owned(),
            };
            for res in r["resources"].as_array().into_iter().flatten() {
                if let Some(arn) = res["ARN"].as_str() {
                    index.note(arn, usage.clone());
                }
            }
        }
        Ok(index)
    }
}

impl KeyService {
    /// Notes a call that succeeded and was recorded, if it is a tracked use.
    pub(super) fn note_usage(&self, call: &Call<'_>) {
        if !TRACKED.contains(&call.event) {
            return;
        }
        let mut guard = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = guard.as_mut() {
            let usage = KeyLastUsage {
                operation: call.event.to_owned(),
                timestamp: self.now(),
                cloud_trail_event_id: call.event_id.clone(),
                kms_request_id: call.request_id.clone(),
            };
            for (_, arn) in &call.resources {
                index.note(arn, usage.clone());
            }
        }
    }

    pub(super) fn get_key_last_usage(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GetKeyLastUsageRequest,
    ) -> Result<GetKeyLastUsageResponse, KmsError> {
        if input.key_id.starts_with("alias/") || input.key_id.contains(":alias/") {
            return Err(KmsError::new(
                ErrorKind::NotFound,
                format!("Invalid keyId '{}'", input.key_id),
            ));
        }
        let (key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        self.authorize(
            call,
            id,
            &key,
            "GetKeyLastUsage",
            Need::Any,
            Facts::default(),
        )?;
        let mut guard = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(UsageIndex::load(&self.audit_path)?);
        }
        let index = guard.as_ref();
        let since = index.and_then(|i| i.since).unwrap_or(key.created);
        Ok(GetKeyLastUsageResponse {
            key_last_usage: index.and_then(|i| i.by_key.get(&key.arn).cloned()),
            key_id: key.key_id,
            tracking_start_date: since.max(key.created),
            key_creation_date: key.created,
        })
    }
}
