//! Asymmetric and HMAC key material, from aws-lc-rs (AWS-LC): RSA (PSS,
//! PKCS #1 v1.5, OAEP), ECDSA on the NIST curves and secp256k1, Ed25519,
//! ML-DSA and HMAC.
//!
//! Key specs and algorithms are named as the KMS API names them; the
//! service has checked that they belong together before calling here.
//! Private keys are kept as PKCS #8 (HMAC keys as their bytes) inside the
//! sealed key material, and every function that uses one takes the
//! [`KeyMaterial`] that only a permit opens.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ML_DSA_44, ML_DSA_44_SIGNING, ML_DSA_65,
    ML_DSA_65_SIGNING, ML_DSA_87, ML_DSA_87_SIGNING, PqdsaKeyPair, RsaKeyPair,
};
use aws_lc_rs::{hmac, rand as lc_rand};

use super::{CryptoError, KeyMaterial, Secret};

/// How a message reaches a signing algorithm (the API's `MessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The message itself, hashed by the algorithm.
    Raw,
    /// A digest the caller computed.
    Digest,
}

pub(super) fn failed(what: &str) -> CryptoError {
    CryptoError::Asymmetric(what.to_owned())
}

fn rsa_size(spec: &str) -> Option<KeySize> {
    match spec {
        "RSA_2048" => Some(KeySize::Rsa2048),
        "RSA_3072" => Some(KeySize::Rsa3072),
        "RSA_4096" => Some(KeySize::Rsa4096),
        _ => None,
    }
}

/// The ECDSA signing algorithm of a curve (each KMS curve has one hash).
fn ecdsa(spec: &str) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match spec {
        "ECC_NIST_P256" => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        "ECC_NIST_P384" => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        "ECC_NIST_P521" => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        "ECC_SECG_P256K1" => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
        _ => None,
    }
}

fn ecdsa_verify(spec: &str) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    match spec {
        "ECC_NIST_P256" => Some(&signature::ECDSA_P256_SHA256_ASN1),
        "ECC_NIST_P384" => Some(&signature::ECDSA_P384_SHA384_ASN1),
        "ECC_NIST_P521" => Some(&signature::ECDSA_P521_SHA512_ASN1),
        "ECC_SECG_P256K1" => Some(&signature::ECDSA_P256K1_SHA256_ASN1),
        _ => None,
    }
}

fn ml_dsa(spec: &str) -> Option<&'static signature::PqdsaSigningAlgorithm> {
    match spec {
        "ML_DSA_44" => Some(&ML_DSA_44_SIGNING),
        "ML_DSA_65" => Some(&ML_DSA_65_SIGNING),
        "ML_DSA_87" => Some(&ML_DSA_87_SIGNING),
        _ => None,
    }
}

fn ml_dsa_verify(spec: &str) -> Option<&'static signature::PqdsaVerificationAlgorithm> {
    match spec {
        "ML_DSA_44" => Some(&ML_DSA_44),
        "ML_DSA_65" => Some(&ML_DSA_65),
        "ML_DSA_87" => Some(&ML_DSA_87),
        _ => None,
    }
}

fn hmac_algorithm(spec: &str) -> Option<(hmac::Algorithm, usize)> {
    match spec {
        "HMAC_224" => Some((hmac::HMAC_SHA224, 28)),
        "HMAC_256" => Some((hmac::HMAC_SHA256, 32)),
        "HMAC_384" => Some((hmac::HMAC_SHA384, 48)),
        "HMAC_512" => Some((hmac::HMAC_SHA512, 64)),
        _ => None,
    }
}

/// RSA signing paddings by the API's algorithm names.
fn rsa_signing(algorithm: &str) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_verifying(algorithm: &str) -> Option<&'static signature::RsaParameters> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_2048_8192_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_2048_8192_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_2048_8192_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// The digest a signing algorithm hashes with: what a `DIGEST` message
/// must be the output of.
pub fn digest_of(algorithm: &str) -> Option<&'static digest::Algorithm> {
    match algorithm {
        "RSASSA_PSS_SHA_256" | "RSASSA_PKCS1_V1_5_SHA_256" | "ECDSA_SHA_256" => {
            Some(&digest::SHA256)
        }
        "RSASSA_PSS_SHA_384" | "RSASSA_PKCS1_V1_5_SHA_384" | "ECDSA_SHA_384" => {
            Some(&digest::SHA384)
        }
        "RSASSA_PSS_SHA_512"
        | "RSASSA_PKCS1_V1_5_SHA_512"
        | "ECDSA_SHA_512"
        | "ED25519_PH_SHA_512" => Some(&digest::SHA512),
        _ => None,
    }
}

fn oaep(algorithm: &str) -> Option<&'static OaepAlgorithm> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Some(&OAEP_SHA1_MGF1SHA1),
        "RSAES_OAEP_SHA_256" => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

/// New private key material for `spec`: PKCS #8 for a key pair, the key
/// bytes for an HMAC key.
pub fn generate(spec: &str) -> Result<Secret, CryptoError> {
    let pkcs8 = |d: Result<aws_lc_rs::encoding::Pkcs8V1Der<'static>, _>| {
        d.map(|d| Secret::new(d.as_ref().to_vec()))
            .map_err(|_| failed("key generation"))
    };
    if let Some(size) = rsa_size(spec) {
        let pair = RsaKeyPair::generate(size).map_err(|_| failed("RSA key generation"))?;
        return pkcs8(pair.as_der());
    }
    if let Some(alg) = ecdsa(spec) {
        let pair = EcdsaKeyPair::generate(alg).map_err(|_| failed("EC key generation"))?;
        let doc = pair.to_pkcs8v1().map_err(|_| failed("EC key encoding"))?;
        return Ok(Secret::new(doc.as_ref().to_vec()));
    }
    if spec == "ECC_NIST_EDWARDS25519" {
        let pair = Ed25519KeyPair::generate().map_err(|_| failed("Ed25519 key generation"))?;
        let doc = pair
            .to_pkcs8v1()
            .map_err(|_| failed("Ed25519 key encoding"))?;
        return Ok(Secret::new(doc.as_ref().to_vec()));
    }
    if let Some(alg) = ml_dsa(spec) {
        let pair = PqdsaKeyPair::generate(alg).map_err(|_| failed("ML-DSA key generation"))?;
        let doc = pair
            .to_pkcs8v1()
            .map_err(|_| failed("ML-DSA key encoding"))?;
        return Ok(Secret::new(doc.as_ref().to_vec()));
    }
    if let Some((_, len)) = hmac_algorithm(spec) {
        return Ok(Secret::random(len));
    }
    if let Some(key) = super::kem::generate(spec)? {
        return Ok(key);
    }
    Err(CryptoError::UnsupportedSpec(spec.to_owned()))
}

/// Imported private key material for `spec`, checked and re-encoded as
/// keyward stores its own (PKCS #8 v1 DER): an RSA key of the spec's size
/// or an EC key on the spec's curve (with named-curve parameters), or HMAC
/// key bytes at least as long as the spec's and at most 1024 bits. `None`
/// when the material is not such a key; key specs whose material AWS does
/// not import are refused.
pub fn import_private(spec: &str, material: &[u8]) -> Result<Option<Secret>, CryptoError> {
    if let Some(size) = rsa_size(spec) {
        let Ok(pair) = RsaKeyPair::from_pkcs8(material) else {
            return Ok(None);
        };
        if pair.public_modulus_len() != size.len() {
            return Ok(None);
        }
        return pair
            .as_der()
            .map(|d| Some(Secret::new(d.as_ref().to_vec())))
            .map_err(|_| failed("RSA key encoding"));
    }
    if let Some(alg) = ecdsa(spec) {
        let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, material) else {
            return Ok(None);
        };
        let doc = pair.to_pkcs8v1().map_err(|_| failed("EC key encoding"))?;
        return Ok(Some(Secret::new(doc.as_ref().to_vec())));
    }
    if let Some((_, len)) = hmac_algorithm(spec) {
        return Ok((len..=128)
            .contains(&material.len())
            .then(|| Secret::new(material.to_vec())));
    }
    Err(CryptoError::UnsupportedSpec(spec.to_owned()))
}

/// The public key of asymmetric key material, as DER SubjectPublicKeyInfo
/// (what GetPublicKey returns).
pub fn public_key(spec: &str, material: &KeyMaterial) -> Result<Vec<u8>, CryptoError> {
    public_key_of(spec, material.secret()?.expose())
}

/// The DER SubjectPublicKeyInfo of a private key of `spec` (as
/// [`generate`] makes them).
pub fn public_key_of(spec: &str, der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if let Some(public) = super::kem::public_key_of(spec, der)? {
        return Ok(public);
    }
    let spki = |d: Result<aws_lc_rs::encoding::PublicKeyX509Der<'static>, _>| {
        d.map(|d| d.as_ref().to_vec())
            .map_err(|_| failed("public key encoding"))
    };
    if rsa_size(spec).is_some() {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| failed("stored RSA key"))?;
        return spki(pair.public_key().as_der());
    }
    if let Some(alg) = ecdsa(spec) {
        let pair = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| failed("stored EC key"))?;
        return spki(pair.public_key().as_der());
    }
    if spec == "ECC_NIST_EDWARDS25519" {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| failed("stored Ed25519 key"))?;
        return spki(pair.public_key().as_der());
    }
    if let Some(alg) = ml_dsa(spec) {
        let pair = PqdsaKeyPair::from_pkcs8(alg, der).map_err(|_| failed("stored ML-DSA key"))?;
        return spki(pair.public_key().as_der());
    }
    Err(CryptoError::UnsupportedSpec(spec.to_owned()))
}

/// Signs `message` (or, for [`Message::Digest`], a digest of the
/// algorithm's hash, whose length the caller has checked).
pub fn sign(
    spec: &str,
    algorithm: &str,
    material: &KeyMaterial,
    message: &[u8],
    kind: Message,
) -> Result<Vec<u8>, CryptoError> {
    let der = material.secret()?.expose();
    let imported = || {
        digest_of(algorithm)
            .and_then(|d| digest::Digest::import_less_safe(message, d).ok())
            .ok_or_else(|| failed("digest length"))
    };
    if rsa_size(spec).is_some() {
        let padding = rsa_signing(algorithm).ok_or_else(|| failed("RSA signing algorithm"))?;
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| failed("stored RSA key"))?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        match kind {
            Message::Raw => pair.sign(padding, &lc_rand::SystemRandom::new(), message, &mut sig),
            Message::Digest => pair.sign_digest(padding, &imported()?, &mut sig),
        }
        .map_err(|_| failed("RSA signature"))?;
        return Ok(sig);
    }
    if let Some(alg) = ecdsa(spec) {
        let pair = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| failed("stored EC key"))?;
        let sig = match kind {
            Message::Raw => pair.sign(&lc_rand::SystemRandom::new(), message),
            Message::Digest => pair.sign_digest(&imported()?),
        }
        .map_err(|_| failed("ECDSA signature"))?;
        return Ok(sig.as_ref().to_vec());
    }
    if spec == "ECC_NIST_EDWARDS25519" {
        return match (algorithm, kind) {
            ("ED25519_SHA_512", Message::Raw) => {
                let pair =
                    Ed25519KeyPair::from_pkcs8(der).map_err(|_| failed("stored Ed25519 key"))?;
                Ok(pair.sign(message).as_ref().to_vec())
            }
            ("ED25519_PH_SHA_512", Message::Digest) => super::ed25519ph::sign(der, message),
            _ => Err(failed("Ed25519 algorithm and message type")),
        };
    }
    if let (Some(alg), Message::Raw) = (ml_dsa(spec), kind) {
        let pair = PqdsaKeyPair::from_pkcs8(alg, der).map_err(|_| failed("stored ML-DSA key"))?;
        let mut sig = vec![0u8; pair.algorithm().signature_len()];
        let n = pair
            .sign(message, &mut sig)
            .map_err(|_| failed("ML-DSA signature"))?;
        sig.truncate(n);
        return Ok(sig);
    }
    Err(CryptoError::UnsupportedSpec(spec.to_owned()))
}

/// Whether `signature` is a valid signature of `message` (or of a digest)
/// under `public`, a DER SubjectPublicKeyInfo of a `spec` key.
pub fn verify_public(
    spec: &str,
    algorithm: &str,
    public: &[u8],
    message: &[u8],
    kind: Message,
    signature_bytes: &[u8],
) -> Result<bool, CryptoError> {
    if (spec, algorithm, kind)
        == (
            "ECC_NIST_EDWARDS25519",
            "ED25519_PH_SHA_512",
            Message::Digest,
        )
    {
        return super::ed25519ph::verify(public, message, signature_bytes);
    }
    let verifier: &'static dyn signature::VerificationAlgorithm = if rsa_size(spec).is_some() {
        rsa_verifying(algorithm).ok_or_else(|| failed("RSA signing algorithm"))?
    } else if let Some(v) = ecdsa_verify(spec) {
        v
    } else if spec == "ECC_NIST_EDWARDS25519" && kind == Message::Raw {
        &signature::ED25519
    } else if let (Some(v), Message::Raw) = (ml_dsa_verify(spec), kind) {
        v
    } else {
        return Err(CryptoError::UnsupportedSpec(spec.to_owned()));
    };
    let Ok(key) = signature::ParsedPublicKey::new(verifier, public) else {
        return Ok(false);
    };
    Ok(match kind {
        Message::Raw => key.verify_sig(message, signature_bytes).is_ok(),
        Message::Digest => digest_of(algorithm)
            .and_then(|d| digest::Digest::import_less_safe(message, d).ok())
            .is_some_and(|d| key.verify_digest_sig(&d, signature_bytes).is_ok()),
    })
}

/// The HMAC of `message` under an HMAC key.
pub fn mac(spec: &str, material: &KeyMaterial, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    hmac_tag(spec, material.secret()?.expose(), message)
}

/// The HMAC of `message` under `key`, with the hash of `spec`.
pub fn hmac_tag(spec: &str, key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (alg, _) =
        hmac_algorithm(spec).ok_or_else(|| CryptoError::UnsupportedSpec(spec.to_owned()))?;
    Ok(hmac::sign(&hmac::Key::new(alg, key), message)
        .as_ref()
        .to_vec())
}

/// Whether `tag` is the HMAC of `message`, compared in constant time.
pub fn verify_mac(
    spec: &str,
    material: &KeyMaterial,
    message: &[u8],
    tag: &[u8],
) -> Result<bool, CryptoError> {
    hmac_verify(spec, material.secret()?.expose(), message, tag)
}

/// Whether `tag` is the HMAC of `message` under `key`, in constant time.
pub fn hmac_verify(
    spec: &str,
    key: &[u8],
    message: &[u8],
    tag: &[u8],
) -> Result<bool, CryptoError> {
    let (alg, _) =
        hmac_algorithm(spec).ok_or_else(|| CryptoError::UnsupportedSpec(spec.to_owned()))?;
    Ok(hmac::verify(&hmac::Key::new(alg, key), message, tag).is_ok())
}

/// The largest plaintext RSA-OAEP with `algorithm` encrypts under `spec`.
pub fn max_oaep_plaintext(spec: &str, algorithm: &str) -> Option<usize> {
    let modulus = rsa_size(spec)?.len();
    let hash = match algorithm {
        "RSAES_OAEP_SHA_1" => 20,
        "RSAES_OAEP_SHA_256" => 32,
        _ => return None,
    };
    Some(modulus - 2 * hash - 2)
}

/// RSA-OAEP encryption under the key's public key.
pub fn rsa_encrypt(
    spec: &str,
    algorithm: &str,
    material: &KeyMaterial,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let oaep = oaep(algorithm).ok_or_else(|| failed("RSA encryption algorithm"))?;
    if rsa_size(spec).is_none() {
        return Err(CryptoError::UnsupportedSpec(spec.to_owned()));
    }
    let private = PrivateDecryptingKey::from_pkcs8(material.secret()?.expose())
        .map_err(|_| failed("stored RSA key"))?;
    let public =
        OaepPublicEncryptingKey::new(private.public_key()).map_err(|_| failed("RSA public key"))?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let n = public
        .encrypt(oaep, plaintext, &mut out, None)
        .map_err(|_| failed("RSA encryption"))?
        .len();
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP decryption; `None` when the ciphertext does not open.
pub fn rsa_decrypt(
    spec: &str,
    algorithm: &str,
    material: &KeyMaterial,
    ciphertext: &[u8],
) -> Result<Option<Secret>, CryptoError> {
    if rsa_size(spec).is_none() {
        return Err(CryptoError::UnsupportedSpec(spec.to_owned()));
    }
    oaep_decrypt(algorithm, material.secret()?.expose(), ciphertext)
}

/// RSA-OAEP decryption with a PKCS #8 private key; `None` when the
/// ciphertext does not open.
pub fn oaep_decrypt(
    algorithm: &str,
    pkcs8: &[u8],
    ciphertext: &[u8],
) -> Result<Option<Secret>, CryptoError> {
    let oaep = oaep(algorithm).ok_or_else(|| failed("RSA encryption algorithm"))?;
    let private = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| failed("RSA key"))?;
    let key = OaepPrivateDecryptingKey::new(private).map_err(|_| failed("RSA private key"))?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; key.min_output_size()]);
    Ok(match key.decrypt(oaep, ciphertext, &mut out, None) {
        Ok(p) => Some(Secret::new(p.to_vec())),
        Err(_) => None,
    })
}
