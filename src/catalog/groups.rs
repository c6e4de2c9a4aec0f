//! The condition keys each group of actions carries (the Service
//! Authorization Reference's "condition keys" column, shared by the actions
//! that list the same keys).

pub(super) const BASIC: &[&str] = &["kms:CallerAccount", "kms:ViaService"];
pub(super) const CALLER: &[&str] = &["kms:CallerAccount"];
pub(super) const NONE: &[&str] = &[];
pub(super) const CRYPTO: &[&str] = &[
    "kms:CallerAccount",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:",
    "kms:EncryptionContextKeys",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const CRYPTO_ATTESTED: &[&str] = &[
    "kms:CallerAccount",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:",
    "kms:EncryptionContextKeys",
    "kms:RecipientAttestation:",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const PAIR: &[&str] = &[
    "kms:CallerAccount",
    "kms:DataKeyPairSpec",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:",
    "kms:EncryptionContextKeys",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const PAIR_ATTESTED: &[&str] = &[
    "kms:CallerAccount",
    "kms:DataKeyPairSpec",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:",
    "kms:EncryptionContextKeys",
    "kms:RecipientAttestation:",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const REENCRYPT: &[&str] = &[
    "kms:CallerAccount",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:",
    "kms:EncryptionContextKeys",
    "kms:ReEncryptOnSameKey",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const MAC: &[&str] = &[
    "kms:CallerAccount",
    "kms:MacAlgorithm",
    "kms:RequestAlias",
    "kms:ViaService",
];
pub(super) const SIGN: &[&str] = &[
    "kms:CallerAccount",
    "kms:MessageType",
    "kms:RequestAlias",
    "kms:SigningAlgorithm",
    "kms:ViaService",
];
pub(super) const ALIASED: &[&str] = &["kms:CallerAccount", "kms:RequestAlias", "kms:ViaService"];
