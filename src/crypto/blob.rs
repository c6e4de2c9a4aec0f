//! The ciphertext blob: version 1 for key material keyward holds, version 2
//! for keys that never leave a custom key store's token.
//!
//! ```text
//! offset      size  field
//! 0           4     magic "KWB" and format version 0x01
//! 4           1     key id length L (1..=64)
//! 5           L     key id (ASCII)
//! 5+L         4     key version, big-endian
//! 9+L         32    salt (random per message)
//! 41+L        12    nonce (random per message)
//! 53+L        n     AES-256-GCM ciphertext
//! 53+L+n      16    GCM tag
//! ```
//!
//! The message key is HKDF-SHA256(ikm = the key version's material,
//! salt = the blob's salt, info = "keyward blob v1"). Each message is
//! encrypted under its own key (a 256-bit random salt makes a repeat
//! negligible, 2^-128 after 2^64 messages), so no number of messages under
//! one key version brings GCM's nonce-reuse limit near.
//!
//! The associated data is the header (bytes 0 to 53+L) followed by the
//! canonical encryption context: the number of pairs, then each pair sorted
//! by key bytes, each key and value as a 4-byte big-endian length and its
//! UTF-8 bytes. So `{"ab":"c"}` and `{"a":"bc"}` differ, and a ciphertext
//! moved to another context, key or version does not open.
//!
//! Version 2 is AES-256-GCM inside the token with the key itself (there is
//! no material to derive from), a random 96-bit nonce per message as AWS
//! CloudHSM keys do:
//!
//! ```text
//! 0           4     magic "KWB" and format version 0x02
//! 4           1+L+4 key id length, key id, key version (as version 1)
//! 9+L         12    nonce (random per message)
//! 21+L        n     AES-256-GCM ciphertext, computed by the token
//! 21+L+n      16    GCM tag
//! ```
//!
//! with the header (bytes 0 to 21+L) and the canonical context as
//! associated data. A version 1 blob never opens with a token key, nor a
//! version 2 blob with held material.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use sha2::Sha256;

use super::{CryptoError, KeyMaterial, Secret};

const MAGIC: &[u8; 4] = b"KWB\x01";
const MAGIC_TOKEN: &[u8; 4] = b"KWB\x02";
const SALT: usize = 32;
const NONCE: usize = 12;
const TAG: usize = 16;
const INFO: &[u8] = b"keyward blob v1";

/// The unencrypted head of a blob: which key version opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    pub version: u32,
}

/// Why a blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("ciphertext is not a keyward ciphertext blob")]
    NotABlob,
    #[error("ciphertext blob format version {0} is not supported")]
    Version(u8),
    #[error("ciphertext blob is truncated")]
    Truncated,
    #[error("ciphertext blob names an invalid key id")]
    BadKeyId,
}

/// The canonical, unambiguous encoding of an encryption context.
pub fn canonical_context(context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    // BTreeMap<String, _> iterates in byte order of the keys.
    for (k, v) in context {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn message_key(material: &Secret, salt: &[u8]) -> Result<Secret, CryptoError> {
    let hk = Hkdf::<Sha256>::new(Some(salt), material.expose());
    let mut okm = vec![0u8; 32];
    hk.expand(INFO, &mut okm)
        .map_err(|_| CryptoError::KeyLength(okm.len()))?;
    Ok(Secret::new(okm))
}

fn header_bytes(key_id: &str, version: u32) -> Result<Vec<u8>, BlobError> {
    header_with(MAGIC, key_id, version)
}

fn header_with(magic: &[u8; 4], key_id: &str, version: u32) -> Result<Vec<u8>, BlobError> {
    let len = u8::try_from(key_id.len()).map_err(|_| BlobError::BadKeyId)?;
    if len == 0 || len > 64 || !key_id.is_ascii() {
        return Err(BlobError::BadKeyId);
    }
    let mut h = magic.to_vec();
    h.push(len);
    h.extend_from_slice(key_id.as_bytes());
    h.extend_from_slice(&version.to_be_bytes());
    Ok(h)
}

/// Encrypts `plaintext` under one key version, bound to `context`.
pub fn encrypt(
    key: &KeyMaterial,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if let Some((token, handle)) = key.token() {
        let mut blob = header_with(MAGIC_TOKEN, &key.key_id, key.version)
            .map_err(|_| CryptoError::Truncated)?;
        let mut nonce = [0u8; NONCE];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        blob.extend_from_slice(&nonce);
        let mut aad = blob.clone();
        aad.extend_from_slice(&canonical_context(context));
        let ct = token
            .gcm_encrypt(handle, &nonce, &aad, plaintext)
            .map_err(|e| CryptoError::Token(e.to_string()))?;
        blob.extend_from_slice(&ct);
        return Ok(blob);
    }
    let mut blob = header_bytes(&key.key_id, key.version).map_err(|_| CryptoError::Truncated)?;
    let salt = Secret::random(SALT);
    let nonce = Secret::random(NONCE);
    blob.extend_from_slice(salt.expose());
    blob.extend_from_slice(nonce.expose());
    let mut aad = blob.clone();
    aad.extend_from_slice(&canonical_context(context));
    let mk = message_key(key.secret()?, salt.expose())?;
    let nonce: [u8; NONCE] = nonce
        .expose()
        .try_into()
        .map_err(|_| CryptoError::Truncated)?;
    let ct = super::seal(mk.expose(), &nonce, &aad, plaintext)?;
    blob.extend_from_slice(&ct);
    Ok(blob)
}

/// Reads a blob's header without opening it.
pub fn header(blob: &[u8]) -> Result<Header, BlobError> {
    if blob.len() < 4 || !blob.starts_with(b"KWB") {
        return Err(BlobError::NotABlob);
    }
    let body_min = match blob[3] {
        1 => SALT + NONCE + TAG,
        2 => NONCE + TAG,
        v => return Err(BlobError::Version(v)),
    };
    let len = usize::from(*blob.get(4).ok_or(BlobError::Truncated)?);
    if len == 0 || len > 64 {
        return Err(BlobError::BadKeyId);
    }
    let id = blob.get(5..5 + len).ok_or(BlobError::Truncated)?;
    let key_id = std::str::from_utf8(id)
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or(BlobError::BadKeyId)?
        .to_owned();
    let v = blob.get(5 + len..9 + len).ok_or(BlobError::Truncated)?;
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    if blob.len() < 9 + len + body_min {
        return Err(BlobError::Truncated);
    }
    Ok(Header { key_id, version })
}

/// Decrypts a blob with the key version its header names.
pub fn decrypt(
    key: &KeyMaterial,
    context: &BTreeMap<String, String>,
    blob: &[u8],
) -> Result<Secret, CryptoError> {
    let h = header(blob).map_err(|_| CryptoError::Truncated)?;
    if h.key_id != key.key_id || h.version != key.version {
        return Err(CryptoError::Authentication);
    }
    let head_len = 9 + h.key_id.len();
    match (blob[3], key.token()) {
        (1, None) => {}
        (2, Some((token, handle))) => {
            let nonce: [u8; NONCE] = blob[head_len..head_len + NONCE]
                .try_into()
                .map_err(|_| CryptoError::Truncated)?;
            let mut aad = blob[..head_len + NONCE].to_vec();
            aad.extend_from_slice(&canonical_context(context));
            return token
                .gcm_decrypt(handle, &nonce, &aad, &blob[head_len + NONCE..])
                .map_err(|e| match e {
                    crate::hsm::HsmError::Authentication => CryptoError::Authentication,
                    other => CryptoError::Token(other.to_string()),
                });
        }
        _ => return Err(CryptoError::Authentication),
    }
    let salt = &blob[head_len..head_len + SALT];
    let nonce: [u8; NONCE] = blob[head_len + SALT..head_len + SALT + NONCE]
        .try_into()
        .map_err(|_| CryptoError::Truncated)?;
    let body = &blob[head_len + SALT + NONCE..];
    let mut aad = blob[..head_len + SALT + NONCE].to_vec();
    aad.extend_from_slice(&canonical_context(context));
    let mk = message_key(key.secret()?, salt)?;
    super::open(mk.expose(), &nonce, &aad, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_context_is_unambiguous() {
        let a = BTreeMap::from([("ab".to_owned(), "c".to_owned())]);
        let b = BTreeMap::from([("a".to_owned(), "bc".to_owned())]);
        assert_ne!(canonical_context(&a), canonical_context(&b));
        assert_ne!(canonical_context(&BTreeMap::new()), canonical_context(&a));
    }

    #[test]
    fn headers() {
        assert_eq!(header(b"nope"), Err(BlobError::NotABlob));
        assert_eq!(header(b"KWB\x03xxxx"), Err(BlobError::Version(3)));
        let mut h = header_bytes("k", 7).unwrap_or_default();
        assert_eq!(header(&h), Err(BlobError::Truncated));
        h.extend_from_slice(&[0u8; SALT + NONCE + TAG]);
        assert_eq!(
            header(&h),
            Ok(Header {
                key_id: "k".into(),
                version: 7
            })
        );
    }
}
