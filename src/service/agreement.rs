//! Key agreement and key encapsulation: DeriveSharedSecret (ECDH with a
//! caller's public key), Encapsulate and Decapsulate (ML-KEM).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::crypto::kem;
use crate::eval::ContextValue;

use super::api::enums::KeyUsage;
use super::api::types::{Blob, Recipient};
use super::api::{GRANT_TOKENS, KEY_ID, RECIPIENT, Rule, request};
use super::specs;
use super::{Call, Facts, Identity, KeyService, KmsError};

request! {
    /// DeriveSharedSecret.
    DeriveSharedSecretRequest {
        key_id: req String = "KeyId" KEY_ID,
        key_agreement_algorithm: req String = "KeyAgreementAlgorithm" Rule::Enum(&["ECDH"]),
        public_key: req Blob = "PublicKey" Rule::Blob { min: Some(1), max: Some(8192) },
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
        recipient: opt Recipient = "Recipient" RECIPIENT,
    }
}

request! {
    /// Encapsulate.
    EncapsulateRequest {
        key_id: req String = "KeyId" KEY_ID,
        encapsulation_algorithm: req String = "EncapsulationAlgorithm" Rule::Enum(&["ML_KEM"]),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// Decapsulate.
    DecapsulateRequest {
        key_id: req String = "KeyId" KEY_ID,
        shared_secret_ciphertext_blob: req Blob =
            "SharedSecretCiphertextBlob" Rule::Blob { min: Some(1), max: Some(6144) },
        encapsulation_algorithm: req String = "EncapsulationAlgorithm" Rule::Enum(&["ML_KEM"]),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeriveSharedSecretResponse {
    key_id: String,
    shared_secret: String,
    key_agreement_algorithm: &'static str,
    key_origin: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncapsulateResponse {
    key_id: String,
    shared_secret: String,
    shared_secret_ciphertext_blob: String,
    encapsulation_algorithm: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DecapsulateResponse {
    key_id: String,
    shared_secret: String,
    encapsulation_algorithm: String,
}

fn crypto_failed(e: crate::crypto::CryptoError) -> KmsError {
    KmsError::internal(e.to_string())
}

impl KeyService {
    pub(super) fn derive_shared_secret(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DeriveSharedSecretRequest,
    ) -> Result<DeriveSharedSecretResponse, KmsError> {
        super::cryptographic::refuse_recipient(input.recipient.as_ref())?;
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "DeriveSharedSecret",
            |alias| Facts {
                alias,
                extra: vec![(
                    "kms:KeyAgreementAlgorithm".into(),
                    ContextValue::one(input.key_agreement_algorithm.clone()),
                )],
                ..Facts::default()
            },
        )?;
        specs::need_usage(&key, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let secret = kem::derive_shared_secret(&key.key_spec, &material, &input.public_key.0)
            .map_err(crypto_failed)?
            .ok_or_else(|| {
                KmsError::validation("")
                    .with_detail("the public key is not a point of the key's curve")
            })?;
        Ok(DeriveSharedSecretResponse {
            key_id: key.arn,
            shared_secret: B64.encode(secret.expose()),
            key_agreement_algorithm: "ECDH",
            key_origin: "AWS_KMS",
        })
    }

    pub(super) fn encapsulate(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: EncapsulateRequest,
    ) -> Result<EncapsulateResponse, KmsError> {
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "Encapsulate",
            |alias| Facts {
                alias,
                ..Facts::default()
            },
        )?;
        specs::need_usage(&key, KeyUsage::EncapsulateDecapsulate, "Encapsulate")?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let (ciphertext, secret) =
            kem::encapsulate(&key.key_spec, &material).map_err(crypto_failed)?;
        Ok(EncapsulateResponse {
            key_id: key.arn,
            shared_secret: B64.encode(secret.expose()),
            shared_secret_ciphertext_blob: B64.encode(ciphertext),
            encapsulation_algorithm: input.encapsulation_algorithm,
        })
    }

    pub(super) fn decapsulate(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DecapsulateRequest,
    ) -> Result<DecapsulateResponse, KmsError> {
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "Decapsulate",
            |alias| Facts {
                alias,
                ..Facts::default()
            },
        )?;
        specs::need_usage(&key, KeyUsage::EncapsulateDecapsulate, "Decapsulate")?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let secret = kem::decapsulate(
            &key.key_spec,
            &material,
            &input.shared_secret_ciphertext_blob.0,
        )
        .map_err(crypto_failed)?
        .ok_or_else(|| {
            KmsError::invalid_ciphertext("the ciphertext is not of the key spec's length")
        })?;
        Ok(DecapsulateResponse {
            key_id: key.arn,
            shared_secret: B64.encode(secret.expose()),
            encapsulation_algorithm: input.encapsulation_algorithm,
        })
    }
}
