//! Key agreement (ECDH on the NIST curves) and key encapsulation (ML-KEM),
//! from aws-lc-rs. ECDH keys are kept as PKCS #8 like the signing keys;
//! ML-KEM keys as their decapsulation-key bytes, whose public half is
//! published as a SubjectPublicKeyInfo with the NIST ML-KEM object
//! identifiers.

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521};
use aws_lc_rs::kem::{
    Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_512, ML_KEM_768, ML_KEM_1024,
};

use super::asymmetric::failed;
use super::{CryptoError, KeyMaterial, Secret};

fn ecdh(spec: &str) -> Option<&'static agreement::Algorithm> {
    match spec {
        "ECC_NIST_P256" => Some(&ECDH_P256),
        "ECC_NIST_P384" => Some(&ECDH_P384),
        "ECC_NIST_P521" => Some(&ECDH_P521),
        _ => None,
    }
}

/// Whether a SubjectPublicKeyInfo names the key's curve (RFC 5480's
/// `namedCurve`): a key with explicit curve parameters, or of another
/// curve, is not a key of this curve however its point reads.
fn names_curve(spec: &str, spki: &[u8]) -> bool {
    const EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let curve: &[u8] = match spec {
        "ECC_NIST_P256" => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        "ECC_NIST_P384" => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        "ECC_NIST_P521" => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        _ => return false,
    };
    let mut algorithm = vec![0x30, (EC_PUBLIC_KEY.len() + curve.len()) as u8];
    algorithm.extend_from_slice(&EC_PUBLIC_KEY);
    algorithm.extend_from_slice(curve);
    // The outer SEQUENCE's header: tag, then a short or long length.
    let header = match spki {
        [0x30, n, ..] if *n < 0x80 => 2,
        [0x30, 0x81, ..] => 3,
        [0x30, 0x82, ..] => 4,
        _ => return false,
    };
    spki.get(header..)
        .is_some_and(|rest| rest.starts_with(&algorithm))
}

type MlKem = aws_lc_rs::kem::Algorithm<aws_lc_rs::kem::AlgorithmId>;

/// An ML-KEM spec: the algorithm and the last arc of its NIST object
/// identifier (2.16.840.1.101.3.4.4.n), which is also its module rank
/// k − 1.
fn ml_kem(spec: &str) -> Option<(&'static MlKem, u8)> {
    match spec {
        "ML_KEM_512" => Some((&ML_KEM_512, 1)),
        "ML_KEM_768" => Some((&ML_KEM_768, 2)),
        "ML_KEM_1024" => Some((&ML_KEM_1024, 3)),
        _ => None,
    }
}

/// The encapsulation key inside a decapsulation key: FIPS 203 lays the
/// decapsulation key out as dk_PKE (384·k bytes) ‖ ek (384·k + 32 bytes)
/// ‖ H(ek) ‖ z.
fn encapsulation_key(
    alg: &'static MlKem,
    arc: u8,
    dk: &[u8],
) -> Result<EncapsulationKey, CryptoError> {
    let k = usize::from(arc) + 1;
    let ek = dk
        .get(384 * k..384 * k + 384 * k + 32)
        .ok_or_else(|| failed("stored ML-KEM key"))?;
    EncapsulationKey::new(alg, ek).map_err(|_| failed("ML-KEM public key"))
}

/// A new ML-KEM decapsulation key, if `spec` is an ML-KEM spec.
pub(super) fn generate(spec: &str) -> Result<Option<Secret>, CryptoError> {
    let Some((alg, _)) = ml_kem(spec) else {
        return Ok(None);
    };
    let key = DecapsulationKey::generate(alg).map_err(|_| failed("ML-KEM key generation"))?;
    let bytes = key.key_bytes().map_err(|_| failed("ML-KEM key encoding"))?;
    Ok(Some(Secret::new(bytes.as_ref().to_vec())))
}

/// The public key of an ML-KEM key as DER SubjectPublicKeyInfo; `None`
/// for other specs.
pub fn public_key_of(spec: &str, private: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
    let Some((alg, arc)) = ml_kem(spec) else {
        return Ok(None);
    };
    let public = encapsulation_key(alg, arc, private)?
        .key_bytes()
        .map_err(|_| failed("ML-KEM public key"))?;
    Ok(Some(spki(arc, public.as_ref())))
}

/// SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.4.arc }, BIT STRING key }.
fn spki(arc: u8, key: &[u8]) -> Vec<u8> {
    let algorithm = der(
        0x30,
        &[
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, arc,
        ],
    );
    let mut bits = vec![0u8];
    bits.extend_from_slice(key);
    let mut body = algorithm;
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

/// One DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// The raw ECDH shared secret of a key-agreement key and a peer's public
/// key (DER SubjectPublicKeyInfo); `None` when the peer key is not a
/// valid point of the key's curve.
pub fn derive_shared_secret(
    spec: &str,
    material: &KeyMaterial,
    peer: &[u8],
) -> Result<Option<Secret>, CryptoError> {
    ecdh_with(spec, material.secret()?.expose(), peer)
}

/// The raw ECDH shared secret of a PKCS #8 private key of `spec` and a
/// peer's public key (DER SubjectPublicKeyInfo); `None` when the peer key
/// is not a valid point of the curve.
pub fn ecdh_with(spec: &str, pkcs8: &[u8], peer: &[u8]) -> Result<Option<Secret>, CryptoError> {
    let alg = ecdh(spec).ok_or_else(|| CryptoError::UnsupportedSpec(spec.to_owned()))?;
    if !names_curve(spec, peer) {
        return Ok(None);
    }
    let private = agreement::PrivateKey::from_private_key_der(alg, pkcs8)
        .map_err(|_| failed("stored ECDH key"))?;
    let peer = agreement::UnparsedPublicKey::new(alg, peer);
    Ok(agreement::agree(&private, peer, (), |z| Ok(Secret::new(z.to_vec()))).ok())
}

/// ML-KEM encapsulation to the key's public key: (ciphertext, secret).
pub fn encapsulate(spec: &str, material: &KeyMaterial) -> Result<(Vec<u8>, Secret), CryptoError> {
    let (alg, arc) = ml_kem(spec).ok_or_else(|| CryptoError::UnsupportedSpec(spec.to_owned()))?;
    let public = encapsulation_key(alg, arc, material.secret()?.expose())?;
    let (ct, secret) = public
        .encapsulate()
        .map_err(|_| failed("ML-KEM encapsulation"))?;
    Ok((ct.as_ref().to_vec(), Secret::new(secret.as_ref().to_vec())))
}

/// ML-KEM decapsulation; `None` when the ciphertext is not of the spec's
/// length (any ciphertext of the right length decapsulates: ML-KEM's
/// implicit rejection answers a wrong one with an unrelated secret).
pub fn decapsulate(
    spec: &str,
    material: &KeyMaterial,
    ciphertext: &[u8],
) -> Result<Option<Secret>, CryptoError> {
    decapsulate_with(spec, material.secret()?.expose(), ciphertext)
}

/// ML-KEM decapsulation with a decapsulation key's bytes (FIPS 203's
/// expanded form); `None` when the ciphertext is not of the spec's length.
pub fn decapsulate_with(
    spec: &str,
    dk: &[u8],
    ciphertext: &[u8],
) -> Result<Option<Secret>, CryptoError> {
    let (alg, _) = ml_kem(spec).ok_or_else(|| CryptoError::UnsupportedSpec(spec.to_owned()))?;
    let key = DecapsulationKey::new(alg, dk).map_err(|_| failed("ML-KEM decapsulation key"))?;
    Ok(key
        .decapsulate(Ciphertext::from(ciphertext))
        .ok()
        .map(|s| Secret::new(s.as_ref().to_vec())))
}
