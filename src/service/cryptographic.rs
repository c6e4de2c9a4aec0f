//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, data keys and random bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::crypto::{self, Secret, blob};
use crate::eval::{ContextValue, Permit};
use crate::store::KeyRecord;

use super::access::Reach;
use super::api::enums::{DataKeySpec, DryRunModifier, EncryptionAlgorithm};
use super::api::types::{Blob, Recipient, SecretBlob};
use super::api::{
    CUSTOM_KEY_STORE_ID, DRY_RUN_MODIFIERS, GRANT_TOKENS, KEY_ID, NUMBER_OF_BYTES, RECIPIENT, Rule,
    request,
};
use super::rotation::material_id;
use super::rsa::{self, RsaCall};
use super::specs;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

pub(super) const CIPHERTEXT: Rule = Rule::Blob {
    min: Some(1),
    max: Some(6144),
};
const PLAINTEXT: Rule = Rule::Blob {
    min: Some(1),
    max: Some(4096),
};
pub(super) const ALGORITHM: Rule = Rule::Enum(EncryptionAlgorithm::VALUES);
const DATA_KEY_SPEC: Rule = Rule::Enum(DataKeySpec::VALUES);

pub(super) type Context = BTreeMap<String, String>;

request! {
    /// Encrypt.
    EncryptRequest {
        key_id: req String = "KeyId" KEY_ID,
        plaintext: secret SecretBlob = "Plaintext" PLAINTEXT,
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        encryption_algorithm: opt EncryptionAlgorithm = "EncryptionAlgorithm" ALGORITHM,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// Decrypt.
    DecryptRequest {
        ciphertext_blob: opt Blob = "CiphertextBlob" CIPHERTEXT,
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        key_id: opt String = "KeyId" KEY_ID,
        encryption_algorithm: opt EncryptionAlgorithm = "EncryptionAlgorithm" ALGORITHM,
        recipient: opt Recipient = "Recipient" RECIPIENT,
        dry_run: opt bool = "DryRun" Rule::Boolean,
        dry_run_modifiers: opt Vec<DryRunModifier> = "DryRunModifiers" DRY_RUN_MODIFIERS,
    }
}

request! {
    /// GenerateDataKey.
    GenerateDataKeyRequest {
        key_id: req String = "KeyId" KEY_ID,
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        number_of_bytes: opt i64 = "NumberOfBytes" NUMBER_OF_BYTES,
        key_spec: opt DataKeySpec = "KeySpec" DATA_KEY_SPEC,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        recipient: opt Recipient = "Recipient" RECIPIENT,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintextRequest {
        key_id: req String = "KeyId" KEY_ID,
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        key_spec: opt DataKeySpec = "KeySpec" DATA_KEY_SPEC,
        number_of_bytes: opt i64 = "NumberOfBytes" NUMBER_OF_BYTES,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// GenerateRandom.
    GenerateRandomRequest {
        number_of_bytes: opt i64 = "NumberOfBytes" NUMBER_OF_BYTES,
        custom_key_store_id: opt String = "CustomKeyStoreId" CUSTOM_KEY_STORE_ID,
        recipient: opt Recipient = "Recipient" RECIPIENT,
    }
}

/// Base64 text of bytes, as a blob member is sent.
pub(super) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncryptResponse {
    ciphertext_blob: String,
    key_id: String,
    encryption_algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DecryptResponse {
    key_id: String,
    plaintext: String,
    encryption_algorithm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataKeyResponse {
    ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<String>,
    key_id: String,
    key_material_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateRandomResponse {
    plaintext: String,
}

/// The facts of a symmetric cryptographic operation.
pub(super) fn crypto_facts(context: &Context, alias: Option<String>, algorithm: bool) -> Facts<'_> {
    Facts {
        context: Cow::Borrowed(context),
        alias,
        extra: if algorithm {
            vec![(
                "kms:EncryptionAlgorithm".into(),
                ContextValue::one("SYMMETRIC_DEFAULT"),
            )]
        } else {
            Vec::new()
        },
    }
}

impl KeyService {
    pub(super) fn encrypt(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: EncryptRequest,
    ) -> Result<EncryptResponse, KmsError> {
        let (key, alias) = self.resolve(id, &input.key_id, Reach::Named)?;
        let plaintext: Secret = input.plaintext.0;
        let context = input.encryption_context.unwrap_or_default();
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        if !specs::is_symmetric(&key) {
            let c = RsaCall {
                operation: "Encrypt",
                key: &key,
                alias,
                algorithm: input.encryption_algorithm,
                context: &context,
                extra: Vec::new(),
            };
            let (permit, algorithm) = self.rsa_authorize(call, id, c)?;
            rsa::check_size(&key, algorithm, &plaintext)?;
            if input.dry_run == Some(true) {
                return Err(KmsError::dry_run());
            }
            let ct = self.rsa_seal(&permit, &key, algorithm, &plaintext)?;
            return Ok(EncryptResponse {
                ciphertext_blob: b64(&ct),
                key_id: key.arn,
                encryption_algorithm: algorithm,
            });
        }
        let permit = self.authorize(
            call,
            id,
            &key,
            "Encrypt",
            Need::Usable,
            crypto_facts(&context, alias, true),
        )?;
        check_algorithm(&key, input.encryption_algorithm)?;
        call.effective
            .push(("EncryptionAlgorithm", "SYMMETRIC_DEFAULT"));
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &context, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(EncryptResponse {
            ciphertext_blob: b64(&ct),
            key_id: key.arn,
            encryption_algorithm: "SYMMETRIC_DEFAULT",
        })
    }

    /// Opens a blob under `key`: the permit must be for `ReEncryptFrom` or
    /// `Decrypt`. Returns the plaintext and the version that sealed it.
    pub(super) fn open_blob(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        context: &Context,
        ciphertext: &[u8],
    ) -> Result<(Secret, u32), KmsError> {
        let header =
            blob::header(ciphertext).map_err(|e| KmsError::invalid_ciphertext(e.to_string()))?;
        let material = self.material(permit, key, header.version)?;
        let plaintext = blob::decrypt(&material, context, ciphertext).map_err(|_| {
            KmsError::invalid_ciphertext(
                "the ciphertext could not be decrypted: it was changed, or the encryption context differs from the one used to encrypt it",
            )
        })?;
        Ok((plaintext, header.version))
    }

    /// The key a ciphertext names, checked against an optional `KeyId`.
    pub(super) fn blob_key(
        &self,
        id: &Identity,
        ciphertext: &[u8],
        key_id: Option<&str>,
    ) -> Result<(KeyRecord, Option<String>), KmsError> {
        let header =
            blob::header(ciphertext).map_err(|e| KmsError::invalid_ciphertext(e.to_string()))?;
        let key = self.resolve_blob_key(id, &header.key_id)?;
        let mut alias = None;
        if let Some(wanted) = key_id {
            let (named, a) = self.resolve(id, wanted, Reach::Named)?;
            if named.key_id != key.key_id {
                return Err(incorrect_key());
            }
            alias = a;
        }
        Ok((key, alias))
    }

    pub(super) fn decrypt(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DecryptRequest,
    ) -> Result<DecryptResponse, KmsError> {
        refuse_recipient(input.recipient.as_ref())?;
        refuse_modifiers(input.dry_run_modifiers.as_deref())?;
        let ciphertext = required_ciphertext(input.ciphertext_blob)?;
        let context = input.encryption_context.unwrap_or_default();
        if let Some(named) = &input.key_id {
            let (key, alias) = self.resolve(id, named, Reach::Named)?;
            if !specs::is_symmetric(&key) {
                if key.key_usage != "ENCRYPT_DECRYPT" {
                    return Err(incorrect_key());
                }
                self.check_grant_tokens(input.grant_tokens.as_deref())?;
                let c = RsaCall {
                    operation: "Decrypt",
                    key: &key,
                    alias,
                    algorithm: input.encryption_algorithm,
                    context: &context,
                    extra: Vec::new(),
                };
                let (permit, algorithm) = self.rsa_authorize(call, id, c)?;
                if input.dry_run == Some(true) {
                    return Err(KmsError::dry_run());
                }
                let plaintext = self.rsa_open(&permit, &key, algorithm, &ciphertext)?;
                return Ok(DecryptResponse {
                    key_id: key.arn,
                    plaintext: b64(plaintext.expose()),
                    encryption_algorithm: algorithm,
                    key_material_id: None,
                });
            }
        }
        let (key, alias) = self.blob_key(id, &ciphertext, input.key_id.as_deref())?;
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        let permit = self.authorize(
            call,
            id,
            &key,
            "Decrypt",
            Need::Usable,
            crypto_facts(&context, alias, true),
        )?;
        check_algorithm(&key, input.encryption_algorithm)?;
        call.effective
            .push(("EncryptionAlgorithm", "SYMMETRIC_DEFAULT"));
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let (plaintext, version) = self.open_blob(&permit, &key, &context, &ciphertext)?;
        Ok(DecryptResponse {
            key_material_id: Some(material_id(&key.key_id, version)),
            key_id: key.arn,
            plaintext: b64(plaintext.expose()),
            encryption_algorithm: "SYMMETRIC_DEFAULT",
        })
    }

    pub(super) fn generate_data_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateDataKeyRequest,
    ) -> Result<DataKeyResponse, KmsError> {
        refuse_recipient(input.recipient.as_ref())?;
        let request = DataKeyRequest {
            key_id: input.key_id,
            context: input.encryption_context.unwrap_or_default(),
            number_of_bytes: input.number_of_bytes,
            key_spec: input.key_spec,
            grant_tokens: input.grant_tokens,
            dry_run: input.dry_run == Some(true),
        };
        self.data_key(call, id, request, true)
    }

    pub(super) fn generate_data_key_without_plaintext(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateDataKeyWithoutPlaintextRequest,
    ) -> Result<DataKeyResponse, KmsError> {
        let request = DataKeyRequest {
            key_id: input.key_id,
            context: input.encryption_context.unwrap_or_default(),
            number_of_bytes: input.number_of_bytes,
            key_spec: input.key_spec,
            grant_tokens: input.grant_tokens,
            dry_run: input.dry_run == Some(true),
        };
        self.data_key(call, id, request, false)
    }

    fn data_key(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DataKeyRequest,
        with_plaintext: bool,
    ) -> Result<DataKeyResponse, KmsError> {
        let (key, alias) = self.resolve(id, &input.key_id, Reach::Named)?;
        let op = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        symmetric_only(&key, op)?;
        let size = match (input.key_spec, input.number_of_bytes) {
            (Some(DataKeySpec::Aes256), None) => 32,
            (Some(DataKeySpec::Aes128), None) => 16,
            (None, Some(n)) => usize::try_from(n).unwrap_or(32),
            (None, None) | (Some(_), Some(_)) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
        };
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        let permit = self.authorize(
            call,
            id,
            &key,
            op,
            Need::Usable,
            crypto_facts(&input.context, alias, false),
        )?;
        if input.dry_run {
            return Err(KmsError::dry_run());
        }
        let data_key = crypto::random_bytes(size);
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &input.context, data_key.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(DataKeyResponse {
            ciphertext_blob: b64(&ct),
            plaintext: with_plaintext.then(|| b64(data_key.expose())),
            key_material_id: material_id(&key.key_id, key.current_version),
            key_id: key.arn,
        })
    }

    pub(super) fn generate_random(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateRandomRequest,
    ) -> Result<GenerateRandomResponse, KmsError> {
        refuse_recipient(input.recipient.as_ref())?;
        let n = input
            .number_of_bytes
            .ok_or_else(|| KmsError::validation("NumberOfBytes is required."))?;
        self.authorize_account(call, id, "GenerateRandom", Facts::default())?;
        let n = usize::try_from(n).unwrap_or(32);
        let bytes = match &input.custom_key_store_id {
            // Random bytes from the custom key store's token.
            Some(cks) => self.random_in_store(id, cks, n)?,
            None => crypto::random_bytes(n),
        };
        Ok(GenerateRandomResponse {
            plaintext: b64(bytes.expose()),
        })
    }

    /// Grant tokens are opaque to keyward (a grant is usable as soon as it
    /// is created), but one that is not a token keyward could have issued
    /// is refused, as AWS refuses malformed tokens.
    pub(super) fn check_grant_tokens(&self, tokens: Option<&[String]>) -> Result<(), KmsError> {
        for t in tokens.unwrap_or_default() {
            if B64.decode(t).is_err() {
                return Err(KmsError::new(
                    ErrorKind::InvalidGrantToken,
                    "The grant token is not valid.",
                ));
            }
        }
        Ok(())
    }
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext, decoded.
struct DataKeyRequest {
    key_id: String,
    context: Context,
    number_of_bytes: Option<i64>,
    key_spec: Option<DataKeySpec>,
    grant_tokens: Option<Vec<String>>,
    dry_run: bool,
}

pub(super) fn required_ciphertext(blob: Option<Blob>) -> Result<Vec<u8>, KmsError> {
    blob.map(|b| b.0)
        .ok_or_else(|| super::api::null_member("ciphertextBlob"))
}

/// keyward runs in no Nitro enclave, so it never answers for one.
pub(super) fn refuse_recipient(recipient: Option<&Recipient>) -> Result<(), KmsError> {
    match recipient {
        Some(_) => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "keyward does not support the Recipient parameter (Nitro Enclaves attestation)",
        )),
        None => Ok(()),
    }
}

/// AWS's IncorrectKeyException: the KeyId names a key that cannot decrypt
/// this ciphertext.
fn incorrect_key() -> KmsError {
    KmsError::new(
        ErrorKind::IncorrectKey,
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
}

/// Data keys come only from symmetric encryption keys.
pub(super) fn symmetric_only(key: &KeyRecord, operation: &str) -> Result<(), KmsError> {
    if specs::is_symmetric(key) {
        Ok(())
    } else if key.key_usage == "ENCRYPT_DECRYPT" {
        Err(specs::incompatible("SYMMETRIC_DEFAULT", key))
    } else {
        Err(specs::wrong_usage(key, operation))
    }
}

/// A dry run that ignores the ciphertext is not one keyward can run: it
/// finds the key through the ciphertext.
pub(super) fn refuse_modifiers(modifiers: Option<&[DryRunModifier]>) -> Result<(), KmsError> {
    match modifiers {
        Some(m) if !m.is_empty() => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "keyward does not support DryRunModifiers",
        )),
        _ => Ok(()),
    }
}

/// A symmetric key takes only SYMMETRIC_DEFAULT.
pub(super) fn check_algorithm(
    key: &KeyRecord,
    algorithm: Option<EncryptionAlgorithm>,
) -> Result<(), KmsError> {
    match algorithm {
        None | Some(EncryptionAlgorithm::SymmetricDefault) => Ok(()),
        Some(other) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "Algorithm {other} is incompatible with key spec {}.",
                key.key_spec
            ),
        )),
    }
}
