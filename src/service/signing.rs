//! Asymmetric and HMAC keys at work: GetPublicKey, Sign, Verify,
//! GenerateMac, VerifyMac.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::crypto::asymmetric::{self, Message};
use crate::eval::ContextValue;
use crate::store::KeyRecord;

use super::api::enums::{KeyUsage, MacAlgorithm, MessageType, SigningAlgorithm};
use super::api::types::{Blob, SecretBlob};
use super::api::{GRANT_TOKENS, KEY_ID, Rule, request};
use super::specs::{self, Algorithms};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError};

const MESSAGE: Rule = Rule::Blob {
    min: Some(1),
    max: Some(4096),
};
const SIGNATURE: Rule = Rule::Blob {
    min: Some(1),
    max: Some(6144),
};

request! {
    /// GetPublicKey.
    GetPublicKeyRequest {
        key_id: req String = "KeyId" KEY_ID,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
    }
}

request! {
    /// Sign.
    SignRequest {
        key_id: req String = "KeyId" KEY_ID,
        message: secret SecretBlob = "Message" MESSAGE,
        message_type: opt MessageType = "MessageType" Rule::Enum(MessageType::VALUES),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        signing_algorithm: req SigningAlgorithm =
            "SigningAlgorithm" Rule::Enum(SigningAlgorithm::VALUES),
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// Verify.
    VerifyRequest {
        key_id: req String = "KeyId" KEY_ID,
        message: secret SecretBlob = "Message" MESSAGE,
        message_type: opt MessageType = "MessageType" Rule::Enum(MessageType::VALUES),
        signature: req Blob = "Signature" SIGNATURE,
        signing_algorithm: req SigningAlgorithm =
            "SigningAlgorithm" Rule::Enum(SigningAlgorithm::VALUES),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// GenerateMac.
    GenerateMacRequest {
        message: secret SecretBlob = "Message" MESSAGE,
        key_id: req String = "KeyId" KEY_ID,
        mac_algorithm: req MacAlgorithm = "MacAlgorithm" Rule::Enum(MacAlgorithm::VALUES),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// VerifyMac.
    VerifyMacRequest {
        message: secret SecretBlob = "Message" MESSAGE,
        key_id: req String = "KeyId" KEY_ID,
        mac_algorithm: req MacAlgorithm = "MacAlgorithm" Rule::Enum(MacAlgorithm::VALUES),
        mac: req Blob = "Mac" SIGNATURE,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetPublicKeyResponse {
    key_id: String,
    public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_master_key_spec: Option<String>,
    key_spec: String,
    key_usage: String,
    #[serde(flatten)]
    algorithms: Algorithms,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SignResponse {
    key_id: String,
    signature: String,
    signing_algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyResponse {
    key_id: String,
    signature_valid: bool,
    signing_algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateMacResponse {
    mac: String,
    mac_algorithm: &'static str,
    key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyMacResponse {
    key_id: String,
    mac_valid: bool,
    mac_algorithm: &'static str,
}

fn crypto_failed(e: crate::crypto::CryptoError) -> KmsError {
    KmsError::internal(e.to_string())
}

/// The signing algorithm and message type a Sign or Verify may use with
/// `key`, checked as AWS checks them.
fn check_signing(
    key: &KeyRecord,
    operation: &str,
    algorithm: SigningAlgorithm,
    kind: MessageType,
    message: &[u8],
) -> Result<Message, KmsError> {
    specs::need_usage(key, KeyUsage::SignVerify, operation)?;
    if !specs::signing_algorithms(&key.key_spec).contains(&algorithm.as_str()) {
        return Err(specs::incompatible(algorithm.as_str(), key));
    }
    let incompatible_type = || {
        KmsError::validation(format!(
            "Message type {kind} is incompatible with algorithm {algorithm}."
        ))
    };
    match (kind, algorithm) {
        (MessageType::ExternalMu, _) => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "keyward does not support MessageType EXTERNAL_MU",
        )),
        (MessageType::Raw, SigningAlgorithm::Ed25519PhSha512)
        | (MessageType::Digest, SigningAlgorithm::Ed25519Sha512) => Err(incompatible_type()),
        (MessageType::Digest, SigningAlgorithm::MlDsaShake256) => Err(incompatible_type()),
        (MessageType::Digest, _) => {
            let ok = asymmetric::digest_of(algorithm.as_str())
                .is_some_and(|d| d.output_len() == message.len());
            if ok {
                Ok(Message::Digest)
            } else {
                Err(KmsError::validation(format!(
                    "Digest is invalid length for algorithm {algorithm}."
                )))
            }
        }
        (MessageType::Raw, _) => Ok(Message::Raw),
    }
}

fn signing_facts(
    alias: Option<String>,
    algorithm: SigningAlgorithm,
    kind: MessageType,
) -> Facts<'static> {
    Facts {
        alias,
        extra: vec![
            (
                "kms:SigningAlgorithm".into(),
                ContextValue::one(algorithm.as_str()),
            ),
            ("kms:MessageType".into(), ContextValue::one(kind.as_str())),
        ],
        ..Facts::default()
    }
}

fn mac_facts(alias: Option<String>, algorithm: MacAlgorithm) -> Facts<'static> {
    Facts {
        alias,
        extra: vec![(
            "kms:MacAlgorithm".into(),
            ContextValue::one(algorithm.as_str()),
        )],
        ..Facts::default()
    }
}

fn check_mac(key: &KeyRecord, operation: &str, algorithm: MacAlgorithm) -> Result<(), KmsError> {
    specs::need_usage(key, KeyUsage::GenerateVerifyMac, operation)?;
    if specs::mac_algorithm(&key.key_spec) == Some(algorithm.as_str()) {
        Ok(())
    } else {
        Err(specs::incompatible(algorithm.as_str(), key))
    }
}

impl KeyService {
    /// The public key of the key's current version, derived once from its
    /// private key (which the permit opens) and then kept.
    pub(super) fn public_key(
        &self,
        permit: &crate::eval::Permit,
        key: &KeyRecord,
    ) -> Result<std::sync::Arc<Vec<u8>>, KmsError> {
        if let Some(p) = self.cache.public_key(key, key.current_version) {
            return Ok(p);
        }
        let since = self.cache.since();
        let material = self.material(permit, key, key.current_version)?;
        let public = std::sync::Arc::new(
            asymmetric::public_key(&key.key_spec, &material).map_err(crypto_failed)?,
        );
        self.cache
            .put_public_key(key, key.current_version, public.clone(), since);
        Ok(public)
    }

    pub(super) fn get_public_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GetPublicKeyRequest,
    ) -> Result<GetPublicKeyResponse, KmsError> {
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "GetPublicKey",
            |alias| Facts {
                alias,
                ..Facts::default()
            },
        )?;
        let asymmetric = matches!(
            key.key_usage.as_str(),
            "SIGN_VERIFY" | "KEY_AGREEMENT" | "ENCAPSULATE_DECAPSULATE"
        ) || (key.key_usage == "ENCRYPT_DECRYPT" && !specs::is_symmetric(&key));
        if !asymmetric {
            return Err(KmsError::new(ErrorKind::UnsupportedOperation, ""));
        }
        let public = self.public_key(&permit, &key)?;
        Ok(GetPublicKeyResponse {
            public_key: B64.encode(public.as_slice()),
            customer_master_key_spec: specs::has_customer_master_key_spec(&key.key_spec)
                .then(|| key.key_spec.clone()),
            algorithms: specs::algorithms(&key),
            key_spec: key.key_spec,
            key_usage: key.key_usage,
            key_id: key.arn,
        })
    }

    pub(super) fn sign(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: SignRequest,
    ) -> Result<SignResponse, KmsError> {
        let kind = input.message_type.unwrap_or(MessageType::Raw);
        let algorithm = input.signing_algorithm;
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "Sign",
            |alias| signing_facts(alias, algorithm, kind),
        )?;
        call.effective.push(("MessageType", kind.as_str()));
        let message = input.message.0;
        let kind = check_signing(&key, "Sign", algorithm, kind, message.expose())?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let signature = asymmetric::sign(
            &key.key_spec,
            algorithm.as_str(),
            &material,
            message.expose(),
            kind,
        )
        .map_err(crypto_failed)?;
        Ok(SignResponse {
            key_id: key.arn,
            signature: B64.encode(signature),
            signing_algorithm: algorithm.as_str(),
        })
    }

    pub(super) fn verify(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: VerifyRequest,
    ) -> Result<VerifyResponse, KmsError> {
        let kind = input.message_type.unwrap_or(MessageType::Raw);
        let algorithm = input.signing_algorithm;
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "Verify",
            |alias| signing_facts(alias, algorithm, kind),
        )?;
        call.effective.push(("MessageType", kind.as_str()));
        let message = input.message.0;
        let kind = check_signing(&key, "Verify", algorithm, kind, message.expose())?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let public = self.public_key(&permit, &key)?;
        let valid = asymmetric::verify_public(
            &key.key_spec,
            algorithm.as_str(),
            &public,
            message.expose(),
            kind,
            &input.signature.0,
        )
        .map_err(crypto_failed)?;
        if !valid {
            return Err(KmsError::new(ErrorKind::InvalidSignature, ""));
        }
        Ok(VerifyResponse {
            key_id: key.arn,
            signature_valid: true,
            signing_algorithm: algorithm.as_str(),
        })
    }

    pub(super) fn generate_mac(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateMacRequest,
    ) -> Result<GenerateMacResponse, KmsError> {
        let algorithm = input.mac_algorithm;
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "GenerateMac",
            |alias| mac_facts(alias, algorithm),
        )?;
        check_mac(&key, "GenerateMac", algorithm)?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let mac = asymmetric::mac(&key.key_spec, &material, input.message.0.expose())
            .map_err(crypto_failed)?;
        Ok(GenerateMacResponse {
            mac: B64.encode(mac),
            mac_algorithm: algorithm.as_str(),
            key_id: key.arn,
        })
    }

    pub(super) fn verify_mac(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: VerifyMacRequest,
    ) -> Result<VerifyMacResponse, KmsError> {
        let algorithm = input.mac_algorithm;
        let (key, permit) = self.authorized_use(
            call,
            id,
            &input.key_id,
            input.grant_tokens.as_deref(),
            "VerifyMac",
            |alias| mac_facts(alias, algorithm),
        )?;
        check_mac(&key, "VerifyMac", algorithm)?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let valid = asymmetric::verify_mac(
            &key.key_spec,
            &material,
            input.message.0.expose(),
            &input.mac.0,
        )
        .map_err(crypto_failed)?;
        if !valid {
            return Err(KmsError::new(ErrorKind::InvalidMac, ""));
        }
        Ok(VerifyMacResponse {
            key_id: key.arn,
            mac_valid: true,
            mac_algorithm: algorithm.as_str(),
        })
    }
}
