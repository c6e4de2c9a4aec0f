//! Key material and the ciphertext blob: AES-256-GCM with a fresh derived
//! key per message.
//!
//! Nothing here decides who may do what: functions that open key material
//! take the [`Permit`] the evaluator issued, so an unauthorized unwrap does
//! not compile. Secrets never implement `Debug` or `Serialize` and are wiped
//! on drop.
//!
//! Only `eval::authorize` makes a permit; code cannot forge one:
//!
//! ```compile_fail
//! let permit = keyward::eval::Permit { key_id: String::new(), action: todo!(), caller: String::new() };
//! ```
//!
//! and the root key opens nothing without one:
//!
//! ```compile_fail
//! let root = keyward::crypto::RootKey::generate();
//! let material = root.unseal("key", 1, &[]);
//! ```

pub mod asymmetric;
pub mod blob;
mod ed25519ph;
pub mod kem;
mod root;
pub mod wrapping;

pub use root::RootKey;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use std::sync::Arc;

use cryptoki::object::ObjectHandle;

use crate::eval::Permit;
use crate::hsm::Token;

/// Secret bytes: key material, plaintext data keys, decrypted plaintext.
/// Wiped on drop; no `Debug`, `Display` or `Serialize`.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    /// `n` bytes from the operating system's CSPRNG.
    pub fn random(n: usize) -> Secret {
        let mut v = vec![0u8; n];
        rand::rngs::OsRng.fill_bytes(&mut v);
        Secret::new(v)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Keeps the first `n` bytes (the rest are wiped first).
    pub(crate) fn truncate(&mut self, n: usize) {
        use zeroize::Zeroize;
        if let Some(tail) = self.0.get_mut(n..) {
            tail.zeroize();
        }
        self.0.truncate(n);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Key material of one version of a KMS key, opened from storage for one
/// authorized request: bytes in memory, or a key that never leaves the
/// token of a custom key store.
pub struct KeyMaterial {
    pub key_id: String,
    pub version: u32,
    held: Held,
}

enum Held {
    Local(Secret),
    Token {
        token: Arc<Token>,
        handle: ObjectHandle,
    },
}

impl KeyMaterial {
    /// Opens sealed key material. The permit must be for this key.
    pub fn open(
        permit: &Permit,
        root: &RootKey,
        key_id: &str,
        version: u32,
        sealed: &[u8],
    ) -> Result<KeyMaterial, CryptoError> {
        if !permit.covers_key(key_id) {
            return Err(CryptoError::WrongPermit);
        }
        let secret = root.unseal(key_id, version, sealed)?;
        Ok(KeyMaterial {
            key_id: key_id.to_owned(),
            version,
            held: Held::Local(secret),
        })
    }

    /// A key in a custom key store's token, for one authorized request. The
    /// permit must be for this key.
    pub fn in_token(
        permit: &Permit,
        token: Arc<Token>,
        handle: ObjectHandle,
        key_id: &str,
        version: u32,
    ) -> Result<KeyMaterial, CryptoError> {
        if !permit.covers_key(key_id) {
            return Err(CryptoError::WrongPermit);
        }
        Ok(KeyMaterial {
            key_id: key_id.to_owned(),
            version,
            held: Held::Token { token, handle },
        })
    }

    /// The material's bytes; a key in a token has none to give.
    pub(crate) fn secret(&self) -> Result<&Secret, CryptoError> {
        match &self.held {
            Held::Local(s) => Ok(s),
            Held::Token { .. } => Err(CryptoError::UnsupportedSpec(
                "in a custom key store (only encryption inside the token)".into(),
            )),
        }
    }

    /// The token and key handle of a key in a custom key store.
    pub(crate) fn token(&self) -> Option<(&Token, ObjectHandle)> {
        match &self.held {
            Held::Local(_) => None,
            Held::Token { token, handle } => Some((token, *handle)),
        }
    }
}

/// Something went wrong below the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("AES-GCM keys are 16 or 32 bytes, not {0}")]
    KeyLength(usize),
    #[error(
        "authentication failed: the ciphertext, its encryption context or its key does not match"
    )]
    Authentication,
    #[error("ciphertext is truncated")]
    Truncated,
    #[error("the permit does not cover this key")]
    WrongPermit,
    #[error("key spec {0} has no such operation in keyward")]
    UnsupportedSpec(String),
    #[error("{0} failed")]
    Asymmetric(String),
    /// The HSM holding the root key or the key could not be used.
    #[error("{0}")]
    Token(String),
}

/// AES-GCM encryption with a 96-bit nonce and a 128-bit tag: ciphertext ‖ tag.
pub fn seal(
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let nonce = Nonce::from_slice(nonce);
    match key.len() {
        32 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::KeyLength(key.len()))?
            .encrypt(nonce, payload),
        16 => Aes128Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::KeyLength(key.len()))?
            .encrypt(nonce, payload),
        n => return Err(CryptoError::KeyLength(n)),
    }
    .map_err(|_| CryptoError::Authentication)
}

/// AES-GCM decryption of ciphertext ‖ tag; the plaintext is a [`Secret`].
pub fn open(
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, CryptoError> {
    if ciphertext.len() < 16 {
        return Err(CryptoError::Truncated);
    }
    let payload = Payload {
        msg: ciphertext,
        aad,
    };
    let nonce = Nonce::from_slice(nonce);
    let pt = match key.len() {
        32 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::KeyLength(key.len()))?
            .decrypt(nonce, payload),
        16 => Aes128Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::KeyLength(key.len()))?
            .decrypt(nonce, payload),
        n => return Err(CryptoError::KeyLength(n)),
    }
    .map_err(|_| CryptoError::Authentication)?;
    Ok(Secret::new(pt))
}

/// Random bytes for `GenerateRandom` and data keys.
pub fn random_bytes(n: usize) -> Secret {
    Secret::random(n)
}
