//! Signed digests: a head of the log signed with an Ed25519 key, so that a
//! copy of the log can be checked offline, with only the public key, by
//! someone who does not trust the machine that wrote it. Kept away from
//! that machine, a digest proves that every record up to its head is still
//! there, unchanged — also against an attacker who holds the root key.
//!
//! Signing is ring's Ed25519 (ring is already what rustls runs on here).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::crypto::Secret;

use super::AuditError;
use super::chain::Head;

const FORMAT: &str = "keyward-audit-digest/1";
const PUBLIC_KEY_PREFIX: &str = "keyward-audit-ed25519 ";

/// The digest signing key, as PKCS#8 (sealed under the root key at rest).
/// No `Debug`; wiped on drop.
pub struct Signer(Secret);

impl Signer {
    pub fn generate() -> Result<Signer, AuditError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| AuditError::Key("cannot generate an Ed25519 key".into()))?;
        Ok(Signer(Secret::new(doc.as_ref().to_vec())))
    }

    pub fn from_pkcs8(pkcs8: Secret) -> Result<Signer, AuditError> {
        Ed25519KeyPair::from_pkcs8(pkcs8.expose())
            .map_err(|_| AuditError::Key("the digest signing key is not an Ed25519 key".into()))?;
        Ok(Signer(pkcs8))
    }

    pub fn pkcs8(&self) -> &Secret {
        &self.0
    }

    fn pair(&self) -> Result<Ed25519KeyPair, AuditError> {
        Ed25519KeyPair::from_pkcs8(self.0.expose())
            .map_err(|_| AuditError::Key("the digest signing key is not an Ed25519 key".into()))
    }

    pub fn public_key(&self) -> Result<PublicKey, AuditError> {
        let pair = self.pair()?;
        let bytes: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| AuditError::Key("an Ed25519 public key is 32 bytes".into()))?;
        Ok(PublicKey(bytes))
    }

    /// Signs `head` of the log, at `time` (RFC 3339).
    pub fn sign(&self, head: &Head, time: &str) -> Result<SignedDigest, AuditError> {
        let signature = self.pair()?.sign(&message(head.seq, &head.hash, time));
        Ok(SignedDigest {
            format: FORMAT.to_owned(),
            records: head.seq,
            hash: head.hash.clone(),
            time: time.to_owned(),
            signature: B64.encode(signature.as_ref()),
        })
    }
}

fn message(records: u64, hash: &str, time: &str) -> Vec<u8> {
    format!("{FORMAT}\n{records}\n{hash}\n{time}\n").into_bytes()
}

/// The public half of the digest signing key; as text, one line:
/// `keyward-audit-ed25519 <base64>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, AuditError> {
        let bad = || {
            AuditError::Digest(format!(
                "a public key is one line `{PUBLIC_KEY_PREFIX}<base64 of 32 bytes>`"
            ))
        };
        let b64 = text
            .trim()
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or_else(bad)?;
        let bytes = B64.decode(b64.trim()).map_err(|_| bad())?;
        Ok(PublicKey(bytes.try_into().map_err(|_| bad())?))
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", B64.encode(self.0))
    }
}

/// A signed head of the log, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDigest {
    pub format: String,
    /// Records up to and including the head.
    pub records: u64,
    /// The head record's hash.
    pub hash: String,
    /// When it was signed (RFC 3339).
    pub time: String,
    /// Ed25519 signature, base64.
    pub signature: String,
}

impl SignedDigest {
    /// The head this digest vouches for, if `key` signed it.
    pub fn check(&self, key: &PublicKey) -> Result<Head, AuditError> {
        if self.format != FORMAT {
            return Err(AuditError::Digest(format!(
                "not a keyward audit digest (format `{}`, expected `{FORMAT}`)",
                self.format
            )));
        }
        let signature = B64
            .decode(&self.signature)
            .map_err(|_| AuditError::Digest("its signature is not base64".into()))?;
        UnparsedPublicKey::new(&ED25519, key.0)
            .verify(&message(self.records, &self.hash, &self.time), &signature)
            .map_err(|_| {
                AuditError::Digest(
                    "its signature does not verify with this public key (the digest was changed, or another key signed it)".into(),
                )
            })?;
        Ok(Head {
            seq: self.records,
            hash: self.hash.clone(),
        })
    }
}
