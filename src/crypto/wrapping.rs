//! Imported key material: the RSA wrapping key pair a user wraps their
//! material with (GetParametersForImport), the import token that carries
//! the wrapping private key, and unwrapping (ImportKeyMaterial).
//!
//! The import token is the wrapping private key and its parameters sealed
//! under the root key (AES-256-GCM, keyward's internal domain), bound to the
//! key ARN it was issued for. keyward keeps no state per token: any number
//! of GetParametersForImport calls store nothing, a token for another key
//! does not open, and a token's expiry is inside what it authenticates.
//!
//! ```text
//! token  = "KWI1" ‖ nonce (12) ‖ AES-256-GCM(root, aad = "import token" ‖ key ARN, body) ‖ tag
//! body   = valid-to (8, big-endian Unix seconds) ‖ algorithm name ‖ 0 ‖ key spec name ‖ 0 ‖ PKCS #8 private key
//! ```
//!
//! Unwrapping follows AWS's formats: `RSAES_OAEP_SHA_1`/`_256` decrypt the
//! material with RSA-OAEP (MGF1 with the same hash, empty label);
//! `RSA_AES_KEY_WRAP_SHA_1`/`_256` take an RSA-OAEP-wrapped 256-bit AES key
//! (as long as the modulus) followed by the material wrapped under it with
//! AES key wrap with padding (RFC 5649).

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::PrivateDecryptingKey;

use super::{CryptoError, RootKey, Secret, asymmetric};

const MAGIC: &[u8; 4] = b"KWI1";

/// What an import token says, once opened.
pub struct ImportParameters {
    pub valid_to: i64,
    pub algorithm: String,
    pub wrapping_spec: String,
    pkcs8: Secret,
}

/// Why a token does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token, damaged, or issued for another key.
    Invalid,
}

fn purpose(key_arn: &str) -> String {
    format!("import token for {key_arn}")
}

/// A fresh wrapping key pair of `spec` (`RSA_2048`, `RSA_3072`,
/// `RSA_4096`): the import token that carries its private key for
/// `key_arn`, and its public key (DER SubjectPublicKeyInfo).
pub fn issue(
    root: &RootKey,
    key_arn: &str,
    spec: &str,
    algorithm: &str,
    valid_to: i64,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let pkcs8 = asymmetric::generate(spec)?;
    let public = asymmetric::public_key_of(spec, pkcs8.expose())?;
    let mut body = valid_to.to_be_bytes().to_vec();
    for name in [algorithm, spec] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(pkcs8.expose());
    let body = Secret::new(body);
    let mut token = MAGIC.to_vec();
    token.extend_from_slice(&root.seal_internal(&purpose(key_arn), &body)?);
    Ok((token, public))
}

/// Opens an import token issued for `key_arn`.
pub fn open_token(
    root: &RootKey,
    key_arn: &str,
    token: &[u8],
) -> Result<ImportParameters, TokenError> {
    let sealed = token.strip_prefix(MAGIC).ok_or(TokenError::Invalid)?;
    let body = root
        .unseal_internal(&purpose(key_arn), sealed)
        .map_err(|_| TokenError::Invalid)?;
    let b = body.expose();
    let (when, rest) = b.split_first_chunk::<8>().ok_or(TokenError::Invalid)?;
    let mut names = rest.splitn(3, |c| *c == 0);
    let mut name = || {
        names
            .next()
            .and_then(|n| std::str::from_utf8(n).ok())
            .map(str::to_owned)
            .ok_or(TokenError::Invalid)
    };
    let algorithm = name()?;
    let wrapping_spec = name()?;
    let key_start = 8 + algorithm.len() + 1 + wrapping_spec.len() + 1;
    let pkcs8 = b.get(key_start..).ok_or(TokenError::Invalid)?;
    Ok(ImportParameters {
        valid_to: i64::from_be_bytes(*when),
        algorithm,
        wrapping_spec,
        pkcs8: Secret::new(pkcs8.to_vec()),
    })
}

impl ImportParameters {
    /// The key material wrapped in `wrapped`; `None` when it does not
    /// unwrap with this token's key and algorithm.
    pub fn unwrap(&self, wrapped: &[u8]) -> Result<Option<Secret>, CryptoError> {
        let key = self.pkcs8.expose();
        match self.algorithm.as_str() {
            "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" => {
                asymmetric::oaep_decrypt(&self.algorithm, key, wrapped)
            }
            "RSA_AES_KEY_WRAP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_256" => {
                let oaep = self.algorithm.replace("RSA_AES_KEY_WRAP", "RSAES_OAEP");
                let modulus = PrivateDecryptingKey::from_pkcs8(key)
                    .map_err(|_| CryptoError::Asymmetric("RSA wrapping key".into()))?
                    .key_size_bytes();
                if wrapped.len() <= modulus {
                    return Ok(None);
                }
                let (wrapped_key, wrapped_material) = wrapped.split_at(modulus);
                let Some(aes) = asymmetric::oaep_decrypt(&oaep, key, wrapped_key)? else {
                    return Ok(None);
                };
                if aes.len() != 32 {
                    return Ok(None);
                }
                let kek = AesKek::new(&AES_256, aes.expose())
                    .map_err(|_| CryptoError::KeyLength(aes.len()))?;
                let mut out = Secret::new(vec![0u8; wrapped_material.len()]);
                let Ok(n) = kek
                    .unwrap_with_padding(wrapped_material, out.expose_mut())
                    .map(|p| p.len())
                else {
                    return Ok(None);
                };
                out.truncate(n);
                Ok(Some(out))
            }
            _ => Ok(None),
        }
    }
}
