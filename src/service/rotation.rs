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
    key_material_state: &'static str,
    rotation_date: i64,
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

/// Only symmetric encryption keys rotate (AWS answers UnsupportedOperation,
/// with no message, for the others).
fn rotatable(key: &KeyRecord) -> Result<(), KmsError> {
    if super::specs::is_symmetric(key) {
        Ok(())
    } else {
        Err(KmsError::new(ErrorKind::UnsupportedOperation, ""))
    }
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
            journal,
        )?;
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key_id.clone(), key.clone());
        Ok(())
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
        rotatable(&key)?;
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
        let on_demand = self
            .store
            .versions(&key)?
            .iter()
            .filter(|v| v.kind == "ON_DEMAND")
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
        self.rotate(&mut key, "ON_DEMAND", &mut self.journal(call, id))?;
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
        let items = self
            .store
            .versions(&key)?
            .into_iter()
            .filter(|v| all || v.version > 1)
            .map(|v| RotationEntry {
                key_id: key.arn.clone(),
                key_material_id: material_id(&key.key_id, v.version),
                key_material_state: if v.version == key.current_version {
                    "CURRENT"
                } else {
                    "NON_CURRENT"
                },
                rotation_date: v.created,
                rotation_type: (v.version > 1).then_some(v.kind),
            })
            .collect();
        paginate("Rotations", items, input.limit, input.marker.as_deref())
    }
}
