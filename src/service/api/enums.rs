//! The KMS API model's enumerations keyward reads, with AWS's values in the
//! model's order (validation messages list them in that order).

/// Declares an AWS enumeration: the Rust enum, its wire names and the
/// value list validation checks against.
macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $( $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// Every value, in the API model's order.
            pub const VALUES: &'static [&'static str] = &[ $( $text, )* ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_enum! {
    /// `KeySpec`: the type of a KMS key.
    KeySpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Sm2 = "SM2",
        MlDsa44 = "ML_DSA_44",
        MlDsa65 = "ML_DSA_65",
        MlDsa87 = "ML_DSA_87",
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        MlKem512 = "ML_KEM_512",
        MlKem768 = "ML_KEM_768",
        MlKem1024 = "ML_KEM_1024",
    }
}

aws_enum! {
    /// `CustomerMasterKeySpec`: the deprecated name of `KeySpec`, with the
    /// values it had when AWS replaced it.
    CustomerMasterKeySpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Sm2 = "SM2",
    }
}

impl CustomerMasterKeySpec {
    /// The same spec by its current name.
    pub fn key_spec(self) -> KeySpec {
        match self {
            CustomerMasterKeySpec::Rsa2048 => KeySpec::Rsa2048,
            CustomerMasterKeySpec::Rsa3072 => KeySpec::Rsa3072,
            CustomerMasterKeySpec::Rsa4096 => KeySpec::Rsa4096,
            CustomerMasterKeySpec::EccNistP256 => KeySpec::EccNistP256,
            CustomerMasterKeySpec::EccNistP384 => KeySpec::EccNistP384,
            CustomerMasterKeySpec::EccNistP521 => KeySpec::EccNistP521,
            CustomerMasterKeySpec::EccSecgP256k1 => KeySpec::EccSecgP256k1,
            CustomerMasterKeySpec::SymmetricDefault => KeySpec::SymmetricDefault,
            CustomerMasterKeySpec::Hmac224 => KeySpec::Hmac224,
            CustomerMasterKeySpec::Hmac256 => KeySpec::Hmac256,
            CustomerMasterKeySpec::Hmac384 => KeySpec::Hmac384,
            CustomerMasterKeySpec::Hmac512 => KeySpec::Hmac512,
            CustomerMasterKeySpec::Sm2 => KeySpec::Sm2,
        }
    }
}

aws_enum! {
    /// `KeyUsageType`.
    KeyUsage {
        SignVerify = "SIGN_VERIFY",
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
}

aws_enum! {
    /// `OriginType`: where a key's material comes from.
    Origin {
        AwsKms = "AWS_KMS",
        External = "EXTERNAL",
        AwsCloudHsm = "AWS_CLOUDHSM",
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
}

aws_enum! {
    /// `DataKeySpec`: the length of a data key.
    DataKeySpec {
        Aes256 = "AES_256",
        Aes128 = "AES_128",
    }
}

aws_enum! {
    /// `EncryptionAlgorithmSpec`.
    EncryptionAlgorithm {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        Sm2Pke = "SM2PKE",
    }
}

aws_enum! {
    /// `GrantOperation`: what a grant may allow.
    GrantOperation {
        Decrypt = "Decrypt",
        Encrypt = "Encrypt",
        GenerateDataKey = "GenerateDataKey",
        GenerateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext",
        ReEncryptFrom = "ReEncryptFrom",
        ReEncryptTo = "ReEncryptTo",
        Sign = "Sign",
        Verify = "Verify",
        GetPublicKey = "GetPublicKey",
        CreateGrant = "CreateGrant",
        RetireGrant = "RetireGrant",
        DescribeKey = "DescribeKey",
        GenerateDataKeyPair = "GenerateDataKeyPair",
        GenerateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext",
        GenerateMac = "GenerateMac",
        VerifyMac = "VerifyMac",
        DeriveSharedSecret = "DeriveSharedSecret",
        Encapsulate = "Encapsulate",
        Decapsulate = "Decapsulate",
    }
}

aws_enum! {
    /// `IncludeKeyMaterial` of ListKeyRotations.
    IncludeKeyMaterial {
        AllKeyMaterial = "ALL_KEY_MATERIAL",
        RotationsOnly = "ROTATIONS_ONLY",
    }
}

aws_enum! {
    /// `ResourceOwnerType` of ListKeys.
    ResourceOwner {
        SelfOwned = "SELF",
        OtherAccountsViaRam = "OTHER_ACCOUNTS_VIA_RAM",
    }
}

aws_enum! {
    /// `DryRunModifierType`.
    DryRunModifier {
        IgnoreCiphertext = "IGNORE_CIPHERTEXT",
    }
}

aws_enum! {
    /// `KeyEncryptionMechanism` of a `Recipient`.
    KeyEncryptionMechanism {
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
    }
}

aws_enum! {
    /// `SigningAlgorithmSpec`.
    SigningAlgorithm {
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 = "ECDSA_SHA_256",
        EcdsaSha384 = "ECDSA_SHA_384",
        EcdsaSha512 = "ECDSA_SHA_512",
        Sm2Dsa = "SM2DSA",
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        Ed25519Sha512 = "ED25519_SHA_512",
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
}

aws_enum! {
    /// `MessageType` of Sign and Verify.
    MessageType {
        Raw = "RAW",
        Digest = "DIGEST",
        ExternalMu = "EXTERNAL_MU",
    }
}

aws_enum! {
    /// `MacAlgorithmSpec`.
    MacAlgorithm {
        HmacSha224 = "HMAC_SHA_224",
        HmacSha256 = "HMAC_SHA_256",
        HmacSha384 = "HMAC_SHA_384",
        HmacSha512 = "HMAC_SHA_512",
    }
}

aws_enum! {
    /// `AlgorithmSpec`: how imported key material is wrapped.
    WrappingAlgorithm {
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        Sm2pke = "SM2PKE",
    }
}

aws_enum! {
    /// `WrappingKeySpec`: the public key that wraps imported key material.
    WrappingKeySpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        Sm2 = "SM2",
    }
}

aws_enum! {
    /// `ExpirationModelType`.
    ExpirationModel {
        KeyMaterialExpires = "KEY_MATERIAL_EXPIRES",
        KeyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
}

aws_enum! {
    /// `ImportType`: new key material (for the first import, or a rotation)
    /// or key material the key had before.
    ImportType {
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
}

aws_enum! {
    /// `CustomKeyStoreType`.
    CustomKeyStoreType {
        AwsCloudHsm = "AWS_CLOUDHSM",
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
}
