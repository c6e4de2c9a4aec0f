//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, data keys and random bytes.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::crypto::{self, Secret, blob};
use crate::eval::{ContextValue, Permit};
use crate::store::KeyRecord;

use super::access::Reach;
use super::fields::{blob_field, context_field, in_range, int, required, s, strings};
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, MAX_PLAINTEXT, Need};

impl KeyService {
    pub(super) fn encrypt(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let plaintext = blob_field(input, "Plaintext")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: Member must not be null"))?;
        let plaintext = Secret::new(plaintext);
        let context = context_field(input, "EncryptionContext")?;
        check_algorithm(input, "EncryptionAlgorithm")?;
        let permit = self.authorize(
            call,
            id,
            &key,
            "Encrypt",
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                extra: vec![(
                    "kms:EncryptionAlgorithm".into(),
                    ContextValue::One("SYMMETRIC_DEFAULT".into()),
                )],
            },
        )?;
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and {MAX_PLAINTEXT}"
            )));
        }
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &context, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(
            json!({"CiphertextBlob": B64.encode(ct), "KeyId": key.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        )
    }

    /// Opens a blob under `key`: the permit must be for `ReEncryptFrom` or `Decrypt`.
    pub(super) fn open_blob(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        context: &BTreeMap<String, String>,
        ciphertext: &[u8],
    ) -> Result<Secret, KmsError> {
        let header = blob::header(ciphertext)
            .map_err(|e| KmsError::new(ErrorKind::InvalidCiphertext, e.to_string()))?;
        let material = self.material(permit, key, header.version)?;
        blob::decrypt(&material, context, ciphertext).map_err(|_| {
            KmsError::new(
                ErrorKind::InvalidCiphertext,
                "The ciphertext could not be decrypted: it was changed, or the encryption context differs from the one used to encrypt it",
            )
        })
    }

    /// The key a ciphertext names, checked against an optional `KeyId`.
    pub(super) fn blob_key(
        &self,
        id: &Identity,
        ciphertext: &[u8],
        key_id: Option<&str>,
    ) -> Result<(KeyRecord, Option<String>), KmsError> {
        let header = blob::header(ciphertext)
            .map_err(|e| KmsError::new(ErrorKind::InvalidCiphertext, e.to_string()))?;
        let key = self.resolve_blob_key(id, &header.key_id)?;
        let mut alias = None;
        if let Some(wanted) = key_id {
            let (named, a) = self.resolve(id, wanted, Reach::Named)?;
            if named.key_id != key.key_id {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKey,
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
            alias = a;
        }
        Ok((key, alias))
    }

    pub(super) fn decrypt(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let ciphertext = blob_field(input, "CiphertextBlob")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"))?;
        let context = context_field(input, "EncryptionContext")?;
        check_algorithm(input, "EncryptionAlgorithm")?;
        let (key, alias) = self.blob_key(id, &ciphertext, s(input, "KeyId")?)?;
        self.check_grant_tokens(input)?;
        let permit = self.authorize(
            call,
            id,
            &key,
            "Decrypt",
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                extra: vec![(
                    "kms:EncryptionAlgorithm".into(),
                    ContextValue::One("SYMMETRIC_DEFAULT".into()),
                )],
            },
        )?;
        let plaintext = self.open_blob(&permit, &key, &context, &ciphertext)?;
        Ok(
            json!({"KeyId": key.arn, "Plaintext": B64.encode(plaintext.expose()), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        )
    }

    pub(super) fn re_encrypt(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        let ciphertext = blob_field(input, "CiphertextBlob")?
            .ok_or_else(|| KmsError::validation("1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"))?;
        let source_context = context_field(input, "SourceEncryptionContext")?;
        let dest_context = context_field(input, "DestinationEncryptionContext")?;
        check_algorithm(input, "SourceEncryptionAlgorithm")?;
        check_algorithm(input, "DestinationEncryptionAlgorithm")?;
        let (source, source_alias) = self.blob_key(id, &ciphertext, s(input, "SourceKeyId")?)?;
        let (dest, dest_alias) =
            self.resolve(id, required(input, "DestinationKeyId")?, Reach::Named)?;
        let same = (source.key_id == dest.key_id).to_string();
        let from = self.authorize(
            call,
            id,
            &source,
            "ReEncryptFrom",
            Need::Usable,
            Facts {
                context: source_context.clone(),
                alias: source_alias,
                extra: vec![(
                    "kms:ReEncryptOnSameKey".into(),
                    ContextValue::One(same.clone()),
                )],
            },
        )?;
        let to = self.authorize(
            call,
            id,
            &dest,
            "ReEncryptTo",
            Need::Usable,
            Facts {
                context: dest_context.clone(),
                alias: dest_alias,
                extra: vec![("kms:ReEncryptOnSameKey".into(), ContextValue::One(same))],
            },
        )?;
        let plaintext = self.open_blob(&from, &source, &source_context, &ciphertext)?;
        let material = self.material(&to, &dest, dest.current_version)?;
        let ct = blob::encrypt(&material, &dest_context, plaintext.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(json!({
            "CiphertextBlob": B64.encode(ct), "SourceKeyId": source.arn, "KeyId": dest.arn,
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"
        }))
    }

    pub(super) fn generate_data_key(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
        with_plaintext: bool,
    ) -> Result<Value, KmsError> {
        let (key, alias) = self.resolve(id, required(input, "KeyId")?, Reach::Named)?;
        let context = context_field(input, "EncryptionContext")?;
        let size = match (s(input, "KeySpec")?, int(input, "NumberOfBytes")?) {
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (None, Some(n)) => {
                in_range(n, 1, 1024, "numberOfBytes")?;
                usize::try_from(n).unwrap_or(32)
            }
            (Some(spec), None) => {
                return Err(KmsError::validation(format!(
                    "1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )));
            }
            (None, None) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(KmsError::validation(
                    "Please specify either number of bytes or key spec, not both.",
                ));
            }
        };
        let op = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        self.check_grant_tokens(input)?;
        let permit = self.authorize(
            call,
            id,
            &key,
            op,
            Need::Usable,
            Facts {
                context: context.clone(),
                alias,
                ..Facts::default()
            },
        )?;
        let data_key = crypto::random_bytes(size);
        let material = self.material(&permit, &key, key.current_version)?;
        let ct = blob::encrypt(&material, &context, data_key.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let mut out = json!({"CiphertextBlob": B64.encode(ct), "KeyId": key.arn});
        if let (true, Some(o)) = (with_plaintext, out.as_object_mut()) {
            o.insert("Plaintext".into(), json!(B64.encode(data_key.expose())));
        }
        Ok(out)
    }

    pub(super) fn generate_random(
        &self,
        call: &mut Call,
        id: &Identity,
        input: &Value,
    ) -> Result<Value, KmsError> {
        self.authorize_account(call, id, "GenerateRandom", Facts::default())?;
        let n = int(input, "NumberOfBytes")?.unwrap_or(32);
        in_range(n, 1, 1024, "numberOfBytes")?;
        let bytes = crypto::random_bytes(usize::try_from(n).unwrap_or(32));
        Ok(json!({"Plaintext": B64.encode(bytes.expose())}))
    }

    pub(super) fn check_grant_tokens(&self, input: &Value) -> Result<(), KmsError> {
        for t in strings(input, "GrantTokens")? {
            if t.is_empty() || t.len() > 8192 || B64.decode(&t).is_err() {
                return Err(KmsError::new(
                    ErrorKind::InvalidGrantToken,
                    "The grant token is not valid.",
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn check_algorithm(input: &Value, field: &str) -> Result<(), KmsError> {
    match s(input, field)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(other) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!("{other} is not a valid encryption algorithm for this key"),
        )),
    }
}
