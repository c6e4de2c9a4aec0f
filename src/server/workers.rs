//! Where a service call runs. A cryptographic or read call is short
//! (cached tables and key material, one audit append): it runs on the async
//! worker, without a thread hand-off. A call that commits to the store
//! (fsync), generates an asymmetric key or signs with RSA runs on the
//! blocking pool, so it never holds up the requests sharing its worker; so
//! does every call under audit group commit, which waits for its record's
//! fsync.

use std::sync::Arc;

use serde_json::Value;

use crate::service::{AuditSync, Identity, KmsError};

use super::AppState;

/// Runs one call: its result and the `requestID` of its audit record;
/// `None` if the blocking task did not complete.
pub(super) async fn run_call(
    state: &Arc<AppState>,
    identity: Identity,
    operation: String,
    input: Value,
) -> Option<(Result<Value, KmsError>, String, Identity)> {
    let inline = runs_inline(&operation) && state.service.audit_sync() == AuditSync::Flush;
    if inline {
        let (r, request_id) = state.service.call_traced(&identity, &operation, &input);
        return Some((r, request_id, identity));
    }
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let (r, request_id) = st.service.call_traced(&identity, &operation, &input);
        (r, request_id, identity)
    })
    .await
    .ok()
}

/// Operations short enough to run on an async worker: symmetric
/// cryptography and reads, no store commit.
fn runs_inline(operation: &str) -> bool {
    matches!(
        operation,
        "Encrypt"
            | "Decrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateRandom"
            | "GenerateMac"
            | "VerifyMac"
            | "DescribeKey"
            | "GetKeyPolicy"
            | "GetKeyRotationStatus"
            | "ListAliases"
            | "ListGrants"
            | "ListKeyPolicies"
            | "ListKeyRotations"
            | "ListKeys"
            | "ListResourceTags"
            | "ListRetirableGrants"
    )
}
