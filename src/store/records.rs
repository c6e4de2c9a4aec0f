//! The records the store keeps, each inside one [`Scope`], and how a row
//! becomes one.

use serde_json::Value;

use super::StoreError;
use super::sql::Row;

use crate::policy::ast::AccountId;
use crate::scope::{Region, Scope};

/// The lifecycle state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// A key of origin `EXTERNAL` without (some of) its key material.
    PendingImport,
    /// A multi-Region primary key scheduled for deletion, waiting for its
    /// replicas to be deleted first.
    PendingReplicaDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }

    fn parse(s: &str) -> KeyState {
        match s {
            "Enabled" => KeyState::Enabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            "PendingReplicaDeletion" => KeyState::PendingReplicaDeletion,
            _ => KeyState::Disabled,
        }
    }
}

/// A KMS key, without its material.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub key_id: String,
    /// The account and Region that own the key: the only source of truth
    /// for its owner.
    pub scope: Scope,
    /// Derived from `scope` and `key_id`; never parsed back.
    pub arn: String,
    pub description: String,
    pub state: KeyState,
    pub key_spec: String,
    pub key_usage: String,
    /// Unix seconds.
    pub created: i64,
    pub deletion_date: Option<i64>,
    pub pending_window_days: Option<i64>,
    pub rotation_period_days: Option<i64>,
    pub next_rotation: Option<i64>,
    pub policy: String,
    /// The version whose material encrypts; 0 for an imported key that has
    /// had no material yet.
    pub current_version: u32,
    /// `AWS_KMS` or `EXTERNAL` (imported key material).
    pub origin: String,
    /// The Region of the primary key of a multi-Region key; `None` for a
    /// single-Region key. The key is the primary when this is its own
    /// Region. Each Region's key is its own record (its own policy,
    /// description, tags, aliases, grants, state and material copy), so that
    /// Regions could live in separate stores that replicate.
    pub primary_region: Option<Region>,
    /// The custom key store whose token holds the key (origin
    /// `AWS_CLOUDHSM`); its versions hold the key's label in the token.
    pub custom_key_store_id: Option<String>,
}

impl KeyRecord {
    pub fn is_multi_region(&self) -> bool {
        self.primary_region.is_some()
    }

    /// A multi-Region key whose primary is in another Region.
    pub fn is_replica(&self) -> bool {
        self.primary_region
            .as_ref()
            .is_some_and(|p| p != &self.scope.region)
    }

    pub fn is_imported(&self) -> bool {
        self.origin == "EXTERNAL"
    }
}

/// One version of a key's material, sealed under the root key.
#[derive(Clone)]
pub struct VersionRecord {
    pub version: u32,
    /// The sealed material; `None` when imported material expired, was
    /// deleted, or has not been imported into this Region's key yet.
    pub sealed: Option<Vec<u8>>,
    pub created: i64,
    /// `INITIAL`, `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
    /// The `KeyMaterialId` of imported material (a keyed commitment to it,
    /// which recognises the same material when it is imported again);
    /// `None` for material keyward generated.
    pub material_id: Option<String>,
    /// Imported material: its `KeyMaterialDescription`.
    pub description: Option<String>,
    /// Imported material: `KEY_MATERIAL_EXPIRES` or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE` while it is present.
    pub expiration_model: Option<String>,
    /// Imported material that expires: when (Unix seconds).
    pub valid_to: Option<i64>,
}

impl VersionRecord {
    /// Material keyward generated.
    pub fn generated(version: u32, sealed: Vec<u8>, created: i64, kind: &str) -> VersionRecord {
        VersionRecord {
            version,
            sealed: Some(sealed),
            created,
            kind: kind.to_owned(),
            material_id: None,
            description: None,
            expiration_model: None,
            valid_to: None,
        }
    }
}

/// An alias: unique by name within its account and Region.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub name: String,
    pub key_id: String,
    pub created: i64,
    pub updated: i64,
}

/// A grant, kept as its `ListGrants` JSON entry so that the policy
/// compiler reads it like any other grant document. It lives in its key's
/// scope.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    pub grant_id: String,
    pub key_id: String,
    pub token: String,
    pub document: String,
}

impl GrantRecord {
    /// The grant's name, if it has one.
    pub(super) fn name(&self) -> Option<String> {
        self.parsed()
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The retiring principal, if any.
    pub(super) fn retiring(&self) -> Option<String> {
        self.parsed()
            .get("RetiringPrincipal")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The parameters that make two CreateGrant calls with one name the
    /// same grant (AWS: a retry with identical parameters returns the
    /// original grant), as canonical JSON.
    pub(super) fn params(&self) -> String {
        let d = self.parsed();
        let pick = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
        serde_json::json!([
            pick("Name"),
            pick("GranteePrincipal"),
            pick("Operations"),
            pick("Constraints"),
            pick("RetiringPrincipal"),
        ])
        .to_string()
    }

    fn parsed(&self) -> Value {
        serde_json::from_str(&self.document).unwrap_or(Value::Null)
    }
}

pub(super) const KEY_COLUMNS: &str = "key_id, account, region, description, state, key_spec, key_usage, created, deletion_date, pending_window, rotation_period, next_rotation, policy, current_version, origin, primary_region, custom_key_store_id";

pub(super) const VERSION_COLUMNS: &str =
    "version, sealed, created, kind, material_id, description, expiration_model, valid_to";

/// A scope read back from the store. Rows written before Regions were
/// checked may hold a name that is not a Region; such a key keeps its
/// text and is reachable from no request.
pub(super) fn scope_from(account: String, region: String) -> Scope {
    Scope::new(
        AccountId(account),
        Region::parse(&region).unwrap_or_else(|| Region::unchecked(region)),
    )
}

pub(super) fn key_from_row(r: &Row) -> Result<KeyRecord, StoreError> {
    let key_id: String = r.get(0)?;
    let scope = scope_from(r.get(1)?, r.get(2)?);
    Ok(KeyRecord {
        arn: scope.key_arn(&key_id),
        key_id,
        scope,
        description: r.get(3)?,
        state: KeyState::parse(&r.get::<String>(4)?),
        key_spec: r.get(5)?,
        key_usage: r.get(6)?,
        created: r.get(7)?,
        deletion_date: r.get(8)?,
        pending_window_days: r.get(9)?,
        rotation_period_days: r.get(10)?,
        next_rotation: r.get(11)?,
        policy: r.get(12)?,
        current_version: r.get(13)?,
        origin: r.get(14)?,
        primary_region: r
            .get::<Option<String>>(15)?
            .map(|p| Region::parse(&p).unwrap_or_else(|| Region::unchecked(p))),
        custom_key_store_id: r.get(16)?,
    })
}

pub(super) fn version_from_row(r: &Row) -> Result<VersionRecord, StoreError> {
    Ok(VersionRecord {
        version: r.get(0)?,
        sealed: r.get(1)?,
        created: r.get(2)?,
        kind: r.get(3)?,
        material_id: r.get(4)?,
        description: r.get(5)?,
        expiration_model: r.get(6)?,
        valid_to: r.get(7)?,
    })
}

pub(super) fn alias_from_row(r: &Row) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        name: r.get(0)?,
        key_id: r.get(1)?,
        created: r.get(2)?,
        updated: r.get(3)?,
    })
}

pub(super) fn grant_from_row(r: &Row) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        grant_id: r.get(0)?,
        key_id: r.get(1)?,
        token: r.get(2)?,
        document: r.get(3)?,
    })
}
