//! Key rotation: automatic and on-demand rotations and their listing.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crypto::Secret;
use crate::store::{Journal, KeyRecord, VersionRecord};

use super::access::Reach;
use super::api::enums::IncludeKeyMaterial;
use super::api::{KEY_ID, LIMIT, MARKER, Rule, request};
use super::fields::{Page, hex, paginate};
use super::keys::KeyIdResponse;
use super::{Call, Empty, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

/// The most on-demand rotations one key may have (AWS KMS's limit).
pub(super) const MAX_ON_DEMAND_ROTATIONS: usize = 25;

request! {
    /// EnableKeyRotation.
    EnableKeyRotationRequest {
        key_id: req String = "KeyId" KEY_ID,
        rotation_period_in_days: opt i64 = "RotationPeriodInDays" Rule::range(90, 2560),
    }
}

request! {
    /// DisableKeyRotation.
    DisableKeyRotationRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// GetKeyRotationStatus.
    GetKeyRotationStatusRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// RotateKeyOnDemand.
    RotateKeyOnDemandRequest { key_id: req String = "KeyId" KEY_ID }
}

request! {
    /// ListKeyRotations.
    ListKeyRotationsRequest {
        key_id: req String = "KeyId" KEY_ID,
        include_key_material: opt IncludeKeyMaterial =
            "IncludeKeyMaterial" Rule::Enum(IncludeKeyMaterial::VALUES),
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RotationStatus {
    key_id: String,
    key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<i64>,
}

/// A `RotationsListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RotationEntry {
    key_id: String,
    key_material_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    import_state: Option<&'static str>,
    key_material_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_type: Option<String>,
}

/// The identifier of one version of a key's material (`KeyMaterialId`, 64
/// lowercase hex digits): a digest of the key and version, so it names the
/// material without revealing anything of it.
pub(super) fn material_id(key_id: &str, version: u32) -> String {
    let mut h = Sha256::new();
    h.update(b"keyward key material\0");
    h.update(key_id.as_bytes());
    h.update(b"\0");
    h.update(version.to_be_bytes());
    hex(&h.finalize())
}

/// The material id of version `version`: the commitment recorded when
/// imported material arrived, else derived from the key and version.
pub(super) fn version_id(key: &KeyRecord, v: &VersionRecord) -> String {
    v.material_id
        .clone()
        .unwrap_or_else(|| material_id(&key.key_id, v.version))
}

/// Only symmetric encryption keys rotate (AWS answers UnsupportedOperation,
/// with no message, for the others), and only a multi-Region key's primary
/// rotates the material of all its Regions.
fn rotatable(key: &KeyRecord) -> Result<(), KmsError> {
    // A custom key store's key lives in its token: no rotation (AWS).
    if key.custom_key_store_id.is_some() {
        return Err(origin_not_valid(key));
    }
    if !super::specs::is_symmetric(key) {
        return Err(KmsError::new(ErrorKind::UnsupportedOperation, ""));
    }
    if key.is_replica() {
        return Err(not_primary(key));
    }
    Ok(())
}

/// Automatic rotation never applies to imported key material.
fn automatic_rotatable(key: &KeyRecord) -> Result<(), KmsError> {
    rotatable(key)?;
    if key.is_imported() {
        return Err(origin_not_valid(key));
    }
    Ok(())
}

/// AWS's refusal of an operation that only a multi-Region primary key takes.
pub(super) fn not_primary(key: &KeyRecord) -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        format!("{} is not a multi-Region primary key.", key.arn),
    )
}

/// AWS's refusal of an operation that the key's origin does not allow.
pub(super) fn origin_not_valid(key: &KeyRecord) -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        format!(
            "{} origin is {} which is not valid for this operation.",
            key.arn, key.origin
        ),
    )
}

impl KeyService {
    pub(super) fn rotate(
        &self,
        key: &mut KeyRecord,
        kind: &str,
        journal: &mut dyn Journal,
    ) -> Result<(), KmsError> {
        let version = key.current_version + 1;
        let material = Secret::random(32);
        let sealed = self
            .root
            .seal(&key.key_id, version, &material)
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let now = self.now();
        if let Some(days) = key.rotation_period_days {
            key.next_rotation = Some(now + days * 86_400);
        }
        let added = self.store.add_version(
            key,
            &VersionRecord::generated(version, sealed, now, kind),
            journal,
        )?;
        // Every Region of a multi-Region key got the version.
        self.cache.drop_records(&key.key_id);
        if added {
            key.current_version = version;
            Ok(())
        } else {
            // Another call rotated the key first: its version stands.
            let fresh = self.load_key(&key.scope, &key.key_id)?;
            *key = fresh.ok_or_else(|| KmsError::internal("the rotated key disappeared"))?;
            Ok(())
        }
    }

    pub(super) fn enable_rotation(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: EnableKeyRotationRequest,
    ) -> Result<Empty, KmsError> {
        let (mut key, _) = self.resolve(id, &input.key_id, Reach::Named)?;
        let days = input.rotation_period_in_days.unwrap_or(365);
        self.authorize(
            call,
            id,
            &key,
            "EnableKeyRotation",
            Need::Usable,
            Facts::one("kms:RotationPeriodInDays", days.to_string()),
        )?;
        automatic_rotatable(&key)?;
        key.rotation_period_days = Some(days);
        key.next_rotation = Some(self.now() + days * 86_400);
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(Empty {})
    }

    pub(super) fn disable_rotation(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DisableKeyRotationRequest,
    ) -> Result<Empty, KmsError> {
        let mut key =
            self.authorized_key(call, id, &input.key_id, "DisableKeyRotation", Need::Usable)?;
        automatic_rotatable(&key)?;
        key.rotation_period_days = None;
        key.next_rotation = None;
        self.save_key(&key, &mut self.journal(call, id))?;
        Ok(Empty {})
    }

    pub(super) fn rotation_status(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GetKeyRotationStatusRequest,
    ) -> Result<RotationStatus, KmsError> {
        let key =
            self.authorized_key(call, id, &input.key_id, "GetKeyRotationStatus", Need::Any)?;
        if key.custom_key_store_id.is_some() {
            return Err(origin_not_valid(&key));
        }
        Ok(RotationStatus {
            key_id: key.arn,
            key_rotation_enabled: key.rotation_period_days.is_some(),
            rotation_period_in_days: key.rotation_period_days,
            next_rotation_date: key.rotation_period_days.and(key.next_rotation),
        })
    }

    pub(super) fn rotate_on_demand(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: RotateKeyOnDemandRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        let mut key =
            self.authorized_key(call, id, &input.key_id, "RotateKeyOnDemand", Need::Usable)?;
        rotatable(&key)?;
        let versions = self.store.versions(&key)?;
        let on_demand = versions
            .iter()
            .filter(|v| v.kind == "ON_DEMAND" && v.version <= key.current_version)
            .count();
        if on_demand >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                    key.arn
                ),
            ));
        }
        if key.is_imported() {
            self.rotate_to_imported(call, id, key.clone(), &versions)?;
        } else {
            self.rotate(&mut key, "ON_DEMAND", &mut self.journal(call, id))?;
        }
        Ok(KeyIdResponse { key_id: key.key_id })
    }

    pub(super) fn list_rotations(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ListKeyRotationsRequest,
    ) -> Result<Page<RotationEntry>, KmsError> {
        let key = self.authorized_key(call, id, &input.key_id, "ListKeyRotations", Need::Any)?;
        let all = input.include_key_material == Some(IncludeKeyMaterial::AllKeyMaterial);
        let imported = key.is_imported() && super::specs::is_symmetric(&key);
        let items = self
            .store
            .versions(&key)?
            .into_iter()
            .filter(|v| all || (v.version > 1 && v.version <= key.current_version))
            .map(|v| {
                let rotated = v.version > 1 && v.version <= key.current_version;
                RotationEntry {
                    key_id: key.arn.clone(),
                    key_material_id: version_id(&key, &v),
                    key_material_description: v.description.clone().filter(|_| imported),
                    import_state: imported.then_some(if v.sealed.is_some() {
                        "IMPORTED"
                    } else {
                        "PENDING_IMPORT"
                    }),
                    key_material_state: match v.version.cmp(&key.current_version) {
                        std::cmp::Ordering::Equal => "CURRENT",
                        std::cmp::Ordering::Less => "NON_CURRENT",
                        std::cmp::Ordering::Greater => "PENDING_ROTATION",
                    },
                    expiration_model: v.expiration_model.clone().filter(|_| imported),
                    valid_to: v.valid_to.filter(|_| imported),
                    rotation_date: rotated.then_some(v.created),
                    rotation_type: rotated.then_some(v.kind),
                }
            })
            .collect();
        paginate("Rotations", items, input.limit, input.marker.as_deref())
    }
}
