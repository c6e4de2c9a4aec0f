//! ReEncrypt: open a ciphertext under its source key and seal it under the
//! destination key, authorized as `kms:ReEncryptFrom` on the source and
//! `kms:ReEncryptTo` on the destination; either key may be symmetric or an
//! RSA encryption key (then its `…EncryptionAlgorithm` is required).

use serde::Serialize;

use crate::crypto::{Secret, blob};
use crate::eval::{ContextValue, Permit};
use crate::store::KeyRecord;

use super::access::Reach;
use super::api::enums::{DryRunModifier, EncryptionAlgorithm};
use super::api::types::Blob;
use super::api::{DRY_RUN_MODIFIERS, GRANT_TOKENS, KEY_ID, Rule, request};
use super::cryptographic::{
    ALGORITHM, CIPHERTEXT, Context, b64, check_algorithm, crypto_facts, refuse_modifiers,
    required_ciphertext,
};
use super::rotation::material_id;
use super::rsa::{self, RsaCall};
use super::specs;
use super::{Call, Identity, KeyService, KmsError, Need};

request! {
    /// ReEncrypt.
    ReEncryptRequest {
        ciphertext_blob: opt Blob = "CiphertextBlob" CIPHERTEXT,
        source_encryption_context: opt Context = "SourceEncryptionContext" Rule::StringMap,
        source_key_id: opt String = "SourceKeyId" KEY_ID,
        destination_key_id: req String = "DestinationKeyId" KEY_ID,
        destination_encryption_context: opt Context =
            "DestinationEncryptionContext" Rule::StringMap,
        source_encryption_algorithm: opt EncryptionAlgorithm =
            "SourceEncryptionAlgorithm" ALGORITHM,
        destination_encryption_algorithm: opt EncryptionAlgorithm =
            "DestinationEncryptionAlgorithm" ALGORITHM,
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
        dry_run_modifiers: opt Vec<DryRunModifier> = "DryRunModifiers" DRY_RUN_MODIFIERS,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncryptResponse {
    ciphertext_blob: String,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_key_material_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_key_material_id: Option<String>,
}

/// One side of a ReEncrypt, authorized: its key, permit and algorithm.
struct Side {
    key: KeyRecord,
    permit: Permit,
    algorithm: &'static str,
}

impl KeyService {
    /// Authorizes one side: a symmetric key with SYMMETRIC_DEFAULT and its
    /// encryption context, or an RSA key with its OAEP algorithm.
    #[allow(clippy::too_many_arguments)]
    fn reencrypt_side(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        operation: &'static str,
        (key, alias): (KeyRecord, Option<String>),
        algorithm: Option<EncryptionAlgorithm>,
        context: &Context,
        same: &str,
    ) -> Result<Side, KmsError> {
        let same_key = (
            "kms:ReEncryptOnSameKey".to_owned(),
            ContextValue::one(same.to_owned()),
        );
        if specs::is_symmetric(&key) {
            let mut facts = crypto_facts(context, alias, false);
            facts.extra.push(same_key);
            let permit = self.authorize(call, id, &key, operation, Need::Usable, facts)?;
            check_algorithm(&key, algorithm)?;
            return Ok(Side {
                key,
                permit,
                algorithm: "SYMMETRIC_DEFAULT",
            });
        }
        let c = RsaCall {
            operation,
            key: &key,
            alias,
            algorithm,
            context,
            extra: vec![same_key],
        };
        let (permit, algorithm) = self.rsa_authorize(call, id, c)?;
        Ok(Side {
            key,
            permit,
            algorithm,
        })
    }

    pub(super) fn re_encrypt(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: ReEncryptRequest,
    ) -> Result<ReEncryptResponse, KmsError> {
        refuse_modifiers(input.dry_run_modifiers.as_deref())?;
        let ciphertext = required_ciphertext(input.ciphertext_blob)?;
        let source_context = input.source_encryption_context.unwrap_or_default();
        let dest_context = input.destination_encryption_context.unwrap_or_default();
        // An RSA ciphertext names no key: the SourceKeyId does.
        let named = match &input.source_key_id {
            Some(k) => Some(self.resolve(id, k, Reach::Named)?),
            None => None,
        };
        let source = match named {
            Some((key, alias)) if !specs::is_symmetric(&key) => (key, alias),
            _ => self.blob_key(id, &ciphertext, input.source_key_id.as_deref())?,
        };
        let dest = self.resolve(id, &input.destination_key_id, Reach::Named)?;
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        let same = (source.0.key_id == dest.0.key_id).to_string();
        let from = self.reencrypt_side(
            call,
            id,
            "ReEncryptFrom",
            source,
            input.source_encryption_algorithm,
            &source_context,
            &same,
        )?;
        let to = self.reencrypt_side(
            call,
            id,
            "ReEncryptTo",
            dest,
            input.destination_encryption_algorithm,
            &dest_context,
            &same,
        )?;
        if input.dry_run == Some(true) {
            return Err(KmsError::dry_run());
        }
        let (plaintext, source_version): (Secret, Option<u32>) = if specs::is_symmetric(&from.key) {
            let (p, v) = self.open_blob(&from.permit, &from.key, &source_context, &ciphertext)?;
            (p, Some(v))
        } else {
            let p = self.rsa_open(&from.permit, &from.key, from.algorithm, &ciphertext)?;
            (p, None)
        };
        let sealed = if specs::is_symmetric(&to.key) {
            let material = self.material(&to.permit, &to.key, to.key.current_version)?;
            blob::encrypt(&material, &dest_context, plaintext.expose())
                .map_err(|e| KmsError::internal(e.to_string()))?
        } else {
            rsa::check_size(&to.key, to.algorithm, &plaintext)?;
            self.rsa_seal(&to.permit, &to.key, to.algorithm, &plaintext)?
        };
        Ok(ReEncryptResponse {
            ciphertext_blob: b64(&sealed),
            source_key_material_id: source_version.map(|v| material_id(&from.key.key_id, v)),
            destination_key_material_id: specs::is_symmetric(&to.key)
                .then(|| material_id(&to.key.key_id, to.key.current_version)),
            source_key_id: from.key.arn,
            key_id: to.key.arn,
            source_encryption_algorithm: from.algorithm,
            destination_encryption_algorithm: to.algorithm,
        })
    }
}
