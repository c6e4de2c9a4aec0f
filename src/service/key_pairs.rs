//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh
//! key pair whose private key (PKCS #8) is returned encrypted under a
//! symmetric KMS key, and in plaintext when asked.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::crypto::{asymmetric, blob};
use crate::eval::ContextValue;

use super::access::Reach;
use super::api::types::Recipient;
use super::api::{GRANT_TOKENS, KEY_ID, RECIPIENT, Rule, request};
use super::cryptographic::symmetric_only;
use super::rotation::material_id;
use super::{Call, ErrorKind, Facts, Identity, KeyService, KmsError, Need};

/// The model's `DataKeyPairSpec` values.
const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

type Context = BTreeMap<String, String>;

request! {
    /// GenerateDataKeyPair.
    GenerateDataKeyPairRequest {
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        key_id: req String = "KeyId" KEY_ID,
        key_pair_spec: req String = "KeyPairSpec" Rule::Enum(KEY_PAIR_SPECS),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        recipient: opt Recipient = "Recipient" RECIPIENT,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

request! {
    /// GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairWithoutPlaintextRequest {
        encryption_context: opt Context = "EncryptionContext" Rule::StringMap,
        key_id: req String = "KeyId" KEY_ID,
        key_pair_spec: req String = "KeyPairSpec" Rule::Enum(KEY_PAIR_SPECS),
        grant_tokens: opt Vec<String> = "GrantTokens" GRANT_TOKENS,
        dry_run: opt bool = "DryRun" Rule::Boolean,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataKeyPairResponse {
    private_key_ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_plaintext: Option<String>,
    public_key: String,
    key_id: String,
    key_pair_spec: String,
    key_material_id: String,
}

/// Either request, decoded.
struct PairRequest {
    context: Context,
    key_id: String,
    spec: String,
    grant_tokens: Option<Vec<String>>,
    dry_run: bool,
}

impl KeyService {
    pub(super) fn generate_data_key_pair(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateDataKeyPairRequest,
    ) -> Result<DataKeyPairResponse, KmsError> {
        super::cryptographic::refuse_recipient(input.recipient.as_ref())?;
        let request = PairRequest {
            context: input.encryption_context.unwrap_or_default(),
            key_id: input.key_id,
            spec: input.key_pair_spec,
            grant_tokens: input.grant_tokens,
            dry_run: input.dry_run == Some(true),
        };
        self.data_key_pair(call, id, request, true)
    }

    pub(super) fn generate_data_key_pair_without_plaintext(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: GenerateDataKeyPairWithoutPlaintextRequest,
    ) -> Result<DataKeyPairResponse, KmsError> {
        let request = PairRequest {
            context: input.encryption_context.unwrap_or_default(),
            key_id: input.key_id,
            spec: input.key_pair_spec,
            grant_tokens: input.grant_tokens,
            dry_run: input.dry_run == Some(true),
        };
        self.data_key_pair(call, id, request, false)
    }

    fn data_key_pair(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: PairRequest,
        with_plaintext: bool,
    ) -> Result<DataKeyPairResponse, KmsError> {
        let op = if with_plaintext {
            "GenerateDataKeyPair"
        } else {
            "GenerateDataKeyPairWithoutPlaintext"
        };
        self.charge(call, id, Some(&input.spec))?;
        let (key, alias) = self.resolve(id, &input.key_id, Reach::Named)?;
        self.check_grant_tokens(input.grant_tokens.as_deref())?;
        if key.custom_key_store_id.is_some() {
            return Err(super::rotation::origin_not_valid(&key));
        }
        let permit = self.authorize(
            call,
            id,
            &key,
            op,
            Need::Usable,
            Facts {
                context: Cow::Borrowed(&input.context),
                alias,
                extra: vec![
                    (
                        "kms:DataKeyPairSpec".into(),
                        ContextValue::one(input.spec.clone()),
                    ),
                    (
                        "kms:EncryptionAlgorithm".into(),
                        ContextValue::one("SYMMETRIC_DEFAULT"),
                    ),
                ],
            },
        )?;
        symmetric_only(&key, op)?;
        if input.spec == "SM2" || input.spec.starts_with("ML_KEM") {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("keyward does not generate {} data key pairs", input.spec),
            ));
        }
        if input.dry_run {
            return Err(KmsError::dry_run());
        }
        let private =
            asymmetric::generate(&input.spec).map_err(|e| KmsError::internal(e.to_string()))?;
        let public = asymmetric::public_key_of(&input.spec, private.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        let material = self.material(&permit, &key, key.current_version)?;
        let sealed = blob::encrypt(&material, &input.context, private.expose())
            .map_err(|e| KmsError::internal(e.to_string()))?;
        Ok(DataKeyPairResponse {
            private_key_ciphertext_blob: B64.encode(sealed),
            private_key_plaintext: with_plaintext.then(|| B64.encode(private.expose())),
            public_key: B64.encode(public),
            key_material_id: material_id(&key.key_id, key.current_version),
            key_id: key.arn,
            key_pair_spec: input.spec,
        })
    }
}
