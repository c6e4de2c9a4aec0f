//! Encrypt, Decrypt and ReEncrypt under RSA keys (RSAES-OAEP with SHA-1 or
//! SHA-256): no envelope, no encryption context, a plaintext bounded by
//! the key size.

use std::collections::BTreeMap;

use crate::crypto::{Secret, asymmetric};
use crate::eval::{ContextValue, Permit};
use crate::store::KeyRecord;

use super::api::enums::{EncryptionAlgorithm, KeyUsage};
use super::specs;
use super::{Call, Facts, Identity, KeyService, KmsError, Need};

/// One side of an asymmetric Encrypt, Decrypt or ReEncrypt, decoded.
pub(super) struct RsaCall<'a> {
    /// The action authorized (`Encrypt`, `ReEncryptFrom`, ...).
    pub operation: &'static str,
    pub key: &'a KeyRecord,
    pub alias: Option<String>,
    pub algorithm: Option<EncryptionAlgorithm>,
    pub context: &'a BTreeMap<String, String>,
    /// Further request facts (`kms:ReEncryptOnSameKey`).
    pub extra: Vec<(String, ContextValue<'static>)>,
}

impl RsaCall<'_> {
    /// The OAEP algorithm the call names: RSA keys have no default.
    fn algorithm(&self) -> Result<&'static str, KmsError> {
        specs::need_usage(self.key, KeyUsage::EncryptDecrypt, self.operation)?;
        let algorithm = self
            .algorithm
            .unwrap_or(EncryptionAlgorithm::SymmetricDefault)
            .as_str();
        if !specs::encryption_algorithms(&self.key.key_spec).contains(&algorithm) {
            return Err(specs::incompatible(algorithm, self.key));
        }
        if !self.context.is_empty() {
            return Err(KmsError::validation(
                "EncryptionContext is supported only with symmetric encryption KMS keys.",
            ));
        }
        Ok(algorithm)
    }
}

impl KeyService {
    /// Authorizes one side of an asymmetric call and checks its algorithm:
    /// the permit and the OAEP algorithm.
    pub(super) fn rsa_authorize(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        c: RsaCall<'_>,
    ) -> Result<(Permit, &'static str), KmsError> {
        let requested = c.algorithm.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
        let mut extra = vec![(
            "kms:EncryptionAlgorithm".to_owned(),
            ContextValue::one(requested.as_str()),
        )];
        extra.extend(c.extra.iter().cloned());
        let facts = Facts {
            alias: c.alias.clone(),
            extra,
            ..Facts::default()
        };
        let permit = self.authorize(call, id, c.key, c.operation, Need::Usable, facts)?;
        let algorithm = c.algorithm()?;
        call.effective.push(("EncryptionAlgorithm", algorithm));
        Ok((permit, algorithm))
    }

    /// RSA-OAEP encryption of a plaintext [`check_size`] has admitted.
    pub(super) fn rsa_seal(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        algorithm: &str,
        plaintext: &Secret,
    ) -> Result<Vec<u8>, KmsError> {
        let material = self.material(permit, key, key.current_version)?;
        asymmetric::rsa_encrypt(&key.key_spec, algorithm, &material, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))
    }

    /// RSA-OAEP decryption. A ciphertext that does not open is AWS's
    /// InvalidCiphertextException.
    pub(super) fn rsa_open(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        algorithm: &str,
        ciphertext: &[u8],
    ) -> Result<Secret, KmsError> {
        let material = self.material(permit, key, key.current_version)?;
        asymmetric::rsa_decrypt(&key.key_spec, algorithm, &material, ciphertext)
            .map_err(|e| KmsError::internal(e.to_string()))?
            .ok_or_else(|| {
                KmsError::invalid_ciphertext(format!(
                    "the ciphertext does not open under {algorithm} with this key"
                ))
            })
    }
}

/// AWS's ValidationException for a plaintext RSA-OAEP cannot take.
pub(super) fn check_size(
    key: &KeyRecord,
    algorithm: &str,
    plaintext: &Secret,
) -> Result<(), KmsError> {
    let spec = key.key_spec.as_str();
    let limit = asymmetric::max_oaep_plaintext(spec, algorithm).unwrap_or(0);
    if plaintext.len() > limit {
        return Err(KmsError::validation(format!(
            "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes."
        )));
    }
    Ok(())
}
