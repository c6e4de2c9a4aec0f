//! The key service: keys, aliases, rotation, envelope encryption, key
//! policies and grants, persisted in the embedded store, every request
//! authorized by the compiled decision table and recorded in the audit log.
//!
//! Operations take and return the AWS KMS JSON shapes (`serde_json::Value`
//! with AWS's field names; blobs base64), so the HTTP server is a thin
//! adapter: [`KeyService::call`] is the whole API.

pub mod err;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

pub use err::{ErrorKind, KmsError};

use crate::audit::AuditLog;
use crate::catalog::Action;
use crate::compile::{CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use crate::crypto::{self, KeyMaterial, RootKey, Secret, blob};
use crate::eval::{self, Caller, ContextValue, Explanation, Permit, Request};
use crate::policy::{self, Source};
use crate::store::{AliasRecord, GrantRecord, KeyRecord, KeyState, Store, VersionRecord};

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
    /// The region the caller signed for (the SigV4 credential scope);
    /// the service's own region when unset.
    pub region: Option<String>,
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
    region: String,
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
}

/// Sealed key material by (key id, version).
type SealedCache = HashMap<(String, u32), Arc<Vec<u8>>>;

/// The files of a data directory.
pub struct DataDir {
    pub root: PathBuf,
    audit: Option<PathBuf>,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir {
            root: root.into(),
            audit: None,
        }
    }

    /// Writes the audit log somewhere other than the data directory.
    pub fn with_audit_log(mut self, path: impl Into<PathBuf>) -> DataDir {
        self.audit = Some(path.into());
        self
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("keyward.db")
    }

    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }

    pub fn audit_log(&self) -> PathBuf {
        self.audit
            .clone()
            .unwrap_or_else(|| self.root.join("audit.jsonl"))
    }

    /// Creates the directory and a new root key (mode 0600) if there is none;
    /// `true` when a key was created.
    pub fn init(&self) -> Result<bool, KmsError> {
        let io = |e: std::io::Error| KmsError::internal(format!("{}: {e}", self.root.display()));
        std::fs::create_dir_all(&self.root).map_err(io)?;
        let path = self.root_key();
        if path.exists() {
            return Ok(false);
        }
        let key = RootKey::generate();
        write_private(&path, B64.encode(key.expose()).as_bytes()).map_err(io)?;
        Ok(true)
    }

    /// The root key: `KEYWARD_ROOT_KEY` (base64) if set, else the key file.
    pub fn load_root_key(&self) -> Result<RootKey, KmsError> {
        let text = match std::env::var("KEYWARD_ROOT_KEY") {
            Ok(v) if !v.is_empty() => v,
            _ => std::fs::read_to_string(self.root_key()).map_err(|e| {
                KmsError::internal(format!(
                    "cannot read the root key {}: {e} (run `keyward init`)",
                    self.root_key().display()
                ))
            })?,
        };
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| KmsError::internal("the root key is not base64"))?;
        RootKey::from_bytes(bytes).map_err(|e| KmsError::internal(format!("root key: {e}")))
    }
}

/// Writes a new file readable by its owner only (mode 0600), durably.
#[cfg(unix)]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes a new file (no permission bits to set on this platform).
#[cfg(not(unix))]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// What one call records in the audit log.
struct Call {
    event: &'static str,
    resources: Vec<(String, String)>,
    decisions: Vec<Value>,
}

impl Call {
    fn record(&mut self, key: &KeyRecord, explanation: &Explanation) {
        self.resources.push((key.account.clone(), key.arn.clone()));
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

const MAX_PLAINTEXT: usize = 4096;
const MAX_POLICY: usize = 32 * 1024;
const MAX_GRANTS_PER_KEY: usize = 50_000;

fn s<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a string"),
        )),
    }
}

fn required<'a>(input: &'a Value, field: &str) -> Result<&'a str, KmsError> {
    s(input, field)?.ok_or_else(|| {
        KmsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(field)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn int(input: &Value, field: &str) -> Result<Option<i64>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            KmsError::new(
                ErrorKind::Serialization,
                format!("`{field}` must be an integer"),
            )
        }),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a number"),
        )),
    }
}

fn boolean(input: &Value, field: &str) -> Result<bool, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a boolean"),
        )),
    }
}

fn blob_field(input: &Value, field: &str) -> Result<Option<Vec<u8>>, KmsError> {
    s(input, field)?
        .map(|text| {
            B64.decode(text).map_err(|_| {
                KmsError::new(ErrorKind::Serialization, format!("`{field}` is not base64"))
            })
        })
        .transpose()
}

fn context_field(input: &Value, field: &str) -> Result<BTreeMap<String, String>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                _ => Err(KmsError::new(
                    ErrorKind::Serialization,
                    format!("`{field}` values must be strings"),
                )),
            })
            .collect(),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be an object of strings"),
        )),
    }
}

fn strings(input: &Value, field: &str) -> Result<Vec<String>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::Serialization,
                        format!("`{field}` must hold strings"),
                    )
                })
            })
            .collect(),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be an array"),
        )),
    }
}

fn default_policy(account: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyService {
    /// Opens the service over an initialized data directory.
    pub fn open(dir: &DataDir, region: &str) -> Result<KeyService, KmsError> {
        let root = dir.load_root_key()?;
        let store = Store::open(&dir.database())?;
        let audit =
            AuditLog::open(&dir.audit_log()).map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(KeyService {
            store,
            root,
            audit,
            region: region.to_owned(),
            clock: system_clock(),
            tables: RwLock::new(HashMap::new()),
            records: RwLock::new(HashMap::new()),
            sealed: RwLock::new(HashMap::new()),
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

    pub fn region(&self) -> &str {
        &self.region
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Flushes the audit log to disk.
    pub fn sync(&self) -> Result<(), KmsError> {
        self.audit
            .sync()
            .map_err(|e| KmsError::internal(e.to_string()))
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
            resources: Vec::new(),
            decisions: Vec::new(),
        };
        let input = if input.is_null() {
            &Value::Object(Map::new())
        } else {
            input
        };
        let result = if input.is_object() {
            self.dispatch(&mut call, id, input)
        } else {
            Err(KmsError::new(
                ErrorKind::Serialization,
                "the request body must be a JSON object",
            ))
        };
        self.audit
            .append(self.audit_record(&call, id, input, result.as_ref().err()))
            .map_err(|e| KmsError::internal(format!("request not completed: {e}")))?;
        result
    }

    fn audit_record(
        &self,
        call: &Call,
        id: &Identity,
        input: &Value,
        error: Option<&KmsError>,
    ) -> Value {
        let mut params = input.clone();
        if let Some(o) = params.as_object_mut() {
            for secret in ["Plaintext", "CiphertextBlob", "GrantTokens", "GrantToken"] {
                o.remove(secret);
            }
        }
        let time = time::OffsetDateTime::from_unix_timestamp(self.now())
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let mut record = json!({
            "eventVersion": "1.08",
            "eventTime": time,
            "eventSource": "kms.amazonaws.com",
            "eventName": call.event,
            "awsRegion": self.region,
            "sourceIPAddress": id.source_ip.map(|ip| ip.to_string()),
            "userIdentity": {
                "type": id.caller.principal_type(),
                "arn": id.caller.arn,
                "accountId": id.caller.account.as_ref().map(|a| a.0.clone()),
                "invokedBy": id.via_service,
            },
            "requestParameters": params,
            "resources": call.resources.iter().map(|(acct, arn)| json!({
                "accountId": acct, "type": "AWS::KMS::Key", "ARN": arn
            })).collect::<Vec<_>>(),
            "eventType": "AwsApiCall",
            "keyward": {"decisions": call.decisions},
        });
        if let (Some(e), Some(o)) = (error, record.as_object_mut()) {
            o.insert("errorCode".into(), json!(e.kind.aws_type()));
            o.insert("errorMessage".into(), json!(e.message));
        }
        record
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

    // ---- keys, tables, authorization -------------------------------------

    /// Finds a key by id, key ARN, alias name or alias ARN. Carries out a due
    /// deletion and a due rotation first.
    fn resolve(&self, key_id: &str) -> Result<(KeyRecord, Option<String>), KmsError> {
        let missing = || KmsError::not_found(format!("Key '{key_id}' does not exist"));
        let (id, alias) = if let Some(name) = alias_name(key_id) {
            let a = self
                .store
                .alias(&name)?
                .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
            (a.key_id, Some(name))
        } else if let Some((_, id)) = key_id.rsplit_once(":key/") {
            (id.to_owned(), None)
        } else {
            (key_id.to_owned(), None)
        };
        let mut key = self.load_key(&id)?.ok_or_else(missing)?;
        let now = self.now();
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now) {
            self.delete_key(&key.key_id)?;
            return Err(missing());
        }
        if key.state == KeyState::Enabled && key.next_rotation.is_some_and(|t| t <= now) {
            self.rotate(&mut key, "AUTOMATIC")?;
        }
        Ok((key, alias))
    }

    fn load_key(&self, key_id: &str) -> Result<Option<KeyRecord>, KmsError> {
        if let Some(k) = self
            .records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
        {
            return Ok(Some(k.clone()));
        }
        let k = self.store.key(key_id)?;
        if let Some(k) = &k {
            self.records
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k.key_id.clone(), k.clone());
        }
        Ok(k)
    }

    /// Writes a changed key record (durably) and refreshes the cache.
    fn save_key(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.store.update_key(key)?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
    }

    fn delete_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.store.delete_key(key_id)?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        self.sealed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _), _| k != key_id);
        self.forget(key_id);
        Ok(())
    }

    fn forget(&self, key_id: &str) {
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
    }

    fn key_tables(&self, key: &KeyRecord) -> Result<Arc<KeyTables>, KmsError> {
        if let Some(t) = self
            .tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key.key_id)
        {
            return Ok(t.clone());
        }
        let policy = compile_key_policy(&key.key_id, &key.policy)?;
        let mut grants = GrantIndex::default();
        for g in self.store.grants(&key.key_id)? {
            let source = Source::new(format!("grant {}", g.grant_id), g.document.as_str());
            let parsed = policy::parse_grants(&source)
                .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))?;
            grants
                .extend(&parsed, &source)
                .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))?;
        }
        let t = Arc::new(KeyTables {
            policy: Arc::new(policy),
            grants: Arc::new(grants),
        });
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), t.clone());
        Ok(t)
    }

    fn request(
        &self,
        id: &Identity,
        action: Action,
        resource: Option<&str>,
        facts: Facts,
    ) -> Request {
        let mut b = Request::builder(id.caller.clone(), action)
            .secure_transport(id.secure_transport)
            .current_time(
                time::OffsetDateTime::from_unix_timestamp(self.now())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            );
        if let Some(r) = resource {
            b = b.resource(r);
        }
        if let Some(ip) = id.source_ip {
            b = b.source_ip(ip);
        }
        if let Some(v) = &id.via_service {
            b = b.via_service(v.clone());
        }
        for (k, v) in &id.tags {
            b = b.principal_tag(k.clone(), v.clone());
        }
        for (k, v) in facts.context {
            b = b.encryption_context(k, v);
        }
        if let Some(a) = facts.alias {
            b = b.context("kms:RequestAlias", a);
        }
        for (k, v) in facts.extra {
            b = match v {
                ContextValue::One(s) => b.context(&k, s),
                ContextValue::Many(vs) => b.context_values(&k, vs),
            };
        }
        b.build()
    }

    /// Authorizes `action` on a key and checks the key's state.
    fn authorize(
        &self,
        call: &mut Call,
        id: &Identity,
        key: &KeyRecord,
        action: &str,
        need: Need,
        facts: Facts,
    ) -> Result<Permit, KmsError> {
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let tables = self.key_tables(key)?;
        let table = DecisionTable::from_parts(
            tables.policy.clone(),
            id.iam_policies.clone(),
            tables.grants.clone(),
        );
        let req = self.request(id, action, Some(&key.arn), facts);
        match eval::authorize(&table, &req) {
            Ok((permit, explanation)) => {
                call.record(key, &explanation);
                check_state(key, need)?;
                Ok(permit)
            }
            Err(explanation) => {
                call.record(key, &explanation);
                Err(access_denied(id, action, Some(&key.arn)))
            }
        }
    }

    /// Authorizes an action that is not on a key (IAM policies alone).
    fn authorize_account(
        &self,
        call: &mut Call,
        id: &Identity,
        action: &str,
        facts: Facts,
    ) -> Result<(), KmsError> {
        let action = Action::from_operation(action)
            .ok_or_else(|| KmsError::internal(format!("no action {action}")))?;
        let table = DecisionTable::from_parts(
            self.no_key_policy.clone(),
            id.iam_policies.clone(),
            Arc::default(),
        );
        let req = self.request(id, action, None, facts);
        let explanation = eval::explain(&table, &req);
        call.record_account(&explanation);
        if explanation.decision.is_allow() {
            Ok(())
        } else {
            Err(access_denied(id, action, None))
        }
    }

    fn material(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        version: u32,
    ) -> Result<KeyMaterial, KmsError> {
        let cache_key = (key.key_id.clone(), version);
        let cached = self
            .sealed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
            .cloned();
        let sealed = match cached {
            Some(s) => s,
            None => {
                let v = self.store.version(&key.key_id, version)?.ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::InvalidCiphertext,
                        "the ciphertext refers to a key version that does not exist",
                    )
                })?;
                let s = Arc::new(v.sealed);
                self.sealed
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(cache_key, s.clone());
                s
            }
        };
        KeyMaterial::open(permit, &self.root, &key.key_id, version, &sealed)
            .map_err(|e| KmsError::internal(format!("key material: {e}")))
    }

    fn rotate(&self, key: &mut KeyRecord, kind: &str) -> Result<(), KmsError> {
        let version = key.current_version + 1;
        let material = Secret::random(32);
        let sealed = self
            .root
            .seal(&key.key_id, version, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let now = self.now();
        key.current_version = version;
        if let Some(days) = key.rotation_period_days {
            key.next_rotation = Some(now + days * 86_400);
        }
        self.store.add_version(
            key,
            &VersionRecord {
                version,
                sealed,
                created: now,
                kind: kind.to_owned(),
            },
        )?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
    }

    fn metadata(&self, key: &KeyRecord) -> Value {
        let mut m = json!({
            "AWSAccountId": key.account,
            "KeyId": key.key_id,
            "Arn": key.arn,
            "CreationDate": key.created,
            "Enabled": key.state == KeyState::Enabled,
            "Description": key.description,
            "KeyUsage": key.key_usage,
            "KeyState": key.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": key.key_spec,
            "KeySpec": key.key_spec,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        });
        if let (Some(o), Some(d)) = (m.as_object_mut(), key.deletion_date) {
            o.insert("DeletionDate".into(), json!(d));
            o.insert(
                "PendingDeletionWindowInDays".into(),
                json!(key.pending_window_days),
            );
        }
        m
    }

    // ---- key lifecycle ---------------------------------------------------

    fn create_key(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        let spec = s(input, "KeySpec")?
            .or(s(input, "CustomerMasterKeySpec")?)
            .unwrap_or("SYMMETRIC_DEFAULT");
        let usage = s(input, "KeyUsage")?.unwrap_or("ENCRYPT_DECRYPT");
        if spec != "SYMMETRIC_DEFAULT" {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("KeySpec {spec} is not supported; keyward supports SYMMETRIC_DEFAULT"),
            ));
        }
        if usage != "ENCRYPT_DECRYPT" {
            return Err(KmsError::validation(format!(
                "KeyUsage {usage} is not valid for KeySpec {spec}"
            )));
        }
        if let Some(origin) = s(input, "Origin")?.filter(|o| *o != "AWS_KMS") {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("Origin {origin} is not supported"),
            ));
        }
        if boolean(input, "MultiRegion")? {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "multi-Region keys are not supported",
            ));
        }
        let tags = tag_list(input)?;
        let mut extra = vec![
            ("kms:KeySpec".to_owned(), ContextValue::One(spec.to_owned())),
            (
                "kms:KeyUsage".to_owned(),
                ContextValue::One(usage.to_owned()),
            ),
            (
                "kms:KeyOrigin".to_owned(),
                ContextValue::One("AWS_KMS".into()),
            ),
            (
                "kms:MultiRegion".to_owned(),
                ContextValue::One("false".into()),
            ),
            (
                "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
                ContextValue::One(boolean(input, "BypassPolicyLockoutSafetyCheck")?.to_string()),
            ),
        ];
        if !tags.is_empty() {
            extra.push((
                "aws:TagKeys".into(),
                ContextValue::Many(tags.iter().map(|(k, _)| k.clone()).collect()),
            ));
            for (k, v) in &tags {
                extra.push((format!("aws:RequestTag/{k}"), ContextValue::One(v.clone())));
            }
        }
        self.authorize_account(
            call,
            id,
            "CreateKey",
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        let account = id
            .caller
            .account
            .as_ref()
            .map(|a| a.0.clone())
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::AccessDenied,
                    "a service principal cannot own keys",
                )
            })?;
        let key_id = uuid::Uuid::new_v4().to_string();
        let region = id.region.clone().unwrap_or_else(|| self.region.clone());
        let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
        let policy = match s(input, "Policy")? {
            Some(p) => p.to_owned(),
            None => default_policy(&account),
        };
        let compiled = self.check_new_policy(
            id,
            &key_id,
            &arn,
            &policy,
            boolean(input, "BypassPolicyLockoutSafetyCheck")?,
        )?;
        let now = self.now();
        let material = Secret::random(32);
        let sealed = self
            .root
            .seal(&key_id, 1, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let key = KeyRecord {
            key_id: key_id.clone(),
            arn: arn.clone(),
            account: account.clone(),
            region,
            description: s(input, "Description")?.unwrap_or("").to_owned(),
            state: KeyState::Enabled,
            key_spec: spec.to_owned(),
            key_usage: usage.to_owned(),
            created: now,
            deletion_date: None,
            pending_window_days: None,
            rotation_period_days: None,
            next_rotation: None,
            policy,
            current_version: 1,
        };
        self.store.insert_key(
            &key,
            &VersionRecord {
                version: 1,
                sealed,
                created: now,
                kind: "INITIAL".into(),
            },
        )?;
        if !tags.is_empty() {
            self.store.set_tags(&key_id, &tags)?;
        }
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key_id,
                Arc::new(KeyTables {
                    policy: Arc::new(compiled),
                    grants: Arc::default(),
                }),
            );
        call.resources.push((account, arn));
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    /// Compiles a new key policy and, unless bypassed, checks that it still
    /// lets the caller change it later (AWS's lockout safety check).
    fn check_new_policy(
        &self,
        id: &Identity,
        key_id: &str,
        arn: &str,
        policy: &str,
        bypass: bool,
    ) -> Result<CompiledPolicy, KmsError> {
        if policy.len() > MAX_POLICY {
            return Err(KmsError::new(
                ErrorKind::MalformedPolicyDocument,
                format!(
                    "the key policy is {} bytes; the limit is {MAX_POLICY}",
                    policy.len()
                ),
            ));
        }
        let compiled = compile_key_policy(key_id, policy)
            .map_err(|e| KmsError::new(ErrorKind::MalformedPolicyDocument, e.message))?;
        if !bypass {
            let table = DecisionTable::from_parts(
                Arc::new(compiled.clone()),
                id.iam_policies.clone(),
                Arc::default(),
            );
            let Some(put) = Action::from_operation("PutKeyPolicy") else {
                return Err(KmsError::internal("catalog lacks PutKeyPolicy"));
            };
            let req = self.request(id, put, Some(arn), Facts::default());
            if !eval::decide(&table, &req).is_allow() {
                return Err(KmsError::new(
                    ErrorKind::MalformedPolicyDocument,
                    "The new key policy will not allow you to update the key policy in the future.",
                ));
            }
        }
        Ok(compiled)
    }

    fn describe_key(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "DescribeKey",
            Need::Any,
            Facts {
                alias,
                ..Facts::default()
            },
        )?;
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    fn list_keys(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "ListKeys", Facts::default())?;
        let now = self.now();
        let mut items = Vec::new();
        for k in self.store.keys()? {
            if k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d <= now) {
                self.delete_key(&k.key_id)?;
                continue;
            }
            items.push(json!({"KeyId": k.key_id, "KeyArn": k.arn}));
        }
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Keys", page, next))
    }

    fn set_enabled(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        enable: bool,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        let op = if enable { "EnableKey" } else { "DisableKey" };
        self.authorize(call, id, &key, op, Need::NotPending, Facts::default())?;
        key.state = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        self.save_key(&key)?;
        Ok(json!({}))
    }

    fn schedule_deletion(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        let days = int(input, "PendingWindowInDays")?.unwrap_or(30);
        self.authorize(
            call,
            id,
            &key,
            "ScheduleKeyDeletion",
            Need::NotPending,
            Facts {
                extra: vec![(
                    "kms:ScheduleKeyDeletionPendingWindowInDays".into(),
                    ContextValue::One(days.to_string()),
                )],
                ..Facts::default()
            },
        )?;
        in_range(days, 7, 30, "pendingWindowInDays")?;
        let when = self.now() + days * 86_400;
        key.state = KeyState::PendingDeletion;
        key.deletion_date = Some(when);
        key.pending_window_days = Some(days);
        self.save_key(&key)?;
        Ok(json!({
            "KeyId": key.arn, "DeletionDate": when, "KeyState": "PendingDeletion", "PendingWindowInDays": days
        }))
    }

    fn cancel_deletion(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "CancelKeyDeletion",
            Need::Any,
            Facts::default(),
        )?;
        if key.state != KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is not pending deletion.", key.arn),
            ));
        }
        key.state = KeyState::Disabled;
        key.deletion_date = None;
        key.pending_window_days = None;
        self.save_key(&key)?;
        Ok(json!({ "KeyId": key.arn }))
    }

    fn enable_rotation(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        enable: bool,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        if enable {
            let days = int(input, "RotationPeriodInDays")?.unwrap_or(365);
            self.authorize(
                call,
                id,
                &key,
                "EnableKeyRotation",
                Need::Usable,
                Facts {
                    extra: vec![(
                        "kms:RotationPeriodInDays".into(),
                        ContextValue::One(days.to_string()),
                    )],
                    ..Facts::default()
                },
            )?;
            in_range(days, 90, 2560, "rotationPeriodInDays")?;
            key.rotation_period_days = Some(days);
            key.next_rotation = Some(self.now() + days * 86_400);
        } else {
            self.authorize(
                call,
                id,
                &key,
                "DisableKeyRotation",
                Need::Usable,
                Facts::default(),
            )?;
            key.rotation_period_days = None;
            key.next_rotation = None;
        }
        self.save_key(&key)?;
        Ok(json!({}))
    }

    fn rotation_status(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "GetKeyRotationStatus",
            Need::Any,
            Facts::default(),
        )?;
        let mut out =
            json!({"KeyId": key.arn, "KeyRotationEnabled": key.rotation_period_days.is_some()});
        if let (Some(o), Some(days)) = (out.as_object_mut(), key.rotation_period_days) {
            o.insert("RotationPeriodInDays".into(), json!(days));
            o.insert("NextRotationDate".into(), json!(key.next_rotation));
        }
        Ok(out)
    }

    fn rotate_on_demand(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "RotateKeyOnDemand",
            Need::Usable,
            Facts::default(),
        )?;
        self.rotate(&mut key, "ON_DEMAND")?;
        Ok(json!({ "KeyId": key.arn }))
    }

    fn list_rotations(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "ListKeyRotations",
            Need::Any,
            Facts::default(),
        )?;
        let items: Vec<Value> = self
            .store
            .versions(&key.key_id)?
            .into_iter()
            .filter(|v| v.version > 1)
            .map(|v| json!({"KeyId": key.arn, "RotationDate": v.created, "RotationType": v.kind}))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Rotations", page, next))
    }

    fn update_description(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        let description = required(input, "Description")?;
        self.authorize(
            call,
            id,
            &key,
            "UpdateKeyDescription",
            Need::NotPending,
            Facts::default(),
        )?;
        key.description = description.to_owned();
        self.save_key(&key)?;
        Ok(json!({}))
    }

    // ---- envelope encryption ---------------------------------------------

    fn encrypt(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(required(input, "KeyId")?)?;
        let plaintext = blob_field(input, "Plaintext")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: Member must not be null"))?;
        let plaintext = Secret::new(plaintext);
        let context = context_field(input, "EncryptionContext")?;
        check_algorithm(input, "EncryptionAlgorithm")?;
        let permit = self.authorize(
            call,
            id,
            &key,
            "Encrypt",
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                extra: vec![(
                    "kms:EncryptionAlgorithm".into(),
                    ContextValue::One("SYMMETRIC_DEFAULT".into()),
                )],
            },
        )?;
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and {MAX_PLAINTEXT}"
            )));
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &context, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(
            json!({"CiphertextBlob": B64.encode(ct), "KeyId": key.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        )
    }

    /// Opens a blob under `key`: the permit must be for `ReEncryptFrom` or `Decrypt`.
    fn open_blob(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        context: &BTreeMap<String, String>,
        ciphertext: &[u8],
    ) -> Result<Secret, KmsError> {
        let header = blob::header(ciphertext)
            .map_err(|e| KmsError::new(ErrorKind::InvalidCiphertext, e.to_string()))?;
        let material = self.material(permit, key, header.version)?;
        blob::decrypt(&material, context, ciphertext).map_err(|_| {
            KmsError::new(
                ErrorKind::InvalidCiphertext,
                "The ciphertext could not be decrypted: it was changed, or the encryption context differs from the one used to encrypt it",
            )
        })
    }

    /// The key a ciphertext names, checked against an optional `KeyId`.
    fn blob_key(
        &self,
        ciphertext: &[u8],
        key_id: Option<&str>,
    ) -> Result<(KeyRecord, Option<String>), KmsError> {
        let header = blob::header(ciphertext)
            .map_err(|e| KmsError::new(ErrorKind::InvalidCiphertext, e.to_string()))?;
        let (key, _) = self.resolve(&header.key_id).map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                KmsError::not_found(format!(
                    "the ciphertext was encrypted under key '{}', which does not exist",
                    header.key_id
                ))
            } else {
                e
            }
        })?;
        let mut alias = None;
        if let Some(wanted) = key_id {
            let (named, a) = self.resolve(wanted)?;
            if named.key_id != key.key_id {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKey,
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
            alias = a;
        }
        Ok((key, alias))
    }

    fn decrypt(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        let ciphertext = blob_field(input, "CiphertextBlob")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"))?;
        let context = context_field(input, "EncryptionContext")?;
        check_algorithm(input, "EncryptionAlgorithm")?;
        let (key, alias) = self.blob_key(&ciphertext, s(input, "KeyId")?)?;
        self.check_grant_tokens(input)?;
        let permit = self.authorize(
            call,
            id,
            &key,
            "Decrypt",
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                extra: vec![(
                    "kms:EncryptionAlgorithm".into(),
                    ContextValue::One("SYMMETRIC_DEFAULT".into()),
                )],
            },
        )?;
        let plaintext = self.open_blob(&permit, &key, &context, &ciphertext)?;
        Ok(
            json!({"KeyId": key.arn, "Plaintext": B64.encode(plaintext.expose()), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        )
    }

    fn re_encrypt(&self, call: &mut Call, id: &Identity, input: &Value) -> Result<Value, KmsError> {
        let ciphertext = blob_field(input, "CiphertextBlob")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"))?;
        let source_context = context_field(input, "SourceEncryptionContext")?;
        let dest_context = context_field(input, "DestinationEncryptionContext")?;
        check_algorithm(input, "SourceEncryptionAlgorithm")?;
        check_algorithm(input, "DestinationEncryptionAlgorithm")?;
        let (source, source_alias) = self.blob_key(&ciphertext, s(input, "SourceKeyId")?)?;
        let (dest, dest_alias) = self.resolve(required(input, "DestinationKeyId")?)?;
        let same = (source.key_id == dest.key_id).to_string();
        let from = self.authorize(
            call,
            id,
            &source,
            "ReEncryptFrom",
            Need::Usable,
            Facts {
                context: source_context.clone(),
                alias: source_alias,
                extra: vec![(
                    "kms:ReEncryptOnSameKey".into(),
                    ContextValue::One(same.clone()),
                )],
            },
        )?;
        let to = self.authorize(
            call,
            id,
            &dest,
            "ReEncryptTo",
            Need::Usable,
            Facts {
                context: dest_context.clone(),
                alias: dest_alias,
                extra: vec![("kms:ReEncryptOnSameKey".into(), ContextValue::One(same))],
            },
        )?;
        let plaintext = self.open_blob(&from, &source, &source_context, &ciphertext)?;
        let material = self.material(&to, &dest, dest.current_version)?;
        let ct = blob::encrypt(&material, &dest_context, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(json!({
            "CiphertextBlob": B64.encode(ct), "SourceKeyId": source.arn, "KeyId": dest.arn,
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"
        }))
    }

    fn generate_data_key(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        with_plaintext: bool,
    ) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(required(input, "KeyId")?)?;
        let context = context_field(input, "EncryptionContext")?;
        let size = match (s(input, "KeySpec")?, int(input, "NumberOfBytes")?) {
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (None, Some(n)) => {
                in_range(n, 1, 1024, "numberOfBytes")?;
                usize::try_from(n).unwrap_or(32)
            }
            (Some(spec), None) => {
                return Err(KmsError::validation(format!(
                    "1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )));
            }
            (None, None) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec, not both.",
                ));
            }
        };
        let op = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        self.check_grant_tokens(input)?;
        let permit = self.authorize(
            call,
            id,
            &key,
            op,
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                ..Facts::default()
            },
        )?;
        let data_key = crypto::random_bytes(size);
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &context, data_key.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let mut out = json!({"CiphertextBlob": B64.encode(ct), "KeyId": key.arn});
        if let (true, Some(o)) = (with_plaintext, out.as_object_mut()) {
            o.insert("Plaintext".into(), json!(B64.encode(data_key.expose())));
        }
        Ok(out)
    }

    fn generate_random(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "GenerateRandom", Facts::default())?;
        let n = int(input, "NumberOfBytes")?.unwrap_or(32);
        in_range(n, 1, 1024, "numberOfBytes")?;
        let bytes = crypto::random_bytes(usize::try_from(n).unwrap_or(32));
        Ok(json!({"Plaintext": B64.encode(bytes.expose())}))
    }

    fn check_grant_tokens(&self, input: &Value) -> Result<(), KmsError> {
        for t in strings(input, "GrantTokens")? {
            if t.is_empty() || t.len() > 8192 || B64.decode(&t).is_err() {
                return Err(KmsError::new(
                    ErrorKind::InvalidGrantToken,
                    "The grant token is not valid.",
                ));
            }
        }
        Ok(())
    }

    // ---- aliases ---------------------------------------------------------

    fn create_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        check_alias_name(name)?;
        let (key, _) = self.resolve(required(input, "TargetKeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "CreateAlias",
            Need::NotPending,
            Facts::default(),
        )?;
        if self.store.alias(name)?.is_some() {
            return Err(KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "An alias with the name {} already exists",
                    alias_arn(&self.region, &key.account, name)
                ),
            ));
        }
        let now = self.now();
        self.store.put_alias(&AliasRecord {
            name: name.to_owned(),
            key_id: key.key_id.clone(),
            created: now,
            updated: now,
        })?;
        Ok(json!({}))
    }

    fn update_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        check_alias_name(name)?;
        let mut alias = self
            .store
            .alias(name)?
            .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
        let (old, _) = self.resolve(&alias.key_id)?;
        let (new, _) = self.resolve(required(input, "TargetKeyId")?)?;
        self.authorize(call, id, &old, "UpdateAlias", Need::Any, Facts::default())?;
        self.authorize(
            call,
            id,
            &new,
            "UpdateAlias",
            Need::NotPending,
            Facts::default(),
        )?;
        alias.key_id = new.key_id;
        alias.updated = self.now();
        self.store.put_alias(&alias)?;
        Ok(json!({}))
    }

    fn delete_alias(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let name = required(input, "AliasName")?;
        let alias = self
            .store
            .alias(name)?
            .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' is not found.")))?;
        let (key, _) = self.resolve(&alias.key_id)?;
        self.authorize(call, id, &key, "DeleteAlias", Need::Any, Facts::default())?;
        self.store.delete_alias(name)?;
        Ok(json!({}))
    }

    fn list_aliases(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let filter = match s(input, "KeyId")? {
            Some(k) => Some(self.resolve(k)?.0),
            None => None,
        };
        match &filter {
            Some(key) => {
                self.authorize(call, id, key, "ListAliases", Need::Any, Facts::default())?;
            }
            None => self.authorize_account(call, id, "ListAliases", Facts::default())?,
        }
        let mut items = Vec::new();
        for a in self.store.aliases()? {
            if filter.as_ref().is_some_and(|k| k.key_id != a.key_id) {
                continue;
            }
            let account = match self.load_key(&a.key_id)? {
                Some(k) => k.account,
                None => continue,
            };
            items.push(json!({
                "AliasName": a.name, "AliasArn": alias_arn(id.region.as_deref().unwrap_or(&self.region), &account, &a.name),
                "TargetKeyId": a.key_id, "CreationDate": a.created, "LastUpdatedDate": a.updated
            }));
        }
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Aliases", page, next))
    }

    // ---- key policies ----------------------------------------------------

    fn put_key_policy(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (mut key, _) = self.resolve(required(input, "KeyId")?)?;
        let policy = required(input, "Policy")?;
        if let Some(name) = s(input, "PolicyName")?.filter(|n| *n != "default") {
            return Err(KmsError::not_found(format!(
                "No such policy exists: {name}"
            )));
        }
        let bypass = boolean(input, "BypassPolicyLockoutSafetyCheck")?;
        self.authorize(
            call,
            id,
            &key,
            "PutKeyPolicy",
            Need::NotPending,
            Facts {
                extra: vec![(
                    "kms:BypassPolicyLockoutSafetyCheck".into(),
                    ContextValue::One(bypass.to_string()),
                )],
                ..Facts::default()
            },
        )?;
        let compiled = self.check_new_policy(id, &key.key_id, &key.arn, policy, bypass)?;
        key.policy = policy.to_owned();
        self.save_key(&key)?;
        let grants = self.key_tables(&key)?.grants.clone();
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.key_id.clone(),
                Arc::new(KeyTables {
                    policy: Arc::new(compiled),
                    grants,
                }),
            );
        Ok(json!({}))
    }

    fn get_key_policy(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(call, id, &key, "GetKeyPolicy", Need::Any, Facts::default())?;
        let name = s(input, "PolicyName")?.unwrap_or("default");
        if name != "default" {
            return Err(KmsError::not_found(format!(
                "No such policy exists: {name}"
            )));
        }
        Ok(json!({"Policy": key.policy, "PolicyName": "default"}))
    }

    fn list_key_policies(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "ListKeyPolicies",
            Need::Any,
            Facts::default(),
        )?;
        Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
    }

    // ---- grants ----------------------------------------------------------

    fn create_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grantee = required(input, "GranteePrincipal")?.to_owned();
        let retiring = s(input, "RetiringPrincipal")?.map(str::to_owned);
        let operations = strings(input, "Operations")?;
        if operations.is_empty() {
            return Err(KmsError::validation(
                "1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null",
            ));
        }
        let constraints = input.get("Constraints").filter(|c| !c.is_null()).cloned();
        let name = s(input, "Name")?.map(str::to_owned);
        self.check_grant_tokens(input)?;
        let mut extra = vec![
            (
                "kms:GrantOperations".to_owned(),
                ContextValue::Many(operations.clone()),
            ),
            (
                "kms:GranteePrincipal".to_owned(),
                ContextValue::One(grantee.clone()),
            ),
            (
                "kms:GrantIsForAWSResource".to_owned(),
                ContextValue::One("false".into()),
            ),
        ];
        if let Some(r) = &retiring {
            extra.push(("kms:RetiringPrincipal".into(), ContextValue::One(r.clone())));
        }
        let mut context = BTreeMap::new();
        if let Some(c) = &constraints {
            for (kind, field) in [
                ("EncryptionContextEquals", "EncryptionContextEquals"),
                ("EncryptionContextSubset", "EncryptionContextSubset"),
            ] {
                if c.get(field).is_some() {
                    extra.push((
                        "kms:GrantConstraintType".into(),
                        ContextValue::One(kind.into()),
                    ));
                    context.extend(context_field(c, field)?);
                }
            }
        }
        self.authorize(
            call,
            id,
            &key,
            "CreateGrant",
            Need::Usable,
            Facts {
                context,
                extra,
                ..Facts::default()
            },
        )?;
        let through_grant = call
            .decisions
            .last()
            .and_then(|d| d["decidedBy"][0]["source"].as_str())
            == Some("grant");
        if through_grant {
            self.check_child_grant(id, &key, &operations, constraints.as_ref())?;
        }
        // Validate the grant through the same parser the evaluator reads.
        let grant_id = hex(crypto::random_bytes(32).expose());
        let mut doc = json!({
            "GrantId": grant_id, "KeyId": key.arn, "GranteePrincipal": grantee,
            "Operations": operations, "IssuingAccount": format!("arn:aws:iam::{}:root", key.account),
            "CreationDate": self.now(),
        });
        if let Some(o) = doc.as_object_mut() {
            if let Some(r) = &retiring {
                o.insert("RetiringPrincipal".into(), json!(r));
            }
            if let Some(c) = &constraints {
                o.insert("Constraints".into(), c.clone());
            }
            if let Some(n) = &name {
                o.insert("Name".into(), json!(n));
            }
        }
        let text = doc.to_string();
        let source = Source::new("CreateGrant", text.as_str());
        let parsed = policy::parse_grants(&source).map_err(|e| {
            let first = e
                .errors()
                .first()
                .map(|x| x.to_string())
                .unwrap_or_default();
            KmsError::validation(first)
        })?;
        if let (Some(g), Some(_)) = (parsed.first(), &constraints) {
            let bad: Vec<&str> = g
                .node
                .operations
                .iter()
                .map(|o| o.node.as_str())
                .filter(|o| {
                    Action::from_operation(o).is_some_and(|a| !a.info().takes_encryption_context)
                        && !matches!(*o, "DescribeKey" | "RetireGrant" | "CreateGrant")
                })
                .collect();
            if !bad.is_empty() {
                return Err(KmsError::validation(format!(
                    "Grant constraints are not supported for {}",
                    bad.join(", ")
                )));
            }
        }
        let existing = self.store.grants(&key.key_id)?;
        if let Some(n) = &name {
            // CreateGrant is idempotent for the same name and parameters.
            for g in &existing {
                let d: Value = serde_json::from_str(&g.document).unwrap_or(Value::Null);
                let same = d.get("Name").and_then(Value::as_str) == Some(n)
                    && d.get("GranteePrincipal") == doc.get("GranteePrincipal")
                    && d.get("Operations") == doc.get("Operations")
                    && d.get("Constraints") == doc.get("Constraints")
                    && d.get("RetiringPrincipal") == doc.get("RetiringPrincipal");
                if same {
                    return Ok(json!({"GrantId": g.grant_id, "GrantToken": g.token}));
                }
            }
        }
        if existing.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "The key {} has {MAX_GRANTS_PER_KEY} grants, the limit",
                    key.arn
                ),
            ));
        }
        if boolean(input, "DryRun")? {
            return Err(KmsError::new(
                ErrorKind::Validation,
                "DryRunOperationException: the request would have succeeded",
            ));
        }
        let token = B64.encode(crypto::random_bytes(48).expose());
        self.store.insert_grant(&GrantRecord {
            grant_id: grant_id.clone(),
            key_id: key.key_id.clone(),
            token: token.clone(),
            document: text,
        })?;
        self.forget(&key.key_id);
        Ok(json!({"GrantId": grant_id, "GrantToken": token}))
    }

    /// A grant that allows CreateGrant may only create grants for a subset of
    /// its operations, with constraints at least as strict as its own.
    fn check_child_grant(
        &self,
        id: &Identity,
        key: &KeyRecord,
        ops: &[String],
        constraints: Option<&Value>,
    ) -> Result<(), KmsError> {
        let caller: Vec<&str> = id.caller.arns().collect();
        let child_equals = constraints
            .map(|c| context_field(c, "EncryptionContextEquals"))
            .transpose()?
            .filter(|m| !m.is_empty());
        let child_subset = constraints
            .map(|c| context_field(c, "EncryptionContextSubset"))
            .transpose()?
            .filter(|m| !m.is_empty());
        let narrower = |parent: &Value| -> Result<bool, KmsError> {
            let parent_ops: Vec<String> = strings(parent, "Operations")?;
            if !parent_ops.iter().any(|o| o == "CreateGrant")
                || !ops.iter().all(|o| parent_ops.contains(o))
            {
                return Ok(false);
            }
            let pc = parent.get("Constraints").cloned().unwrap_or(Value::Null);
            let p_equals = context_field(&pc, "EncryptionContextEquals")?;
            let p_subset = context_field(&pc, "EncryptionContextSubset")?;
            let ok_equals = p_equals.is_empty() || child_equals.as_ref() == Some(&p_equals);
            let includes =
                |m: &BTreeMap<String, String>| p_subset.iter().all(|(k, v)| m.get(k) == Some(v));
            let ok_subset = p_subset.is_empty()
                || child_equals.as_ref().is_some_and(includes)
                || child_subset.as_ref().is_some_and(includes);
            Ok(ok_equals && ok_subset)
        };
        for (_, d) in self.grant_entries(key)? {
            let mine = d
                .get("GranteePrincipal")
                .and_then(Value::as_str)
                .is_some_and(|g| caller.contains(&g));
            if mine && narrower(&d)? {
                return Ok(());
            }
        }
        Err(KmsError::new(
            ErrorKind::AccessDenied,
            format!(
                "{} may create grants only for operations its own grant allows, with constraints at least as strict",
                id.caller.arn
            ),
        ))
    }

    fn grant_entries(&self, key: &KeyRecord) -> Result<Vec<(GrantRecord, Value)>, KmsError> {
        Ok(self
            .store
            .grants(&key.key_id)?
            .into_iter()
            .map(|g| {
                let d: Value = serde_json::from_str(&g.document).unwrap_or(Value::Null);
                (g, d)
            })
            .collect())
    }

    fn list_grants(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(call, id, &key, "ListGrants", Need::Any, Facts::default())?;
        let grant_id = s(input, "GrantId")?;
        let grantee = s(input, "GranteePrincipal")?;
        let items: Vec<Value> = self
            .grant_entries(&key)?
            .into_iter()
            .filter(|(g, d)| {
                grant_id.is_none_or(|w| w == g.grant_id)
                    && grantee.is_none_or(|w| {
                        d.get("GranteePrincipal").and_then(Value::as_str) == Some(w)
                    })
            })
            .map(|(_, d)| d)
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Grants", page, next))
    }

    fn list_retirable_grants(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "ListRetirableGrants", Facts::default())?;
        let who = required(input, "RetiringPrincipal")?;
        let items: Vec<Value> = self
            .store
            .all_grants()?
            .into_iter()
            .filter_map(|g| serde_json::from_str::<Value>(&g.document).ok())
            .filter(|d| d.get("RetiringPrincipal").and_then(Value::as_str) == Some(who))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Grants", page, next))
    }

    fn find_grant(&self, input: &Value) -> Result<(KeyRecord, GrantRecord, Value), KmsError> {
        if let Some(token) = s(input, "GrantToken")? {
            let g = self
                .store
                .all_grants()?
                .into_iter()
                .find(|g| g.token == token)
                .ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::InvalidGrantToken,
                        "The grant token is not valid.",
                    )
                })?;
            let (key, _) = self.resolve(&g.key_id)?;
            let d = serde_json::from_str(&g.document).unwrap_or(Value::Null);
            return Ok((key, g, d));
        }
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grant_id = required(input, "GrantId")?;
        let (g, d) = self
            .grant_entries(&key)?
            .into_iter()
            .find(|(g, _)| g.grant_id == grant_id)
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::InvalidGrantId,
                    format!("Grant ID {grant_id} is not valid"),
                )
            })?;
        Ok((key, g, d))
    }

    fn retire_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, g, d) = self.find_grant(input)?;
        call.resources.push((key.account.clone(), key.arn.clone()));
        let caller_arns: Vec<&str> = id.caller.arns().collect();
        let is = |field: &str| {
            d.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| caller_arns.contains(&v))
        };
        let grantee_may = is("GranteePrincipal")
            && d.get("Operations")
                .and_then(Value::as_array)
                .is_some_and(|ops| ops.iter().any(|o| o == "RetireGrant"));
        let issuing_root = id.caller.is_root()
            && id
                .caller
                .account
                .as_ref()
                .is_some_and(|a| a.0 == key.account);
        if !(is("RetiringPrincipal") || grantee_may || issuing_root) {
            let retire = Action::from_operation("RetireGrant")
                .ok_or_else(|| KmsError::internal("catalog lacks RetireGrant"))?;
            return Err(access_denied(id, retire, Some(&key.arn)));
        }
        self.store.delete_grant(&g.grant_id)?;
        self.forget(&key.key_id);
        Ok(json!({}))
    }

    fn revoke_grant(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let grant_id = required(input, "GrantId")?;
        self.authorize(call, id, &key, "RevokeGrant", Need::Any, Facts::default())?;
        if !self
            .store
            .grants(&key.key_id)?
            .iter()
            .any(|g| g.grant_id == grant_id)
        {
            return Err(KmsError::new(
                ErrorKind::InvalidGrantId,
                format!("Grant ID {grant_id} is not valid"),
            ));
        }
        self.store.delete_grant(grant_id)?;
        self.forget(&key.key_id);
        Ok(json!({}))
    }

    // ---- tags ------------------------------------------------------------

    fn tag_resource(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let tags = tag_list(input)?;
        let mut extra = vec![(
            "aws:TagKeys".to_owned(),
            ContextValue::Many(tags.iter().map(|(k, _)| k.clone()).collect()),
        )];
        for (k, v) in &tags {
            extra.push((format!("aws:RequestTag/{k}"), ContextValue::One(v.clone())));
        }
        self.authorize(
            call,
            id,
            &key,
            "TagResource",
            Need::NotPending,
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        self.store.set_tags(&key.key_id, &tags)?;
        Ok(json!({}))
    }

    fn untag_resource(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        let keys = strings(input, "TagKeys")?;
        self.authorize(
            call,
            id,
            &key,
            "UntagResource",
            Need::NotPending,
            Facts {
                extra: vec![("aws:TagKeys".into(), ContextValue::Many(keys.clone()))],
                ..Facts::default()
            },
        )?;
        self.store.remove_tags(&key.key_id, &keys)?;
        Ok(json!({}))
    }

    fn list_resource_tags(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, _) = self.resolve(required(input, "KeyId")?)?;
        self.authorize(
            call,
            id,
            &key,
            "ListResourceTags",
            Need::Any,
            Facts::default(),
        )?;
        let items: Vec<Value> = self
            .store
            .tags(&key.key_id)?
            .into_iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        let (page, next) = paginate(items, input)?;
        Ok(page_response("Tags", page, next))
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

fn compile_key_policy(key_id: &str, text: &str) -> Result<CompiledPolicy, KmsError> {
    let source = Source::new(format!("key policy of {key_id}"), text);
    let parsed = policy::parse_policy(&source).map_err(|e| {
        let msgs: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
        KmsError::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The key policy is not valid: {}", msgs.join("; ")),
        )
    })?;
    CompiledPolicy::compile(&parsed, PolicyKind::KeyPolicy, &source).map_err(|e| {
        let msgs: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
        KmsError::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The key policy is not valid: {}", msgs.join("; ")),
        )
    })
}

/// AWS's ValidationException for a number outside its range.
fn in_range(value: i64, lo: i64, hi: i64, member: &str) -> Result<(), KmsError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value between {lo} and {hi}"
        )))
    }
}

fn check_state(key: &KeyRecord, need: Need) -> Result<(), KmsError> {
    match (key.state, need) {
        (KeyState::PendingDeletion, Need::Usable | Need::NotPending) => Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            format!("{} is pending deletion.", key.arn),
        )),
        (KeyState::Disabled, Need::Usable) => Err(KmsError::new(
            ErrorKind::Disabled,
            format!("{} is disabled.", key.arn),
        )),
        _ => Ok(()),
    }
}

fn access_denied(id: &Identity, action: Action, resource: Option<&str>) -> KmsError {
    let target = resource
        .map(|r| format!(" on resource: {r}"))
        .unwrap_or_default();
    KmsError::new(
        ErrorKind::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {action}{target} because no policy allows the {action} action",
            id.caller.arn
        ),
    )
}

fn check_algorithm(input: &Value, field: &str) -> Result<(), KmsError> {
    match s(input, field)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(other) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!("{other} is not a valid encryption algorithm for this key"),
        )),
    }
}

/// `alias/NAME` or `arn:aws:kms:REGION:ACCOUNT:alias/NAME` → `alias/NAME`.
fn alias_name(key_id: &str) -> Option<String> {
    if key_id.starts_with("alias/") {
        return Some(key_id.to_owned());
    }
    key_id
        .rsplit_once(":alias/")
        .map(|(_, n)| format!("alias/{n}"))
}

fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let rest = name.strip_prefix("alias/").ok_or_else(|| {
        KmsError::validation(format!(
            "Alias must start with the prefix \"alias/\": {name}"
        ))
    })?;
    if rest.starts_with("aws/") {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            "Aliases beginning with alias/aws/ are reserved for AWS managed keys",
        ));
    }
    let ok = !rest.is_empty()
        && name.len() <= 256
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )))
    }
}

fn tag_list(input: &Value) -> Result<Vec<(String, String)>, KmsError> {
    match input.get("Tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                let k = t.get("TagKey").and_then(Value::as_str);
                let v = t.get("TagValue").and_then(Value::as_str);
                match (k, v) {
                    (Some(k), Some(v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(KmsError::validation("each tag needs a TagKey (1-128 characters) and a TagValue (0-256 characters)")),
                }
            })
            .collect(),
        Some(_) => Err(KmsError::new(ErrorKind::Serialization, "`Tags` must be an array")),
    }
}

fn paginate(items: Vec<Value>, input: &Value) -> Result<(Vec<Value>, Option<String>), KmsError> {
    let limit = int(input, "Limit")?.unwrap_or(100);
    in_range(limit, 1, 1000, "limit")?;
    let start = match s(input, "Marker")? {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid"))?,
        None => 0,
    };
    let limit = usize::try_from(limit).unwrap_or(100);
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

fn page_response(field: &str, page: Vec<Value>, next: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert(field.into(), Value::Array(page));
    out.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        out.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(out)
}
