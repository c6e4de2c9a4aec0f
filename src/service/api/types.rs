//! Member types shared by several requests: blobs, tags, grant constraints.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::enums::KeyEncryptionMechanism;
use crate::crypto::Secret;

/// A non-secret blob member (a ciphertext, an attestation document).
pub(in crate::service) struct Blob(pub Vec<u8>);

/// A secret blob member (a plaintext): decoded straight into memory that is
/// zeroized on drop, never formatted.
pub(in crate::service) struct SecretBlob(pub Secret);

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Zeroizing<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let mut out = Zeroizing::new(Vec::with_capacity(v.len() / 4 * 3));
        B64.decode_vec(v, &mut out)
            .map_err(|_| E::custom("the value is not valid base64"))?;
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Base64Visitor)
            .map(|mut bytes| Blob(std::mem::take(&mut *bytes)))
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Base64Visitor)
            .map(|mut bytes| SecretBlob(Secret::new(std::mem::take(&mut *bytes))))
    }
}

/// A `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(in crate::service) struct Tag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue")]
    pub value: String,
}

/// `GrantConstraints`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(in crate::service) struct GrantConstraints {
    #[serde(
        rename = "EncryptionContextSubset",
        skip_serializing_if = "Option::is_none"
    )]
    pub subset: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "EncryptionContextEquals",
        skip_serializing_if = "Option::is_none"
    )]
    pub equals: Option<BTreeMap<String, String>>,
    #[serde(rename = "SourceArn", skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
}

/// `RecipientInfo`: a Nitro enclave's attestation.
#[derive(Deserialize)]
pub(in crate::service) struct Recipient {
    #[serde(rename = "KeyEncryptionAlgorithm")]
    pub _algorithm: Option<KeyEncryptionMechanism>,
    #[serde(rename = "AttestationDocument")]
    pub _attestation: Option<Blob>,
}
