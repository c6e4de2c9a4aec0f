//! What each key spec is: the usages it may have, the algorithms
//! DescribeKey and GetPublicKey list for it, and the errors for a key used
//! outside them (AWS's texts).

use serde::Serialize;

use crate::store::KeyRecord;

use super::api::enums::{KeySpec, KeyUsage};
use super::{ErrorKind, KmsError};

/// The usages a key spec may have (AWS's CreateKey documentation).
pub(super) fn usages(spec: KeySpec) -> &'static [KeyUsage] {
    use KeySpec as S;
    use KeyUsage as U;
    match spec {
        S::SymmetricDefault => &[U::EncryptDecrypt],
        S::Rsa2048 | S::Rsa3072 | S::Rsa4096 => &[U::EncryptDecrypt, U::SignVerify],
        S::EccNistP256 | S::EccNistP384 | S::EccNistP521 => &[U::SignVerify, U::KeyAgreement],
        S::EccSecgP256k1 | S::EccNistEdwards25519 => &[U::SignVerify],
        S::MlDsa44 | S::MlDsa65 | S::MlDsa87 => &[U::SignVerify],
        S::Hmac224 | S::Hmac256 | S::Hmac384 | S::Hmac512 => &[U::GenerateVerifyMac],
        S::MlKem512 | S::MlKem768 | S::MlKem1024 => &[U::EncapsulateDecapsulate],
        S::Sm2 => &[U::EncryptDecrypt, U::SignVerify, U::KeyAgreement],
    }
}

/// Whether keyward creates keys of `spec` (SM2 is offered by AWS only in
/// its China Regions).
pub(super) fn served(spec: KeySpec) -> bool {
    spec != KeySpec::Sm2
}

/// The algorithm lists of a key, as KeyMetadata and GetPublicKey show
/// them: only the list of the key's usage is present.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Algorithms {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encapsulation_algorithms: Option<Vec<&'static str>>,
}

/// The signing algorithms a key spec signs with, in AWS's order.
pub(super) fn signing_algorithms(spec: &str) -> &'static [&'static str] {
    match spec {
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &[
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => &["ECDSA_SHA_256"],
        "ECC_NIST_P384" => &["ECDSA_SHA_384"],
        "ECC_NIST_P521" => &["ECDSA_SHA_512"],
        "ECC_NIST_EDWARDS25519" => &["ED25519_SHA_512", "ED25519_PH_SHA_512"],
        "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => &["ML_DSA_SHAKE_256"],
        _ => &[],
    }
}

/// The MAC algorithm of an HMAC key spec.
pub(super) fn mac_algorithm(spec: &str) -> Option<&'static str> {
    match spec {
        "HMAC_224" => Some("HMAC_SHA_224"),
        "HMAC_256" => Some("HMAC_SHA_256"),
        "HMAC_384" => Some("HMAC_SHA_384"),
        "HMAC_512" => Some("HMAC_SHA_512"),
        _ => None,
    }
}

pub(super) fn encryption_algorithms(spec: &str) -> &'static [&'static str] {
    match spec {
        "SYMMETRIC_DEFAULT" => &["SYMMETRIC_DEFAULT"],
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
        _ => &[],
    }
}

pub(super) fn algorithms(key: &KeyRecord) -> Algorithms {
    let spec = key.key_spec.as_str();
    let mut a = Algorithms::default();
    match key.key_usage.as_str() {
        "ENCRYPT_DECRYPT" => a.encryption_algorithms = Some(encryption_algorithms(spec).to_vec()),
        "SIGN_VERIFY" => a.signing_algorithms = Some(signing_algorithms(spec).to_vec()),
        "GENERATE_VERIFY_MAC" => a.mac_algorithms = mac_algorithm(spec).map(|m| vec![m]),
        "KEY_AGREEMENT" => a.key_agreement_algorithms = Some(vec!["ECDH"]),
        "ENCAPSULATE_DECAPSULATE" => a.encapsulation_algorithms = Some(vec!["ML_KEM"]),
        _ => {}
    }
    a
}

/// Whether the deprecated `CustomerMasterKeySpec` names this spec (AWS
/// stopped extending it before Ed25519, ML-DSA and ML-KEM).
pub(super) fn has_customer_master_key_spec(spec: &str) -> bool {
    super::api::enums::CustomerMasterKeySpec::VALUES.contains(&spec)
}

pub(super) fn is_symmetric(key: &KeyRecord) -> bool {
    key.key_spec == "SYMMETRIC_DEFAULT"
}

/// AWS's InvalidKeyUsageException for a key used outside its usage.
pub(super) fn wrong_usage(key: &KeyRecord, operation: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn, key.key_usage
        ),
    )
}

/// The key must have `usage` for `operation`.
pub(super) fn need_usage(
    key: &KeyRecord,
    usage: KeyUsage,
    operation: &str,
) -> Result<(), KmsError> {
    if key.key_usage == usage.as_str() {
        Ok(())
    } else {
        Err(wrong_usage(key, operation))
    }
}

/// AWS's InvalidKeyUsageException for an algorithm a key's spec lacks.
pub(super) fn incompatible(algorithm: &str, key: &KeyRecord) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!(
            "Algorithm {algorithm} is incompatible with key spec {}.",
            key.key_spec
        ),
    )
}
