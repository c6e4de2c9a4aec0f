//! What AWS KMS authorizes: every `kms:` action, every condition key with its
//! type, and which keys each action populates.
//!
//! Taken from the Service Authorization Reference for AWS KMS ("Actions,
//! resources, and condition keys for AWS Key Management Service") and the
//! KMS Developer Guide's "AWS KMS condition keys" and "Grants" pages.

mod groups;
mod keys;

use std::fmt;

pub use keys::{CONDITION_KEYS, ConditionKeyInfo, ContextKey, KeyType, condition_key};

/// Access level, as the Service Authorization Reference classifies actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Access {
    List,
    Read,
    Write,
    PermissionsManagement,
    Tagging,
}

/// What resource an action is authorized on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ResourceKind {
    /// A KMS key: the key policy applies.
    Key,
    /// No resource (`"*"`): only IAM policies apply.
    None,
}

/// One KMS action (IAM permission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    /// Without the `kms:` prefix, e.g. `Decrypt`.
    pub name: &'static str,
    pub access: Access,
    pub resource: ResourceKind,
    /// A grant may allow this operation.
    pub grantable: bool,
    /// The request carries an encryption context (grant constraints apply).
    pub takes_encryption_context: bool,
    /// The `kms:` condition keys the action's request populates.
    pub keys: &'static [&'static str],
}

impl ActionInfo {
    /// Whether a principal of another account can use this action on a key
    /// at all: the "Cross-account use" column of the KMS permissions
    /// reference. For every other action, "if you give a user in a
    /// different account permission for other operations, those
    /// permissions have no effect" (KMS Developer Guide, "Allowing users in
    /// other accounts to use a KMS key").
    pub fn cross_account(&self) -> bool {
        CROSS_ACCOUNT.contains(&self.name)
    }
}

/// The actions the KMS permissions reference marks "Cross-account use: Yes":
/// the cryptographic operations, and the few key operations a key user of
/// another account needs.
pub const CROSS_ACCOUNT: &[&str] = &[
    "CreateGrant",
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "DescribeKey",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "ListGrants",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "Verify",
    "VerifyMac",
];

const fn action(
    name: &'static str,
    access: Access,
    resource: ResourceKind,
    keys: &'static [&'static str],
) -> ActionInfo {
    ActionInfo {
        name,
        access,
        resource,
        grantable: false,
        takes_encryption_context: false,
        keys,
    }
}

const fn grantable(mut a: ActionInfo) -> ActionInfo {
    a.grantable = true;
    a
}

const fn with_context(mut a: ActionInfo) -> ActionInfo {
    a.takes_encryption_context = true;
    a
}

use Access::*;
use ResourceKind::{Key as K, None as Star};
use groups::*;

/// Every AWS KMS action, in alphabetical order.
pub static ACTIONS: &[ActionInfo] = &[
    action("CancelKeyDeletion", Write, K, BASIC),
    action("ConnectCustomKeyStore", Write, Star, CALLER),
    action("CreateAlias", Write, K, BASIC),
    action("CreateCustomKeyStore", Write, Star, CALLER),
    grantable(action(
        "CreateGrant",
        PermissionsManagement,
        K,
        &[
            "kms:CallerAccount",
            "kms:EncryptionContext:",
            "kms:EncryptionContextKeys",
            "kms:GrantConstraintSourceArn",
            "kms:GrantConstraintType",
            "kms:GrantIsForAWSResource",
            "kms:GrantOperations",
            "kms:GranteePrincipal",
            "kms:GranteeServicePrincipal",
            "kms:RetiringPrincipal",
            "kms:RetiringServicePrincipal",
            "kms:ViaService",
        ],
    )),
    action(
        "CreateKey",
        Write,
        Star,
        &[
            "aws:RequestTag/",
            "aws:ResourceTag/",
            "aws:TagKeys",
            "kms:BypassPolicyLockoutSafetyCheck",
            "kms:CallerAccount",
            "kms:CustomerMasterKeySpec",
            "kms:CustomerMasterKeyUsage",
            "kms:KeyOrigin",
            "kms:KeySpec",
            "kms:KeyUsage",
            "kms:MultiRegion",
            "kms:MultiRegionKeyType",
            "kms:ViaService",
        ],
    ),
    grantable(action("Decapsulate", Write, K, ALIASED)),
    grantable(with_context(action("Decrypt", Write, K, CRYPTO_ATTESTED))),
    action("DeleteAlias", Write, K, BASIC),
    action("DeleteCustomKeyStore", Write, Star, CALLER),
    action("DeleteImportedKeyMaterial", Write, K, BASIC),
    grantable(action(
        "DeriveSharedSecret",
        Write,
        K,
        &[
            "kms:CallerAccount",
            "kms:KeyAgreementAlgorithm",
            "kms:RecipientAttestation:",
            "kms:RequestAlias",
            "kms:ViaService",
        ],
    )),
    action("DescribeCustomKeyStores", Read, Star, CALLER),
    grantable(action("DescribeKey", Read, K, ALIASED)),
    action(
        "DisableKey",
        Write,
        K,
        &[
            "kms:CallerAccount",
            "kms:TrailingDaysWithoutKeyUsage",
            "kms:ViaService",
        ],
    ),
    action("DisableKeyRotation", Write, K, BASIC),
    action("DisconnectCustomKeyStore", Write, Star, CALLER),
    action("EnableKey", Write, K, BASIC),
    action(
        "EnableKeyRotation",
        Write,
        K,
        &[
            "kms:CallerAccount",
            "kms:RotationPeriodInDays",
            "kms:ViaService",
        ],
    ),
    grantable(action("Encapsulate", Write, K, ALIASED)),
    grantable(with_context(action("Encrypt", Write, K, CRYPTO))),
    grantable(with_context(action(
        "GenerateDataKey",
        Write,
        K,
        CRYPTO_ATTESTED,
    ))),
    grantable(with_context(action(
        "GenerateDataKeyPair",
        Write,
        K,
        PAIR_ATTESTED,
    ))),
    grantable(with_context(action(
        "GenerateDataKeyPairWithoutPlaintext",
        Write,
        K,
        PAIR,
    ))),
    grantable(with_context(action(
        "GenerateDataKeyWithoutPlaintext",
        Write,
        K,
        CRYPTO,
    ))),
    grantable(action("GenerateMac", Write, K, MAC)),
    action(
        "GenerateRandom",
        Write,
        Star,
        &["kms:RecipientAttestation:"],
    ),
    action("GetKeyLastUsage", Read, K, BASIC),
    action("GetKeyPolicy", Read, K, BASIC),
    action("GetKeyRotationStatus", Read, K, BASIC),
    action(
        "GetParametersForImport",
        Read,
        K,
        &[
            "kms:CallerAccount",
            "kms:ViaService",
            "kms:WrappingAlgorithm",
            "kms:WrappingKeySpec",
        ],
    ),
    grantable(action("GetPublicKey", Read, K, ALIASED)),
    action(
        "ImportKeyMaterial",
        Write,
        K,
        &[
            "kms:CallerAccount",
            "kms:ExpirationModel",
            "kms:ValidTo",
            "kms:ViaService",
        ],
    ),
    action("ListAliases", List, Star, NONE),
    action(
        "ListGrants",
        List,
        K,
        &[
            "kms:CallerAccount",
            "kms:GrantIsForAWSResource",
            "kms:ViaService",
        ],
    ),
    action("ListKeyPolicies", List, K, BASIC),
    action("ListKeyRotations", List, K, BASIC),
    action("ListKeys", List, Star, NONE),
    action("ListResourceTags", List, K, BASIC),
    action("ListRetirableGrants", List, Star, NONE),
    action(
        "PutKeyPolicy",
        PermissionsManagement,
        K,
        &[
            "kms:BypassPolicyLockoutSafetyCheck",
            "kms:CallerAccount",
            "kms:ViaService",
        ],
    ),
    grantable(with_context(action("ReEncryptFrom", Write, K, REENCRYPT))),
    grantable(with_context(action("ReEncryptTo", Write, K, REENCRYPT))),
    action(
        "ReplicateKey",
        Write,
        K,
        &["kms:CallerAccount", "kms:ReplicaRegion", "kms:ViaService"],
    ),
    grantable(action(
        "RetireGrant",
        PermissionsManagement,
        K,
        &[
            "kms:CallerAccount",
            "kms:EncryptionContext:",
            "kms:EncryptionContextKeys",
            "kms:GrantConstraintType",
            "kms:ViaService",
        ],
    )),
    action(
        "RevokeGrant",
        PermissionsManagement,
        K,
        &[
            "kms:CallerAccount",
            "kms:GrantIsForAWSResource",
            "kms:ViaService",
        ],
    ),
    action("RotateKeyOnDemand", Write, K, BASIC),
    action(
        "ScheduleKeyDeletion",
        Write,
        K,
        &[
            "kms:CallerAccount",
            "kms:ScheduleKeyDeletionPendingWindowInDays",
            "kms:TrailingDaysWithoutKeyUsage",
            "kms:ViaService",
        ],
    ),
    grantable(action("Sign", Write, K, SIGN)),
    action("SynchronizeMultiRegionKey", Write, K, NONE),
    action(
        "TagResource",
        Tagging,
        K,
        &[
            "aws:RequestTag/",
            "aws:TagKeys",
            "kms:CallerAccount",
            "kms:ViaService",
        ],
    ),
    action(
        "UntagResource",
        Tagging,
        K,
        &["aws:TagKeys", "kms:CallerAccount", "kms:ViaService"],
    ),
    action("UpdateAlias", Write, K, BASIC),
    action("UpdateCustomKeyStore", Write, Star, CALLER),
    action("UpdateKeyDescription", Write, K, BASIC),
    action(
        "UpdatePrimaryRegion",
        Write,
        K,
        &["kms:CallerAccount", "kms:PrimaryRegion", "kms:ViaService"],
    ),
    grantable(action("Verify", Write, K, SIGN)),
    grantable(action("VerifyMac", Write, K, MAC)),
];

/// Condition keys of the KMS key resource: they apply to every action
/// authorized on a key.
pub const KEY_RESOURCE_KEYS: &[&str] = &[
    "aws:ResourceTag/",
    "kms:CustomerMasterKeySpec",
    "kms:CustomerMasterKeyUsage",
    "kms:KeyOrigin",
    "kms:KeySpec",
    "kms:KeyUsage",
    "kms:MultiRegion",
    "kms:MultiRegionKeyType",
    "kms:ResourceAliases",
];

/// Global keys that only some actions carry: the tag keys.
const SCOPED_GLOBAL_KEYS: &[&str] = &["aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys"];

/// A KMS action, as an index into [`ACTIONS`]. Cheap to copy and compare;
/// the compiler indexes decision-table rows by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Action(u8);

impl Action {
    pub fn all() -> impl Iterator<Item = Action> {
        (0..ACTIONS.len()).filter_map(|i| u8::try_from(i).ok().map(Action))
    }

    /// Parses `kms:Decrypt` (case-insensitive, as AWS compares action names).
    pub fn parse(s: &str) -> Option<Action> {
        let name = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("kms:"))
            .and_then(|_| s.get(4..))?;
        Action::from_operation(name)
    }

    /// Parses an operation name without prefix (`Decrypt`), case-insensitively.
    /// The name as AWS spells it (what a client's `X-Amz-Target` carries) is
    /// one hash look-up.
    pub fn from_operation(name: &str) -> Option<Action> {
        static EXACT: std::sync::OnceLock<keys::NameMap<&'static str, Action>> =
            std::sync::OnceLock::new();
        let exact = EXACT.get_or_init(|| Action::all().map(|a| (a.name(), a)).collect());
        if let Some(a) = exact.get(name) {
            return Some(*a);
        }
        ACTIONS
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name))
            .and_then(|i| u8::try_from(i).ok())
            .map(Action)
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    pub fn info(self) -> &'static ActionInfo {
        // INVARIANT: an `Action` is only built from a valid index.
        &ACTIONS[self.index()]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the condition key `name` can be present in this action's
    /// request.
    pub fn populates(self, name: &str) -> bool {
        let Some(info) = condition_key(name) else {
            return false;
        };
        self.populates_info(info)
    }

    /// [`Action::populates`] for a resolved key: a known key is one bit of
    /// a table built once.
    pub fn populates_key(self, key: &ContextKey) -> bool {
        match key {
            ContextKey::Known(i) => self.populates_known(*i),
            ContextKey::Named(name) => self.populates(name),
        }
    }

    /// [`Action::populates`] for the known key with index `i`.
    pub fn populates_known(self, i: usize) -> bool {
        static TABLE: std::sync::OnceLock<Vec<u128>> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            Action::all()
                .map(|a| {
                    CONDITION_KEYS
                        .iter()
                        .enumerate()
                        .filter(|(i, k)| *i < 128 && a.populates_info(k))
                        .fold(0u128, |bits, (i, _)| bits | 1 << i)
                })
                .collect()
        });
        match table.get(self.index()) {
            Some(bits) if i < 128 => bits & (1 << i) != 0,
            _ => CONDITION_KEYS
                .get(i)
                .is_some_and(|k| self.populates_info(k)),
        }
    }

    fn populates_info(self, info: &ConditionKeyInfo) -> bool {
        let matches = |k: &&str| k.eq_ignore_ascii_case(info.name);
        let universal = info.name.starts_with("aws:") && !SCOPED_GLOBAL_KEYS.iter().any(matches);
        universal
            || self.info().keys.iter().any(matches)
            || (self.info().resource == ResourceKind::Key && KEY_RESOURCE_KEYS.iter().any(matches))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kms:{}", self.name())
    }
}

/// The number of actions; sizes per-action tables.
pub fn action_count() -> usize {
    ACTIONS.len()
}

/// The catalog name closest to `input` by edit distance, if close enough to
/// be a likely typo.
pub fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d > 0 && *d <= (c.len() / 4).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn cross_account_names_only_key_actions_of_the_catalog() {
        for name in super::CROSS_ACCOUNT {
            let a = super::Action::from_operation(name);
            assert!(a.is_some(), "{name} is not in the catalog");
            assert!(
                a.is_some_and(|a| a.info().resource == super::ResourceKind::Key),
                "{name}"
            );
        }
        let management = [
            "PutKeyPolicy",
            "ScheduleKeyDeletion",
            "GetKeyPolicy",
            "TagResource",
        ];
        for name in management {
            let a = super::Action::from_operation(name);
            assert!(a.is_some_and(|a| !a.info().cross_account()), "{name}");
        }
    }

    use super::*;

    #[test]
    fn actions_are_sorted_and_unique() {
        let names: Vec<_> = ACTIONS.iter().map(|a| a.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(ACTIONS.len() < 256);
    }

    #[test]
    fn every_key_an_action_names_is_in_the_catalog() {
        for a in ACTIONS {
            for k in a.keys {
                let probe = if k.ends_with(':') || k.ends_with('/') {
                    format!("{k}x")
                } else {
                    (*k).to_owned()
                };
                assert!(condition_key(&probe).is_some(), "{} names {k}", a.name);
            }
        }
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(Action::parse("KMS:decrypt"), Action::parse("kms:Decrypt"));
        assert!(Action::parse("kms:Decrypt").is_some());
        assert!(Action::parse("kms:Decrpyt").is_none());
        assert!(Action::parse("s3:GetObject").is_none());
    }

    #[test]
    fn which_actions_populate_which_keys() {
        let act = |n: &str| Action::parse(n).unwrap_or_else(|| unreachable!("{n}"));
        assert!(act("kms:Decrypt").populates("kms:EncryptionContext:tenant"));
        assert!(act("kms:Decrypt").populates("KMS:VIASERVICE"));
        assert!(!act("kms:DescribeKey").populates("kms:EncryptionContext:tenant"));
        assert!(!act("kms:ListKeys").populates("kms:ViaService"));
        assert!(act("kms:TagResource").populates("aws:TagKeys"));
        assert!(!act("kms:Decrypt").populates("aws:TagKeys"));
        assert!(act("kms:Decrypt").populates("aws:ResourceTag/team"));
        assert!(!act("kms:CreateCustomKeyStore").populates("aws:ResourceTag/team"));
        assert!(act("kms:ListKeys").populates("aws:SourceIp"));
        assert!(act("kms:EnableKeyRotation").populates("kms:RotationPeriodInDays"));
        assert!(!act("kms:Decrypt").populates("kms:NoSuchKey"));
    }

    #[test]
    fn suggestions() {
        let names = ACTIONS.iter().map(|a| a.name);
        assert_eq!(closest("Decrpyt", names), Some("Decrypt"));
    }
}
