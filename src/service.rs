//! The key service: keys, aliases, rotation, envelope encryption, key
//! policies and grants, persisted in the embedded store, every request
//! authorized by the compiled decision table and recorded in the audit log.
//!
//! [`KeyService::call`] is the whole API: it takes an operation's AWS KMS
//! JSON request, checks it against the operation's typed request model
//! ([`api`]), runs the operation's handler on the decoded request and
//! returns the typed response as JSON, so the HTTP server is a thin adapter.
//! Each operation family has its module: keys and lifecycle, cryptographic
//! operations, aliases, key policies, grants, tags, rotations.

mod access;
mod agreement;
mod aliases;
pub mod api;
mod blast;
mod cache;
mod clusters;
mod cryptographic;
mod custom_key_stores;
mod data_dir;
pub mod err;
mod fields;
mod grants;
mod import;
mod journal;
mod key_pairs;
mod keys;
mod last_usage;
mod metadata;
mod multi_region;
mod policies;
pub mod quota;
mod reencrypt;
mod replay;
mod rotation;
mod rsa;
mod signing;
mod specs;
mod store_keys;
mod tables;
mod tags;
mod trail;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use blast::{BlastRadius, blast_radius};
pub use clusters::Cluster;
pub use data_dir::{DataDir, TokenInit, write_private};
pub use err::{ErrorKind, KmsError};
pub use journal::AuditKeys;
pub use replay::decide_again;
pub use trail::Refusal;

use api::Request;

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
    /// The Regions served: where replicas of multi-Region keys may go.
    regions: Vec<Region>,
    /// Key records, compiled tables, sealed material and public keys.
    cache: Arc<cache::Caches>,
    /// The key policy of calls on no key (CreateKey, ListKeys, ...): none,
    /// so only the caller's IAM policies decide.
    no_key_policy: Arc<CompiledPolicy>,
    /// The last head [`KeyService::anchor_audit`] anchored.
    anchored: AtomicU64,
    audit_path: PathBuf,
    /// Each key's last use, read from the audit log when first asked for.
    usage: Mutex<Option<last_usage::UsageIndex>>,
    /// Request quotas (off unless the server turns them on).
    quotas: quota::Quotas,
    /// The key of imported material's commitments (`KeyMaterialId`).
    material_ids: crate::crypto::Secret,
    /// The clusters (PKCS#11 tokens) of custom key stores, and their
    /// connections.
    clusters: clusters::Clusters,
    /// When a call's audit record must be on disk.
    audit_sync: AuditSync,
}

/// When the audit record of a call that changes nothing reaches the disk.
/// (A change's record is always synced before the change commits.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditSync {
    /// Written (flushed to the operating system) before the response;
    /// synced every second and on shutdown, with the anchor.
    #[default]
    Flush,
    /// Synced before the response, one fsync for every call that arrived
    /// while the previous one ran: an acknowledged call's record is on
    /// disk.
    Group,
}

/// One call: its request, and what it records in the audit log.
struct Call<'a> {
    event: &'static str,
    /// The request as it arrived (what the audit record shows of it).
    input: &'a Value,
    /// The audit record's `eventID` and `requestID`.
    event_id: String,
    request_id: String,
    /// Request members the call used at their default values, which the
    /// audit record shows (e.g. `MessageType: RAW`).
    effective: Vec<(&'static str, &'static str)>,
    /// Whether the call has been charged to a quota.
    charged: bool,
    /// When the call arrived.
    started: std::time::Instant,
    /// The record written with the call's change, if it made one.
    recorded: Option<u64>,
    resources: Vec<(String, String)>,
    decisions: Vec<Value>,
}

impl Call<'_> {
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

/// Extra request facts for authorization. The encryption context is
/// borrowed from the call's input where the call has one.
#[derive(Default)]
struct Facts<'a> {
    context: Cow<'a, BTreeMap<String, String>>,
    alias: Option<String>,
    extra: Vec<(String, ContextValue<'static>)>,
}

impl Facts<'_> {
    /// Facts holding one single-valued condition key.
    fn one(key: &str, value: impl Into<String>) -> Facts<'static> {
        Facts {
            extra: vec![(key.to_owned(), ContextValue::one(value.into()))],
            ..Facts::default()
        }
    }
}

/// One single-valued condition key and its value.
fn fact(key: &str, value: &str) -> (String, ContextValue<'static>) {
    (key.to_owned(), ContextValue::one(value.to_owned()))
}

const MAX_POLICY: usize = 32 * 1024;
/// The purpose of the key that commits to imported key material.
const MATERIAL_ID_KEY: &str = "import-material-id-hmac-sha256";
const MAX_GRANTS_PER_KEY: usize = 50_000;

impl KeyService {
    /// Opens the service over an initialized data directory.
    pub fn open(dir: &DataDir, region: &str) -> Result<KeyService, KmsError> {
        let store = dir.open_store()?;
        let root = dir.load_root_key(&store)?;
        let keys = AuditKeys::load_or_create(&store, &root)?;
        let material_ids = journal::internal_key(&store, &root, MATERIAL_ID_KEY, || {
            Ok(crate::crypto::Secret::random(32).expose().to_vec())
        })?;
        let anchor = store.audit_anchor()?;
        let audit = AuditLog::open(&dir.audit_log(), keys.chain, anchor.as_ref())
            .map_err(|e| {
                KmsError::internal(format!(
                    "{e}; keyward will not continue a damaged audit log (run `keyward audit verify`, then restore the log or move it aside)"
                ))
            })?
            .with_node(store.node());
        // What another node changes, this node forgets, and reads again
        // from the store when next asked.
        let cache = Arc::new(cache::Caches::default());
        let forget = Arc::downgrade(&cache);
        store.subscribe(Arc::new(move |key_id: &str| {
            if let Some(cache) = forget.upgrade() {
                cache.forget(key_id);
            }
        }));
        Ok(KeyService {
            store,
            root,
            audit,
            region: Region::parse(region)
                .ok_or_else(|| KmsError::internal(format!("`{region}` is not a Region name")))?,
            clock: system_clock(),
            regions: Region::commercial(),
            cache,
            anchored: AtomicU64::new(anchor.map_or(0, |a| a.head.seq)),
            audit_path: dir.audit_log(),
            usage: Mutex::new(None),
            quotas: quota::Quotas::off(),
            material_ids,
            no_key_policy: Arc::new(access::no_key_policy()?),
            clusters: clusters::Clusters::default(),
            audit_sync: AuditSync::default(),
        })
    }

    /// This node's name in a shared store; empty for the embedded store.
    pub fn node(&self) -> &str {
        self.store.node()
    }

    /// Sets when a call's audit record must be on disk.
    pub fn with_audit_sync(mut self, sync: AuditSync) -> KeyService {
        self.audit_sync = sync;
        self
    }

    pub fn audit_sync(&self) -> AuditSync {
        self.audit_sync
    }

    /// Waits, under group commit, until record `seq` is on disk.
    fn settle(&self, seq: u64) -> Result<(), crate::audit::AuditError> {
        match self.audit_sync {
            AuditSync::Flush => Ok(()),
            AuditSync::Group => self.audit.wait_durable(seq),
        }
    }

    /// Serves custom key stores on `clusters` (PKCS#11 tokens).
    pub fn with_clusters(mut self, clusters: Vec<Cluster>) -> KeyService {
        self.clusters = clusters::Clusters::new(clusters);
        self
    }

    /// Serves `regions` (the Regions multi-Region keys may be replicated
    /// to); by default AWS's commercial Regions.
    pub fn with_regions(mut self, regions: Vec<Region>) -> KeyService {
        self.regions = regions;
        self
    }

    /// Enforces request quotas.
    pub fn with_quotas(mut self, quotas: quota::Quotas) -> KeyService {
        self.quotas = quotas;
        self
    }

    /// The quotas' metrics (Prometheus text).
    pub fn quota_metrics(&self) -> String {
        self.quotas.render()
    }

    /// Charges the call to its account's quota once: an operation's own
    /// family before it runs, a cryptographic operation's family (by the
    /// kind of key it uses) when its key is known.
    fn charge(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        key_spec: Option<&str>,
    ) -> Result<(), KmsError> {
        if call.charged {
            return Ok(());
        }
        let Some(family) = quota::family_of(call.event, key_spec) else {
            return Ok(());
        };
        call.charged = true;
        let account = id.caller.account.as_ref().map_or("", |a| a.0.as_str());
        self.quotas.take_at(
            account,
            self.caller_region(id).as_str(),
            family,
            call.started,
        )
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
        self.call_traced(id, operation, input).0
    }

    /// [`KeyService::call`], with the `requestID` of the call's audit record
    /// (what the server answers as `x-amzn-RequestId`, so a response and its
    /// record can be matched).
    pub fn call_traced(
        &self,
        id: &Identity,
        operation: &str,
        input: &Value,
    ) -> (Result<Value, KmsError>, String) {
        let request_id = fields::request_uuid();
        let result = self.call_as(id, operation, input, request_id.clone());
        (result, request_id)
    }

    fn call_as(
        &self,
        id: &Identity,
        operation: &str,
        input: &Value,
        request_id: String,
    ) -> Result<Value, KmsError> {
        let Some(event) = OPERATIONS.iter().find(|o| **o == operation) else {
            return Err(KmsError::new(
                ErrorKind::UnknownOperation,
                format!("unknown operation `{operation}`"),
            ));
        };
        let input = if input.is_null() {
            &Value::Object(Map::new())
        } else {
            input
        };
        let mut call = Call {
            event,
            input,
            event_id: fields::request_uuid(),
            request_id,
            effective: Vec::new(),
            charged: false,
            started: std::time::Instant::now(),
            recorded: None,
            resources: Vec::new(),
            decisions: Vec::new(),
        };
        let result = if !quota::is_cryptographic(operation)
            && let Err(e) = self.charge(&mut call, id, None)
        {
            Err(e)
        } else if input.is_object() {
            self.dispatch(&mut call, id)
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
            (Some(seq), Err(e)) => Some(self.audit_record(&call, id, Some(e), Some(seq))),
            (None, r) => Some(self.audit_record(&call, id, r.err(), None)),
        };
        if let Some(record) = record {
            let head = record
                .and_then(|r| self.audit.append(r))
                .map_err(|e| KmsError::internal(format!("request not completed: {e}")))?;
            self.settle(head.seq)
                .map_err(|e| KmsError::internal(format!("request not completed: {e}")))?;
        }
        if result.is_ok() {
            self.note_usage(&call);
        }
        result
    }

    /// Checks the request against `Q`'s model, decodes it, runs `op` and
    /// encodes its response.
    fn run<Q: Request, R: Serialize>(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        op: fn(&KeyService, &mut Call<'_>, &Identity, Q) -> Result<R, KmsError>,
    ) -> Result<Value, KmsError> {
        api::validate(call.input, Q::MEMBERS)?;
        let request = Q::deserialize(call.input)
            .map_err(|e| KmsError::new(ErrorKind::Serialization, e.to_string()))?;
        let response = op(self, call, id, request)?;
        serde_json::to_value(response).map_err(|e| KmsError::internal(e.to_string()))
    }
}

/// The response of an operation that returns nothing: `{}`.
#[derive(Serialize)]
struct Empty {}

api::operations! {
    "CancelKeyDeletion" => keys::CancelKeyDeletionRequest, cancel_deletion;
    "ConnectCustomKeyStore" => custom_key_stores::CustomKeyStoreIdRequest, connect_custom_key_store;
    "CreateAlias" => aliases::CreateAliasRequest, create_alias;
    "CreateCustomKeyStore" => custom_key_stores::CreateCustomKeyStoreRequest, create_custom_key_store;
    "CreateGrant" => grants::CreateGrantRequest, create_grant;
    "CreateKey" => keys::CreateKeyRequest, create_key;
    "Decapsulate" => agreement::DecapsulateRequest, decapsulate;
    "Decrypt" => cryptographic::DecryptRequest, decrypt;
    "DeleteAlias" => aliases::DeleteAliasRequest, delete_alias;
    "DeleteCustomKeyStore" => custom_key_stores::CustomKeyStoreIdRequest, delete_custom_key_store;
    "DeleteImportedKeyMaterial" => import::DeleteImportedKeyMaterialRequest, delete_imported_key_material;
    "DeriveSharedSecret" => agreement::DeriveSharedSecretRequest, derive_shared_secret;
    "DescribeCustomKeyStores" => custom_key_stores::DescribeCustomKeyStoresRequest, describe_custom_key_stores;
    "DescribeKey" => keys::DescribeKeyRequest, describe_key;
    "DisableKey" => keys::DisableKeyRequest, disable_key;
    "DisableKeyRotation" => rotation::DisableKeyRotationRequest, disable_rotation;
    "DisconnectCustomKeyStore" => custom_key_stores::CustomKeyStoreIdRequest, disconnect_custom_key_store;
    "EnableKey" => keys::EnableKeyRequest, enable_key;
    "EnableKeyRotation" => rotation::EnableKeyRotationRequest, enable_rotation;
    "Encapsulate" => agreement::EncapsulateRequest, encapsulate;
    "Encrypt" => cryptographic::EncryptRequest, encrypt;
    "GenerateDataKey" => cryptographic::GenerateDataKeyRequest, generate_data_key;
    "GenerateDataKeyPair" => key_pairs::GenerateDataKeyPairRequest, generate_data_key_pair;
    "GenerateDataKeyPairWithoutPlaintext" => key_pairs::GenerateDataKeyPairWithoutPlaintextRequest, generate_data_key_pair_without_plaintext;
    "GenerateDataKeyWithoutPlaintext" => cryptographic::GenerateDataKeyWithoutPlaintextRequest, generate_data_key_without_plaintext;
    "GenerateMac" => signing::GenerateMacRequest, generate_mac;
    "GenerateRandom" => cryptographic::GenerateRandomRequest, generate_random;
    "GetKeyLastUsage" => last_usage::GetKeyLastUsageRequest, get_key_last_usage;
    "GetKeyPolicy" => policies::GetKeyPolicyRequest, get_key_policy;
    "GetParametersForImport" => import::GetParametersForImportRequest, get_parameters_for_import;
    "GetPublicKey" => signing::GetPublicKeyRequest, get_public_key;
    "GetKeyRotationStatus" => rotation::GetKeyRotationStatusRequest, rotation_status;
    "ImportKeyMaterial" => import::ImportKeyMaterialRequest, import_key_material;
    "ListAliases" => aliases::ListAliasesRequest, list_aliases;
    "ListGrants" => grants::ListGrantsRequest, list_grants;
    "ListKeyPolicies" => policies::ListKeyPoliciesRequest, list_key_policies;
    "ListKeyRotations" => rotation::ListKeyRotationsRequest, list_rotations;
    "ListKeys" => keys::ListKeysRequest, list_keys;
    "ListResourceTags" => tags::ListResourceTagsRequest, list_resource_tags;
    "ListRetirableGrants" => grants::ListRetirableGrantsRequest, list_retirable_grants;
    "PutKeyPolicy" => policies::PutKeyPolicyRequest, put_key_policy;
    "ReEncrypt" => reencrypt::ReEncryptRequest, re_encrypt;
    "ReplicateKey" => multi_region::ReplicateKeyRequest, replicate_key;
    "RetireGrant" => grants::RetireGrantRequest, retire_grant;
    "RevokeGrant" => grants::RevokeGrantRequest, revoke_grant;
    "RotateKeyOnDemand" => rotation::RotateKeyOnDemandRequest, rotate_on_demand;
    "ScheduleKeyDeletion" => keys::ScheduleKeyDeletionRequest, schedule_deletion;
    "Sign" => signing::SignRequest, sign;
    "TagResource" => tags::TagResourceRequest, tag_resource;
    "UntagResource" => tags::UntagResourceRequest, untag_resource;
    "UpdateAlias" => aliases::UpdateAliasRequest, update_alias;
    "UpdateCustomKeyStore" => custom_key_stores::UpdateCustomKeyStoreRequest, update_custom_key_store;
    "UpdateKeyDescription" => keys::UpdateKeyDescriptionRequest, update_description;
    "UpdatePrimaryRegion" => multi_region::UpdatePrimaryRegionRequest, update_primary_region;
    "Verify" => signing::VerifyRequest, verify;
    "VerifyMac" => signing::VerifyMacRequest, verify_mac;
}
