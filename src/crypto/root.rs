//! The root key that seals key material at rest: AES-256-GCM with the key
//! id and version as associated data.
//!
//! The root key lives in one of two places. A **file** (or
//! `KEYWARD_ROOT_KEY`): 32 bytes in keyward's memory. A **PKCS#11 token**:
//! an AES-256 key generated inside the token, sensitive and never
//! extractable, which seals and opens by AES-GCM inside the token, so no
//! root key is ever in keyward's memory or on its disk. Both write the same
//! sealed form, nonce ‖ ciphertext ‖ tag, so a data directory moves from
//! one to the other by resealing ([`RootKey::reseal`]).
//!
//! Opening key material through a token costs a call into the token; what
//! a token root opened is kept, wiped on drop, for later requests on the
//! same sealed material (bounded; a key's new material is a new entry).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cryptoki::object::ObjectHandle;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{CryptoError, Secret, open, seal};
use crate::hsm::{HsmError, Pkcs11Uri, Token};

const ROOT_AAD: &[u8] = b"keyward key material v1\0";
/// keyward's own keys (the audit chain's MAC key, its digest signing key)
/// are sealed in a separate domain: no sealed internal key opens as key
/// material of a KMS key, and no sealed key material opens as an internal
/// key.
const INTERNAL_AAD: &[u8] = b"keyward internal key v1\0";
/// How many opened key versions a token root keeps.
const OPENED_CAPACITY: usize = 4096;

/// The root key.
pub struct RootKey(Backend);

enum Backend {
    File(Secret),
    Token(TokenRoot),
}

struct TokenRoot {
    uri: Pkcs11Uri,
    token: Arc<Token>,
    key: ObjectHandle,
    /// Key material already opened, by a digest of what was opened.
    opened: Mutex<HashMap<[u8; 32], Secret>>,
}

impl RootKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<RootKey, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::KeyLength(bytes.len()));
        }
        Ok(RootKey(Backend::File(Secret::new(bytes))))
    }

    pub fn generate() -> RootKey {
        RootKey(Backend::File(Secret::random(32)))
    }

    /// The root key in the token the URI names, logged in with the URI's
    /// PIN. With `create`, a key is generated in the token when it holds
    /// none under the URI's `object` label.
    pub fn in_token(uri: &Pkcs11Uri, create: bool) -> Result<(RootKey, bool), HsmError> {
        uri.token()?;
        let label = uri.object()?;
        let token = Token::open(uri, crate::hsm::pin_for(uri)?)?;
        let (key, created) = match token.find_key(label)? {
            Some(k) => (k, false),
            None if create => (token.generate_aes_key(label)?, true),
            None => {
                return Err(HsmError::NoKey {
                    token: token.label().to_owned(),
                    label: label.to_owned(),
                });
            }
        };
        let root = TokenRoot {
            uri: uri.without_pin(),
            token: Arc::new(token),
            key,
            opened: Mutex::new(HashMap::new()),
        };
        Ok((RootKey(Backend::Token(root)), created))
    }

    /// The token's URI (without PIN) for a token root.
    pub fn uri(&self) -> Option<&Pkcs11Uri> {
        match &self.0 {
            Backend::File(_) => None,
            Backend::Token(t) => Some(&t.uri),
        }
    }

    /// Whether the token reports the root key as sensitive and never
    /// extractable (`None` for a file root).
    pub fn is_sealed_in_token(&self) -> Option<Result<bool, HsmError>> {
        match &self.0 {
            Backend::File(_) => None,
            Backend::Token(t) => Some(t.token.is_sealed_in(t.key)),
        }
    }

    fn aad(key_id: &str, version: u32) -> Vec<u8> {
        let mut aad = ROOT_AAD.to_vec();
        aad.extend_from_slice(key_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }

    fn internal_aad(purpose: &str) -> Vec<u8> {
        let mut aad = INTERNAL_AAD.to_vec();
        aad.extend_from_slice(purpose.as_bytes());
        aad
    }

    /// nonce ‖ AES-GCM(root, aad, plaintext) ‖ tag.
    fn seal_with(&self, aad: &[u8], plaintext: &Secret) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = match &self.0 {
            Backend::File(k) => seal(k.expose(), &nonce, aad, plaintext.expose())?,
            Backend::Token(t) => t
                .token
                .gcm_encrypt(t.key, &nonce, aad, plaintext.expose())
                .map_err(token_error)?,
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Result<Secret, CryptoError> {
        let (nonce, ct) = sealed
            .split_first_chunk::<12>()
            .ok_or(CryptoError::Truncated)?;
        match &self.0 {
            Backend::File(k) => open(k.expose(), nonce, aad, ct),
            Backend::Token(t) => t
                .token
                .gcm_decrypt(t.key, nonce, aad, ct)
                .map_err(token_error),
        }
    }

    /// Seals key material for storage: nonce ‖ ciphertext ‖ tag.
    pub fn seal(
        &self,
        key_id: &str,
        version: u32,
        material: &Secret,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with(&Self::aad(key_id, version), material)
    }

    /// Seals one of keyward's own keys (named by `purpose`) for storage.
    pub fn seal_internal(&self, purpose: &str, key: &Secret) -> Result<Vec<u8>, CryptoError> {
        self.seal_with(&Self::internal_aad(purpose), key)
    }

    /// Opens what [`RootKey::seal_internal`] sealed for `purpose`.
    pub fn unseal_internal(&self, purpose: &str, sealed: &[u8]) -> Result<Secret, CryptoError> {
        self.open_with(&Self::internal_aad(purpose), sealed)
    }

    /// Opens what [`RootKey::seal`] produced for this key id and version.
    /// Only [`super::KeyMaterial::open`], which takes a permit, calls it.
    pub(super) fn unseal(
        &self,
        key_id: &str,
        version: u32,
        sealed: &[u8],
    ) -> Result<Secret, CryptoError> {
        let aad = Self::aad(key_id, version);
        let Backend::Token(t) = &self.0 else {
            return self.open_with(&aad, sealed);
        };
        let mut h = Sha256::new();
        h.update((aad.len() as u64).to_be_bytes());
        h.update(&aad);
        h.update(sealed);
        let digest: [u8; 32] = h.finalize().into();
        let lock = || t.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = lock().get(&digest) {
            return Ok(Secret::new(s.expose().to_vec()));
        }
        let secret = self.open_with(&aad, sealed)?;
        let mut opened = lock();
        if opened.len() >= OPENED_CAPACITY {
            opened.clear();
        }
        opened.insert(digest, Secret::new(secret.expose().to_vec()));
        Ok(secret)
    }

    /// Opens sealed key material with this root and seals it with `to`,
    /// without the material leaving this module: moving a data directory
    /// to another root.
    pub fn reseal(
        &self,
        to: &RootKey,
        key_id: &str,
        version: u32,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let aad = Self::aad(key_id, version);
        let material = self.open_with(&aad, sealed)?;
        to.seal_with(&aad, &material)
    }

    /// [`RootKey::reseal`] for one of keyward's own keys.
    pub fn reseal_internal(
        &self,
        to: &RootKey,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        to.seal_internal(purpose, &self.unseal_internal(purpose, sealed)?)
    }
}

fn token_error(e: HsmError) -> CryptoError {
    match e {
        HsmError::Authentication => CryptoError::Authentication,
        other => CryptoError::Token(other.to_string()),
    }
}
