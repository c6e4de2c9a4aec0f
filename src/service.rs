//! The key service: keys, aliases, rotation, envelope encryption, key
//! policies and grants, persisted in the embedded store, every request
//! authorized by the compiled decision table and recorded in the audit log.
//!
//! Operations take and return the AWS KMS JSON shapes (`serde_json::Value`
//! with AWS's field names; blobs base64), so the HTTP server is a thin
//! adapter: [`KeyService::call`] is the whole API.

mod access;
mod aliases;
mod cryptographic;
mod data_dir;
pub mod err;
mod fields;
mod grants;
mod journal;
mod keys;
mod policies;
mod rotation;
mod tags;
mod trail;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};

pub use data_dir::{DataDir, write_private};
pub use err::{ErrorKind, KmsError};
pub use journal::AuditKeys;
pub use trail::Refusal;

use access::compile_key_policy;

use crate::audit::AuditLog;
use crate::compile::{CompiledPolicy, GrantIndex};
use crate::crypto::RootKey;
use crate::eval::{Caller, ContextValue, Explanation};
use crate::scope::{Region, Scope};
use crate::store::{KeyRecord, Store};

/// Who is calling, as the server authenticated them.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Caller,
    /// IAM identity policies attached to the caller.
    pub iam_policies: Vec<Arc<CompiledPolicy>>,
    pub tags: BTreeMap<String, String>,
    /// `kms:ViaService`, set only for a trusted service acting for the caller.
    pub via_service: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// The Region the caller signed for (the SigV4 credential scope, which
    /// the server has checked); the service's own Region when unset.
    pub region: Option<Region>,
}

impl Identity {
    pub fn new(caller: Caller) -> Identity {
        Identity {
            caller,
            iam_policies: Vec::new(),
            tags: BTreeMap::new(),
            via_service: None,
            source_ip: None,
            secure_transport: false,
            region: None,
        }
    }

    pub fn with_iam_policy(mut self, p: CompiledPolicy) -> Identity {
        self.iam_policies.push(Arc::new(p));
        self
    }
}

/// Seconds since the Unix epoch; replaceable in tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

/// The compiled policy and grants of one key, cached until they change.
struct KeyTables {
    policy: Arc<CompiledPolicy>,
    grants: Arc<GrantIndex>,
}

/// The key service over one data directory.
pub struct KeyService {
    store: Store,
    root: RootKey,
    audit: AuditLog,
    /// The Region of callers that name none (the CLI).
    region: Region,
    clock: Clock,
    tables: RwLock<HashMap<String, Arc<KeyTables>>>,
    /// Key records, read through from the store. keyward serves one data
    /// directory from one process, so the cache is the store's truth.
    records: RwLock<HashMap<String, KeyRecord>>,
    /// Sealed key material by (key id, version): immutable once written.
    sealed: RwLock<SealedCache>,
    /// The key policy of calls on no key (CreateKey, ListKeys, ...): none,
    /// so only the caller's IAM policies decide.
    no_key_policy: Arc<CompiledPolicy>,
    /// The last head [`KeyService::anchor_audit`] anchored.
    anchored: AtomicU64,
}

/// Sealed key material by (key id, version).
type SealedCache = HashMap<(String, u32), Arc<Vec<u8>>>;

/// What one call records in the audit log.
struct Call {
    event: &'static str,
    /// The record written with the call's change, if it made one.
    recorded: Option<u64>,
    resources: Vec<(String, String)>,
    decisions: Vec<Value>,
}

impl Call {
    fn record(&mut self, key: &KeyRecord, explanation: &Explanation) {
        self.resources
            .push((key.scope.account.0.clone(), key.arn.clone()));
        self.record_account(explanation);
    }

    /// Allowed calls record what allowed them; denied calls record the whole
    /// explanation: every statement and the element that failed.
    fn record_account(&mut self, explanation: &Explanation) {
        let mut d = json!({
            "action": explanation.request.action,
            "decision": explanation.decision,
            "reason": explanation.reason,
            "decidedBy": explanation.decided_by,
        });
        if let (false, Some(o)) = (explanation.decision.is_allow(), d.as_object_mut()) {
            o.insert("statements".into(), json!(explanation.statements));
            o.insert("grants".into(), json!(explanation.grants));
        }
        self.decisions.push(d);
    }
}

/// A key's state requirement for an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Enabled; a disabled key gives DisabledException.
    Usable,
    /// Anything but PendingDeletion.
    NotPending,
    Any,
}

/// Extra request facts for authorization.
#[derive(Default)]
struct Facts {
    context: BTreeMap<String, String>,
    alias: Option<String>,
    extra: Vec<(String, ContextValue)>,
}

impl Facts {
    /// Facts holding one single-valued condition key.
    fn one(key: &str, value: impl Into<String>) -> Facts {
        Facts {
            extra: vec![(key.to_owned(), ContextValue::One(value.into()))],
            ..Facts::default()
        }
    }
}

const MAX_PLAINTEXT: usize = 4096;
const MAX_POLICY: usize = 32 * 1024;
const MAX_GRANTS_PER_KEY: usize = 50_000;

impl KeyService {
    /// Opens the service over an initialized data directory.
    pub fn open(dir: &DataDir, region: &str) -> Result<KeyService, KmsError> {
        let root = dir.load_root_key()?;
        let store = Store::open(&dir.database())?;
        let keys = AuditKeys::load_or_create(&store, &root)?;
        let anchor = store.audit_anchor()?;
        let audit = AuditLog::open(&dir.audit_log(), keys.chain, anchor.as_ref()).map_err(|e| {
            KmsError::internal(format!(
                "{e}; keyward will not continue a damaged audit log (run `keyward audit verify`, then restore the log or move it aside)"
            ))
        })?;
        Ok(KeyService {
            store,
            root,
            audit,
            region: Region::parse(region)
                .ok_or_else(|| KmsError::internal(format!("`{region}` is not a Region name")))?,
            clock: system_clock(),
            tables: RwLock::new(HashMap::new()),
            records: RwLock::new(HashMap::new()),
            sealed: RwLock::new(HashMap::new()),
            anchored: AtomicU64::new(anchor.map_or(0, |a| a.head.seq)),
            no_key_policy: Arc::new(compile_key_policy(
                "none",
                r#"{"Version": "2012-10-17", "Statement": []}"#,
            )?),
        })
    }

    /// Replaces the clock (tests move time forward).
    pub fn with_clock(mut self, clock: Clock) -> KeyService {
        self.clock = clock;
        self
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The Region a call is made in.
    fn caller_region<'a>(&'a self, id: &'a Identity) -> &'a Region {
        id.region.as_ref().unwrap_or(&self.region)
    }

    /// The caller's own account and Region: where bare key ids and alias
    /// names resolve, and what listings show. A service principal has no
    /// account, so none.
    fn caller_scope(&self, id: &Identity) -> Option<Scope> {
        let account = id.caller.account.clone()?;
        Some(Scope::new(account, self.caller_region(id).clone()))
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Flushes the audit log to disk and anchors its head (on shutdown).
    pub fn sync(&self) -> Result<(), KmsError> {
        self.anchor_audit()
    }

    /// Runs one operation by its API name with its JSON request, records it
    /// in the audit log, and returns its JSON response. If the audit record
    /// cannot be written the call fails, whatever the operation returned.
    pub fn call(&self, id: &Identity, operation: &str, input: &Value) -> Result<Value, KmsError> {
        let Some(event) = OPERATIONS.iter().find(|o| **o == operation) else {
            return Err(KmsError::new(
                ErrorKind::UnknownOperation,
                format!("unknown operation `{operation}`"),
            ));
        };
        let mut call = Call {
            event,
            recorded: None,
            resources: Vec::new(),
            decisions: Vec::new(),
        };
        let input = if input.is_null() {
            &Value::Object(Map::new())
        } else {
            input
        };
        let result = if input.is_object() {
            fields::check_lengths(input).and_then(|()| self.dispatch(&mut call, id, input))
        } else {
            Err(KmsError::new(
                ErrorKind::Serialization,
                "the request body must be a JSON object",
            ))
        };
        // A change's record was written as it committed. If the call failed
        // after that, a second record says how it ended.
        let record = match (call.recorded, result.as_ref()) {
            (Some(_), Ok(_)) => None,
            (Some(seq), Err(e)) => {
                let mut r = self.audit_record(&call, id, input, Some(e));
                r["keyward"]["endsRecord"] = json!(seq);
                Some(r)
            }
            (None, r) => Some(self.audit_record(&call, id, input, r.err())),
        };
        if let Some(record) = record {
            self.audit
                .append(record)
                .map_err(|e| KmsError::internal(format!("request not completed: {e}")))?;
        }
        result
    }

    fn dispatch(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        match call.event {
            "CreateKey" => self.create_key(call, id, input),
            "DescribeKey" => self.describe_key(call, id, input),
            "ListKeys" => self.list_keys(call, id, input),
            "EnableKey" => self.set_enabled(call, id, input, true),
            "DisableKey" => self.set_enabled(call, id, input, false),
            "ScheduleKeyDeletion" => self.schedule_deletion(call, id, input),
            "CancelKeyDeletion" => self.cancel_deletion(call, id, input),
            "EnableKeyRotation" => self.enable_rotation(call, id, input, true),
            "DisableKeyRotation" => self.enable_rotation(call, id, input, false),
            "GetKeyRotationStatus" => self.rotation_status(call, id, input),
            "RotateKeyOnDemand" => self.rotate_on_demand(call, id, input),
            "ListKeyRotations" => self.list_rotations(call, id, input),
            "UpdateKeyDescription" => self.update_description(call, id, input),
            "Encrypt" => self.encrypt(call, id, input),
            "Decrypt" => self.decrypt(call, id, input),
            "ReEncrypt" => self.re_encrypt(call, id, input),
            "GenerateDataKey" => self.generate_data_key(call, id, input, true),
            "GenerateDataKeyWithoutPlaintext" => self.generate_data_key(call, id, input, false),
            "GenerateRandom" => self.generate_random(call, id, input),
            "CreateAlias" => self.create_alias(call, id, input),
            "UpdateAlias" => self.update_alias(call, id, input),
            "DeleteAlias" => self.delete_alias(call, id, input),
            "ListAliases" => self.list_aliases(call, id, input),
            "PutKeyPolicy" => self.put_key_policy(call, id, input),
            "GetKeyPolicy" => self.get_key_policy(call, id, input),
            "ListKeyPolicies" => self.list_key_policies(call, id, input),
            "CreateGrant" => self.create_grant(call, id, input),
            "ListGrants" => self.list_grants(call, id, input),
            "ListRetirableGrants" => self.list_retirable_grants(call, id, input),
            "RetireGrant" => self.retire_grant(call, id, input),
            "RevokeGrant" => self.revoke_grant(call, id, input),
            "TagResource" => self.tag_resource(call, id, input),
            "UntagResource" => self.untag_resource(call, id, input),
            "ListResourceTags" => self.list_resource_tags(call, id, input),
            other => Err(KmsError::new(
                ErrorKind::UnknownOperation,
                format!("unknown operation `{other}`"),
            )),
        }
    }
}

/// Every operation the service implements, by its API name.
pub const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
];
