//! Imported key material (keys of origin `EXTERNAL`):
//! GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
//! and the expiry of imported material.
//!
//! A key of origin `EXTERNAL` is created without material, in
//! `PendingImport`. Each import is recorded as a key version whose
//! `KeyMaterialId` is a keyed commitment to the material (HMAC-SHA256
//! under a key of keyward's own, over the key id and the material), so the
//! same material is recognised when it comes back after it expired or was
//! deleted, and other material is refused. When material expires or is
//! deleted its sealed copy is erased and the key returns to
//! `PendingImport`; the commitment stays.

use aws_lc_rs::hmac;
use serde::Serialize;

use crate::crypto::{Secret, asymmetric, wrapping};
use crate::store::{KeyRecord, KeyState, VersionRecord};

use super::access::Reach;
use super::api::enums::{ExpirationModel, ImportType, WrappingAlgorithm, WrappingKeySpec};
use super::api::types::Blob;
use super::api::{KEY_ID, KEY_MATERIAL_ID, Rule, request};
use super::fields::hex;
use super::journal::ServiceChange;
use super::rotation::origin_not_valid;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need, fact, specs};

/// How long an import token and its wrapping key are valid (AWS: 24 hours).
const TOKEN_LIFETIME: i64 = 86_400;
/// The latest `ValidTo` AWS accepts: 365 days after the request.
const MAX_VALID_FOR: i64 = 365 * 86_400;

request! {
    /// GetParametersForImport.
    GetParametersForImportRequest {
        key_id: req String = "KeyId" KEY_ID,
        wrapping_algorithm: req WrappingAlgorithm =
            "WrappingAlgorithm" Rule::Enum(WrappingAlgorithm::VALUES),
        wrapping_key_spec: req WrappingKeySpec =
            "WrappingKeySpec" Rule::Enum(WrappingKeySpec::VALUES),
    }
}

request! {
    /// ImportKeyMaterial.
    ImportKeyMaterialRequest {
        key_id: req String = "KeyId" KEY_ID,
        import_token: req Blob = "ImportToken" Rule::Blob { min: Some(1), max: Some(6144) },
        encrypted_key_material: req Blob =
            "EncryptedKeyMaterial" Rule::Blob { min: Some(1), max: Some(6144) },
        valid_to: opt f64 = "ValidTo" Rule::Timestamp,
        expiration_model: opt ExpirationModel =
            "ExpirationModel" Rule::Enum(ExpirationModel::VALUES),
        import_type: opt ImportType = "ImportType" Rule::Enum(ImportType::VALUES),
        key_material_description: opt String =
            "KeyMaterialDescription" Rule::pattern(0, 256, r"^[a-zA-Z0-9:/_\s.-]+$"),
        key_material_id: opt String = "KeyMaterialId" KEY_MATERIAL_ID,
    }
}

request! {
    /// DeleteImportedKeyMaterial.
    DeleteImportedKeyMaterialRequest {
        key_id: req String = "KeyId" KEY_ID,
        key_material_id: opt String = "KeyMaterialId" KEY_MATERIAL_ID,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetParametersForImportResponse {
    key_id: String,
    import_token: String,
    public_key: String,
    parameters_valid_to: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMaterialResponse {
    key_id: String,
    key_material_id: String,
}

/// The wrapping algorithms AWS accepts for a key spec's material, in its
/// order of preference.
fn wrapping_algorithms(spec: &str) -> &'static [WrappingAlgorithm] {
    use WrappingAlgorithm::{
        RsaAesKeyWrapSha1, RsaAesKeyWrapSha256, RsaesOaepSha1, RsaesOaepSha256,
    };
    match spec {
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &[RsaAesKeyWrapSha256, RsaAesKeyWrapSha1],
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1" => &[
            RsaAesKeyWrapSha256,
            RsaAesKeyWrapSha1,
            RsaesOaepSha256,
            RsaesOaepSha1,
        ],
        _ => &[RsaesOaepSha256, RsaesOaepSha1],
    }
}

/// Whether keyward (as AWS) imports material for keys of `spec`: not for
/// ML-DSA, Ed25519, ML-KEM or (outside China) SM2 keys.
pub(super) fn importable(spec: &str) -> bool {
    spec == "SYMMETRIC_DEFAULT"
        || spec.starts_with("HMAC_")
        || spec.starts_with("RSA_")
        || matches!(
            spec,
            "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1"
        )
}

fn incorrect_material() -> KmsError {
    KmsError::new(
        ErrorKind::IncorrectKeyMaterial,
        "The key material in the request is, expired, invalid, or does not meet expectations. For example, it is not the same key material that was previously imported or AWS KMS expected new key material but the key material being imported is already associated with the KMS key.",
    )
}

/// Whether key material may be imported into `key` (or wrapping keys
/// handed out for it): a key of origin `EXTERNAL` not pending deletion.
fn takes_import(key: &KeyRecord) -> Result<(), KmsError> {
    if !key.is_imported() {
        return Err(origin_not_valid(key));
    }
    super::access::check_state(key, Need::NotPending)
}

/// The state a key with imported material takes when `versions` are all
/// it has: `PendingImport` while any permanently associated material is
/// missing; otherwise `Enabled` if it was waiting for material, else as it
/// was.
fn state_with(key: &KeyRecord, versions: &[VersionRecord]) -> KeyState {
    let missing = key.current_version == 0
        || versions
            .iter()
            .any(|v| v.version <= key.current_version && v.sealed.is_none());
    match key.state {
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => key.state,
        _ if missing => KeyState::PendingImport,
        KeyState::PendingImport => KeyState::Enabled,
        other => other,
    }
}

impl KeyService {
    /// The `KeyMaterialId` of imported material for a key.
    fn commitment(&self, key: &KeyRecord, material: &Secret) -> String {
        let k = hmac::Key::new(hmac::HMAC_SHA256, self.material_ids.expose());
        let mut ctx = hmac::Context::with_key(&k);
        ctx.update(b"keyward imported key material\0");
        ctx.update(key.key_id.as_bytes());
        ctx.update(b"\0");
        ctx.update(material.expose());
        hex(ctx.sign().as_ref())
    }

    pub(super) fn get_parameters_for_import(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        let (key, _) = self.resolve(id, &input.key_id, Reach::Own)?;
        let algorithm = input.wrapping_algorithm;
        let spec = input.wrapping_key_spec;
        self.authorize(
            call,
            id,
            &key,
            "GetParametersForImport",
            Need::Any,
            Facts {
                extra: vec![
                    fact("kms:WrappingAlgorithm", algorithm.as_str()),
                    fact("kms:WrappingKeySpec", spec.as_str()),
                ],
                ..Facts::default()
            },
        )?;
        takes_import(&key)?;
        if algorithm == WrappingAlgorithm::RsaesPkcs1V15 {
            return Err(KmsError::validation(
                "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported (since October 10, 2023); use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.",
            ));
        }
        if algorithm == WrappingAlgorithm::Sm2pke || spec == WrappingKeySpec::Sm2 {
            return Err(KmsError::validation(
                "SM2 wrapping keys and the SM2PKE wrapping algorithm are available only in China Regions.",
            ));
        }
        let too_small = key.key_spec == "ECC_NIST_P521"
            && spec == WrappingKeySpec::Rsa2048
            && matches!(
                algorithm,
                WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256
            );
        if too_small || !wrapping_algorithms(&key.key_spec).contains(&algorithm) {
            return Err(KmsError::validation(format!(
                "Wrapping algorithm {algorithm} and wrapping key spec {spec} cannot be used to import a {} key.",
                key.key_spec
            )));
        }
        let valid_to = self.now() + TOKEN_LIFETIME;
        let (token, public) = wrapping::issue(
            &self.root,
            &key.arn,
            spec.as_str(),
            algorithm.as_str(),
            valid_to,
        )
        .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(GetParametersForImportResponse {
            key_id: key.arn,
            import_token: super::cryptographic::b64(&token),
            public_key: super::cryptographic::b64(&public),
            parameters_valid_to: valid_to,
        })
    }

    pub(super) fn import_key_material(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ImportKeyMaterialRequest,
    ) -> Result<KeyMaterialResponse, KmsError> {
        let (mut key, _) = self.resolve(id, &input.key_id, Reach::Own)?;
        let model = input
            .expiration_model
            .unwrap_or(ExpirationModel::KeyMaterialExpires);
        if input.expiration_model.is_none() {
            call.effective.push((
                "ExpirationModel",
                ExpirationModel::KeyMaterialExpires.as_str(),
            ));
        }
        let valid_to = input.valid_to.map(|t| t.floor() as i64);
        let mut extra = vec![fact("kms:ExpirationModel", model.as_str())];
        if let Some(t) = valid_to {
            extra.push(fact("kms:ValidTo", &t.to_string()));
        }
        self.authorize(
            call,
            id,
            &key,
            "ImportKeyMaterial",
            Need::Any,
            Facts {
                extra,
                ..Facts::default()
            },
        )?;
        takes_import(&key)?;
        let now = self.now();
        match (model, valid_to) {
            (ExpirationModel::KeyMaterialExpires, None) => {
                return Err(KmsError::validation(
                    "A ValidTo date must be set when the ExpirationModel is KEY_MATERIAL_EXPIRES.",
                ));
            }
            (ExpirationModel::KeyMaterialDoesNotExpire, Some(_)) => {
                return Err(KmsError::validation(
                    "ValidTo cannot be set when the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
                ));
            }
            (_, Some(t)) if t <= now || t > now + MAX_VALID_FOR => {
                return Err(KmsError::validation(
                    "ValidTo must be in the future and at most 365 days from now.",
                ));
            }
            _ => {}
        }
        let symmetric = specs::is_symmetric(&key);
        if !symmetric
            && (input.key_material_id.is_some() || input.key_material_description.is_some())
        {
            return Err(KmsError::validation(
                "KeyMaterialId and KeyMaterialDescription apply only to symmetric encryption keys.",
            ));
        }
        let params = wrapping::open_token(&self.root, &key.arn, &input.import_token.0)
            .map_err(|_| {
                KmsError::new(
                    ErrorKind::InvalidImportToken,
                    "The provided import token is invalid or is associated with a different KMS key.",
                )
            })?;
        if params.valid_to <= now {
            return Err(KmsError::new(
                ErrorKind::ExpiredImportToken,
                "The specified import token is expired. Use GetParametersForImport to get a new import token and public key, use the new public key to encrypt the key material, and then try the request again.",
            ));
        }
        let unwrapped = params
            .unwrap(&input.encrypted_key_material.0)
            .map_err(|e| KmsError::internal(e.to_string()))?
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::InvalidCiphertext,
                    "From the ImportKeyMaterial operation, the request was rejected because AWS KMS could not decrypt the encrypted (wrapped) key material.",
                )
            })?;
        let material = if symmetric {
            (unwrapped.len() == 32).then_some(unwrapped)
        } else {
            asymmetric::import_private(&key.key_spec, unwrapped.expose())
                .map_err(|e| KmsError::internal(e.to_string()))?
        }
        .ok_or_else(incorrect_material)?;
        let material_id = self.commitment(&key, &material);
        let mut versions = self.store.versions(&key)?;
        let import_type = input.import_type.unwrap_or(if versions.is_empty() {
            ImportType::NewKeyMaterial
        } else {
            ImportType::ExistingKeyMaterial
        });
        let version = match import_type {
            ImportType::ExistingKeyMaterial => {
                if input
                    .key_material_id
                    .as_ref()
                    .is_some_and(|given| given != &material_id)
                {
                    return Err(incorrect_material());
                }
                versions
                    .iter()
                    .find(|v| v.material_id.as_deref() == Some(material_id.as_str()))
                    .map(|v| v.version)
                    .ok_or_else(incorrect_material)?
            }
            ImportType::NewKeyMaterial => {
                if input.key_material_id.is_some() {
                    return Err(KmsError::validation(
                        "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.",
                    ));
                }
                self.new_material_version(&key, &versions, &material_id)?
            }
        };
        let previous = versions.iter().find(|v| v.version == version);
        let record = VersionRecord {
            version,
            sealed: Some(
                self.root
                    .seal(&key.key_id, version, &material)
                    .map_err(|e| KmsError::internal(e.to_string()))?,
            ),
            created: previous.map_or(now, |v| v.created),
            kind: previous.map_or_else(
                || if version == 1 { "INITIAL" } else { "ON_DEMAND" }.to_owned(),
                |v| v.kind.clone(),
            ),
            material_id: Some(material_id.clone()),
            description: input
                .key_material_description
                .or_else(|| previous.and_then(|v| v.description.clone())),
            expiration_model: Some(model.as_str().to_owned()),
            valid_to,
        };
        versions.retain(|v| v.version != version);
        versions.push(record.clone());
        if key.current_version == 0 {
            key.current_version = 1;
        }
        key.state = state_with(&key, &versions);
        let since = self.cache.since();
        self.store
            .put_versions(&key, &[record], &mut self.journal(call, id))?;
        self.cache.drop_material(&key);
        self.cache.put_record(&key, since);
        Ok(KeyMaterialResponse {
            key_id: key.arn,
            key_material_id: material_id,
        })
    }

    /// The version new material takes: the first, or (symmetric keys) the
    /// one pending rotation after the current.
    fn new_material_version(
        &self,
        key: &KeyRecord,
        versions: &[VersionRecord],
        material_id: &str,
    ) -> Result<u32, KmsError> {
        if versions.is_empty() {
            return Ok(1);
        }
        if !specs::is_symmetric(key) {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!(
                    "{} has its key material: only symmetric encryption keys take new key material (ImportType NEW_KEY_MATERIAL) after the first import.",
                    key.arn
                ),
            ));
        }
        if key.is_multi_region() {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "keyward does not rotate the imported key material of multi-Region keys.",
            ));
        }
        if versions
            .iter()
            .any(|v| v.material_id.as_deref() == Some(material_id))
        {
            return Err(incorrect_material());
        }
        if versions.iter().any(|v| v.version > key.current_version) {
            return Err(KmsError::new(
                ErrorKind::KmsInvalidState,
                format!(
                    "{} already has key material pending rotation: rotate the key (RotateKeyOnDemand) or delete that key material first.",
                    key.arn
                ),
            ));
        }
        Ok(key.current_version + 1)
    }

    pub(super) fn delete_imported_key_material(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DeleteImportedKeyMaterialRequest,
    ) -> Result<KeyMaterialResponse, KmsError> {
        let (mut key, _) = self.resolve(id, &input.key_id, Reach::Own)?;
        self.authorize(
            call,
            id,
            &key,
            "DeleteImportedKeyMaterial",
            Need::Any,
            Facts::default(),
        )?;
        if !key.is_imported() {
            return Err(origin_not_valid(&key));
        }
        let mut versions = self.store.versions(&key)?;
        let target = match &input.key_material_id {
            Some(m) => versions
                .iter()
                .find(|v| v.material_id.as_ref() == Some(m))
                .ok_or_else(|| {
                    KmsError::not_found(format!(
                        "Key material {m} is not associated with {}.",
                        key.arn
                    ))
                })?,
            None => versions
                .iter()
                .find(|v| v.version == key.current_version)
                .ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{} is pending import.", key.arn),
                    )
                })?,
        };
        let material_id = target.material_id.clone().unwrap_or_default();
        let erased = VersionRecord {
            sealed: None,
            expiration_model: None,
            valid_to: None,
            ..target.clone()
        };
        versions.retain(|v| v.version != erased.version);
        versions.push(erased.clone());
        key.state = state_with(&key, &versions);
        let since = self.cache.since();
        self.store
            .put_versions(&key, &[erased], &mut self.journal(call, id))?;
        self.cache.drop_material(&key);
        self.cache.put_record(&key, since);
        Ok(KeyMaterialResponse {
            key_id: key.arn,
            key_material_id: material_id,
        })
    }

    /// Erases imported material whose `ValidTo` has passed (recorded as
    /// `DeleteExpiredKeyMaterial`, as CloudTrail shows it); the key as it is
    /// afterwards.
    pub(super) fn expire_material(&self, mut key: KeyRecord) -> Result<KeyRecord, KmsError> {
        let now = self.now();
        if self
            .cache
            .expiry(&key)
            .is_some_and(|e| e.is_none_or(|t| t > now))
        {
            return Ok(key);
        }
        let since = self.cache.since();
        let mut versions = self.store.versions(&key)?;
        let next = versions
            .iter()
            .filter(|v| v.sealed.is_some())
            .filter_map(|v| v.valid_to)
            .min();
        if next.is_none_or(|t| t > now) {
            self.cache.put_expiry(&key, next, since);
            return Ok(key);
        }
        let expired: Vec<VersionRecord> = versions
            .iter()
            .filter(|v| v.sealed.is_some() && v.valid_to.is_some_and(|t| t <= now))
            .map(|v| VersionRecord {
                sealed: None,
                expiration_model: None,
                valid_to: None,
                ..v.clone()
            })
            .collect();
        if expired.is_empty() {
            return Ok(key);
        }
        for e in &expired {
            versions.retain(|v| v.version != e.version);
            versions.push(e.clone());
        }
        let before = key.clone();
        key.state = state_with(&key, &versions);
        let since = self.cache.since();
        self.store.put_versions(
            &key,
            &expired,
            &mut ServiceChange {
                service: self,
                event: "DeleteExpiredKeyMaterial",
                key: &before,
            },
        )?;
        self.cache.drop_material(&key);
        self.cache.put_record(&key, since);
        Ok(key)
    }

    /// RotateKeyOnDemand of a key with imported material: the material
    /// pending rotation becomes current.
    pub(super) fn rotate_to_imported(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        mut key: KeyRecord,
        versions: &[VersionRecord],
    ) -> Result<(), KmsError> {
        let Some(pending) = versions
            .iter()
            .find(|v| v.version == key.current_version + 1 && v.sealed.is_some())
        else {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!(
                    "{} has no key material pending rotation: import new key material (ImportType NEW_KEY_MATERIAL) before rotating a key with imported key material.",
                    key.arn
                ),
            ));
        };
        let promoted = VersionRecord {
            created: self.now(),
            kind: "ON_DEMAND".into(),
            ..pending.clone()
        };
        key.current_version = promoted.version;
        let since = self.cache.since();
        self.store
            .put_versions(&key, &[promoted], &mut self.journal(call, id))?;
        self.cache.put_record(&key, since);
        Ok(())
    }
}
