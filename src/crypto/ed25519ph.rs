//! Ed25519ph (RFC 8032 §5.1, empty context) over a SHA-512 digest the
//! caller computed: AWS KMS's ED25519_PH_SHA_512 with `MessageType`
//! DIGEST. AWS-LC's Rust binding offers only pure Ed25519, so the
//! prehashed variant comes from ed25519-dalek, with the key pair's seed.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::Ed25519KeyPair;
use digest::consts::U64;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::CryptoError;
use super::asymmetric::failed;

/// A SHA-512 digest computed elsewhere, handed to ed25519-dalek as the
/// finished state of a hash: updating it changes nothing, finalizing it
/// gives the digest.
#[derive(Clone)]
struct Prehashed([u8; 64]);

impl Default for Prehashed {
    fn default() -> Self {
        Prehashed([0; 64])
    }
}

impl digest::HashMarker for Prehashed {}

impl digest::OutputSizeUser for Prehashed {
    type OutputSize = U64;
}

impl digest::Update for Prehashed {
    fn update(&mut self, _: &[u8]) {}
}

impl digest::FixedOutput for Prehashed {
    fn finalize_into(self, out: &mut digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

fn prehashed(digest: &[u8]) -> Result<Prehashed, CryptoError> {
    let bytes: [u8; 64] = digest
        .try_into()
        .map_err(|_| failed("ED25519_PH_SHA_512 digest length"))?;
    Ok(Prehashed(bytes))
}

/// The DER SubjectPublicKeyInfo prefix of an Ed25519 public key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Signs a SHA-512 digest with the Ed25519 key in `pkcs8`.
pub(super) fn sign(pkcs8: &[u8], digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| failed("stored Ed25519 key"))?;
    let seed = pair.seed().map_err(|_| failed("Ed25519 seed"))?;
    let seed = seed.as_be_bytes().map_err(|_| failed("Ed25519 seed"))?;
    let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
        seed.as_ref()
            .try_into()
            .map_err(|_| failed("Ed25519 seed length"))?,
    );
    let key = SigningKey::from_bytes(&bytes);
    let signature = key
        .sign_prehashed(prehashed(digest)?, None)
        .map_err(|_| failed("Ed25519ph signature"))?;
    Ok(signature.to_bytes().to_vec())
}

/// Whether `signature` is an Ed25519ph signature of the SHA-512 digest
/// under `spki`, a DER SubjectPublicKeyInfo.
pub(super) fn verify(spki: &[u8], digest: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    let Some(raw) = spki.strip_prefix(&SPKI_PREFIX[..]) else {
        return Ok(false);
    };
    let (Ok(raw), Ok(sig)) = (<[u8; 32]>::try_from(raw), Signature::from_slice(signature)) else {
        return Ok(false);
    };
    let Ok(key) = VerifyingKey::from_bytes(&raw) else {
        return Ok(false);
    };
    Ok(key
        .verify_prehashed_strict(prehashed(digest)?, None, &sig)
        .is_ok())
}
