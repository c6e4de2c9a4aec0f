//! A recorded call decided again under today's key policy and grants
//! (`keyward audit explain`), read from the store without opening the
//! audit log or changing anything.
//!
//! The request is rebuilt from the record: the caller, the operation, the
//! key, the encryption context, the calling service and source address,
//! at the recorded time. Request members that only some operations carry
//! (algorithms, grant tokens, an alias used) are not in the record and so
//! are not replayed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::Action;
use crate::compile::DecisionTable;
use crate::eval::{self, Explanation};
use crate::scope::{KeyRef, Region};

use super::access::build_request;
use super::tables::load_tables;
use super::{DataDir, Facts, Identity, KmsError};

/// Today's decision on the call `record` describes, by `id` (its caller, as
/// the identities file describes them now); `None` for a record of no
/// operation keyward authorizes (a refusal at the edge).
pub fn decide_again(
    dir: &DataDir,
    id: &Identity,
    record: &Value,
) -> Result<Option<Explanation>, KmsError> {
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(record, |v, k| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let Some(action) = text(&["eventName"]).and_then(|op| Action::from_operation(&op)) else {
        return Ok(None);
    };
    let mut id = id.clone();
    id.via_service = text(&["userIdentity", "invokedBy"]);
    id.source_ip = text(&["sourceIPAddress"]).and_then(|ip| ip.parse().ok());
    let region = text(&["awsRegion"])
        .and_then(|r| Region::parse(&r))
        .ok_or_else(|| KmsError::internal("the record names no Region"))?;
    let now = text(&["eventTime"])
        .and_then(|t| crate::audit::query::parse_time(&t))
        .map_or(0, |t| t.unix_timestamp());
    let mut context = BTreeMap::new();
    if let Some(c) = record
        .get("requestParameters")
        .and_then(|p| p.get("EncryptionContext"))
        .and_then(Value::as_object)
    {
        for (k, v) in c {
            context.insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    let facts = Facts {
        context: std::borrow::Cow::Owned(context),
        ..Facts::default()
    };
    let key_arn = record
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|rs| rs.first())
        .and_then(|r| r.get("ARN"))
        .and_then(Value::as_str);
    let store = dir.open_store()?;
    let Some(arn) = key_arn else {
        // A call on no key: the caller's IAM policies alone decide.
        let table = DecisionTable::from_parts(
            std::sync::Arc::new(super::access::no_key_policy()?),
            id.iam_policies.clone(),
            std::sync::Arc::default(),
        );
        let req = build_request(&id, action, None, &facts, now);
        return Ok(Some(eval::explain(&table, &req)));
    };
    let Ok(KeyRef::KeyArn(scope, key_id)) = KeyRef::parse(arn, &region) else {
        return Err(KmsError::internal(format!(
            "the record names `{arn}`, not a key ARN"
        )));
    };
    let key = store
        .key(&scope, &key_id)?
        .ok_or_else(|| KmsError::not_found(format!("Key '{arn}' does not exist any more")))?;
    let tables = load_tables(&store, &key)?;
    let table = DecisionTable::from_parts(tables.policy, id.iam_policies.clone(), tables.grants);
    let req = build_request(&id, action, Some(&key), &facts, now);
    Ok(Some(eval::explain(&table, &req)))
}
