//! Encrypt and Decrypt under RSA keys (RSAES-OAEP with SHA-1 or SHA-256):
//! no envelope, no encryption context, a plaintext bounded by the key size.

use std::collections::BTreeMap;

use crate::crypto::{Secret, asymmetric};
use crate::eval::ContextValue;
use crate::store::KeyRecord;

use super::api::enums::{EncryptionAlgorithm, KeyUsage};
use super::specs;
use super::{Call, Facts, Identity, KeyService, KmsError, Need};

/// An asymmetric Encrypt or Decrypt, decoded.
pub(super) struct RsaCall<'a> {
    pub operation: &'static str,
    pub key: &'a KeyRecord,
    pub alias: Option<String>,
    pub algorithm: Option<EncryptionAlgorithm>,
    pub context: &'a BTreeMap<String, String>,
    pub dry_run: bool,
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

    fn facts(&self, algorithm: &str) -> Facts {
        Facts {
            alias: self.alias.clone(),
            extra: vec![(
                "kms:EncryptionAlgorithm".into(),
                ContextValue::One(algorithm.into()),
            )],
            ..Facts::default()
        }
    }
}

impl KeyService {
    /// RSA-OAEP encryption: the ciphertext and the algorithm used.
    pub(super) fn rsa_encrypt(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        c: RsaCall<'_>,
        plaintext: &Secret,
    ) -> Result<(Vec<u8>, &'static str), KmsError> {
        let requested = c.algorithm.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
        let permit = self.authorize(
            call,
            id,
            c.key,
            c.operation,
            Need::Usable,
            c.facts(requested.as_str()),
        )?;
        let algorithm = c.algorithm()?;
        call.effective.push(("EncryptionAlgorithm", algorithm));
        let spec = c.key.key_spec.as_str();
        let limit = asymmetric::max_oaep_plaintext(spec, algorithm).unwrap_or(0);
        if plaintext.len() > limit {
            return Err(KmsError::validation(format!(
                "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes."
            )));
        }
        if c.dry_run {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, c.key, c.key.current_version)?;
        let ct = asymmetric::rsa_encrypt(spec, algorithm, &material, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok((ct, algorithm))
    }

    /// RSA-OAEP decryption: the plaintext and the algorithm used. A
    /// ciphertext that does not open is AWS's InvalidCiphertextException.
    pub(super) fn rsa_decrypt(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        c: RsaCall<'_>,
        ciphertext: &[u8],
    ) -> Result<(Secret, &'static str), KmsError> {
        let requested = c.algorithm.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
        let permit = self.authorize(
            call,
            id,
            c.key,
            c.operation,
            Need::Usable,
            c.facts(requested.as_str()),
        )?;
        let algorithm = c.algorithm()?;
        call.effective.push(("EncryptionAlgorithm", algorithm));
        if c.dry_run {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, c.key, c.key.current_version)?;
        asymmetric::rsa_decrypt(&c.key.key_spec, algorithm, &material, ciphertext)
            .map_err(|e| KmsError::internal(e.to_string()))?
            .map(|p| (p, algorithm))
            .ok_or_else(|| {
                KmsError::invalid_ciphertext(format!(
                    "the ciphertext does not open under {algorithm} with this key"
                ))
            })
    }
}
