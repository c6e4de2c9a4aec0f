//! Every condition key AWS KMS evaluates, with its value type (the Service
//! Authorization Reference and the KMS Developer Guide's condition keys),
//! and [`ContextKey`], a key resolved for fast look-up.

/// The value type of a condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum KeyType {
    String,
    Arn,
    Bool,
    Numeric,
    Date,
    IpAddress,
    ArrayOfString,
}

impl KeyType {
    pub fn is_multivalued(self) -> bool {
        self == KeyType::ArrayOfString
    }
}

/// A condition key keyward knows. A `family` key (`kms:EncryptionContext:`,
/// `aws:PrincipalTag/`) names a prefix; the rest of the name is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionKeyInfo {
    pub name: &'static str,
    pub ty: KeyType,
    pub family: bool,
}

const fn key(name: &'static str, ty: KeyType) -> ConditionKeyInfo {
    ConditionKeyInfo {
        name,
        ty,
        family: false,
    }
}

const fn family(name: &'static str, ty: KeyType) -> ConditionKeyInfo {
    ConditionKeyInfo {
        name,
        ty,
        family: true,
    }
}

use KeyType::*;

/// Every condition key: the global keys a key service can populate, then the
/// `kms:` keys.
pub static CONDITION_KEYS: &[ConditionKeyInfo] = &[
    key("aws:PrincipalArn", Arn),
    key("aws:PrincipalAccount", String),
    key("aws:PrincipalType", String),
    family("aws:PrincipalTag/", String),
    key("aws:userid", String),
    key("aws:username", String),
    key("aws:SourceIp", IpAddress),
    key("aws:SecureTransport", Bool),
    key("aws:CurrentTime", Date),
    key("aws:EpochTime", Date),
    family("aws:RequestTag/", String),
    family("aws:ResourceTag/", String),
    key("aws:TagKeys", ArrayOfString),
    // Global keys that AWS sets in situations keyward does not model (AWS
    // Organizations, VPC endpoints, MFA, service-to-service calls). They are
    // known so that a policy using them is not reported as misspelt; a
    // request carries them only when the caller passes them.
    key("aws:CalledVia", ArrayOfString),
    key("aws:CalledViaFirst", String),
    key("aws:CalledViaLast", String),
    key("aws:FederatedProvider", String),
    key("aws:MultiFactorAuthAge", Numeric),
    key("aws:MultiFactorAuthPresent", Bool),
    key("aws:PrincipalIsAWSService", Bool),
    key("aws:PrincipalOrgID", String),
    key("aws:PrincipalOrgPaths", ArrayOfString),
    key("aws:PrincipalServiceName", String),
    key("aws:PrincipalServiceNamesList", ArrayOfString),
    key("aws:Referer", String),
    key("aws:RequestedRegion", String),
    key("aws:ResourceAccount", String),
    key("aws:ResourceOrgID", String),
    key("aws:ResourceOrgPaths", ArrayOfString),
    key("aws:SourceAccount", String),
    key("aws:SourceArn", Arn),
    key("aws:SourceIdentity", String),
    key("aws:SourceOrgID", String),
    key("aws:SourceOrgPaths", ArrayOfString),
    key("aws:SourceVpc", String),
    key("aws:SourceVpce", String),
    key("aws:TokenIssueTime", Date),
    key("aws:UserAgent", String),
    key("aws:ViaAWSService", Bool),
    key("aws:VpcSourceIp", IpAddress),
    key("aws:VpceAccount", String),
    key("aws:VpceOrgID", String),
    key("aws:VpceOrgPaths", ArrayOfString),
    key("kms:BypassPolicyLockoutSafetyCheck", Bool),
    key("kms:CallerAccount", String),
    key("kms:CustomerMasterKeySpec", String),
    key("kms:CustomerMasterKeyUsage", String),
    key("kms:DataKeyPairSpec", String),
    key("kms:EncryptionAlgorithm", String),
    family("kms:EncryptionContext:", String),
    key("kms:EncryptionContextKeys", ArrayOfString),
    key("kms:ExpirationModel", String),
    key("kms:GrantConstraintSourceArn", Arn),
    key("kms:GrantConstraintType", String),
    key("kms:GrantIsForAWSResource", Bool),
    key("kms:GrantOperations", ArrayOfString),
    key("kms:GranteePrincipal", String),
    key("kms:GranteeServicePrincipal", String),
    key("kms:KeyAgreementAlgorithm", String),
    key("kms:KeyOrigin", String),
    key("kms:KeySpec", String),
    key("kms:KeyUsage", String),
    key("kms:MacAlgorithm", String),
    key("kms:MessageType", String),
    key("kms:MultiRegion", Bool),
    key("kms:MultiRegionKeyType", String),
    key("kms:PrimaryRegion", String),
    key("kms:ReEncryptOnSameKey", Bool),
    family("kms:RecipientAttestation:", String),
    key("kms:ReplicaRegion", String),
    key("kms:RequestAlias", String),
    key("kms:ResourceAliases", ArrayOfString),
    key("kms:RetiringPrincipal", String),
    key("kms:RetiringServicePrincipal", String),
    key("kms:RotationPeriodInDays", Numeric),
    key("kms:ScheduleKeyDeletionPendingWindowInDays", Numeric),
    key("kms:SigningAlgorithm", String),
    key("kms:TrailingDaysWithoutKeyUsage", Numeric),
    key("kms:ValidTo", Date),
    key("kms:ViaService", String),
    key("kms:WrappingAlgorithm", String),
    key("kms:WrappingKeySpec", String),
];

/// The non-family keys' names, lowercased and as the catalog spells them,
/// to their index: a name spelled either way is found without lowercasing
/// it.
fn exact_keys() -> &'static NameMap<std::string::String, usize> {
    static KEYS: std::sync::OnceLock<NameMap<std::string::String, usize>> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        CONDITION_KEYS
            .iter()
            .enumerate()
            .filter(|(_, k)| !k.family)
            .flat_map(|(i, k)| [(k.name.to_ascii_lowercase(), i), (k.name.to_owned(), i)])
            .collect()
    })
}

/// A fixed map from the catalog's own names, with a fast unkeyed hash. Its
/// entries never come from input, so a keyed SipHash would guard against
/// nothing while costing more than the look-up it guards (looking up any
/// string, an attacker's too, is one hash and one probe of a table that
/// never grows).
pub(crate) type NameMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<WordHash>>;

/// A multiply-rotate hash over eight bytes at a time (the scheme of
/// rustc's FxHash), for short names.
#[derive(Default)]
pub(crate) struct WordHash(u64);

impl WordHash {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl std::hash::Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
}

fn exact_key_index(name: &str) -> Option<usize> {
    if let Some(i) = exact_keys().get(name) {
        return Some(*i);
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        exact_keys().get(&name.to_ascii_lowercase()).copied()
    } else {
        None
    }
}

/// Looks a condition key up, case-insensitively; a family key matches any
/// name with its prefix and a non-empty rest.
pub fn condition_key(name: &str) -> Option<&'static ConditionKeyInfo> {
    if let Some(i) = exact_key_index(name) {
        return CONDITION_KEYS.get(i);
    }
    CONDITION_KEYS.iter().find(|k| {
        k.family
            && name.len() > k.name.len()
            && name
                .get(..k.name.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k.name))
    })
}

/// A condition key resolved for fast look-up: a known, non-family key by its
/// index in [`CONDITION_KEYS`], any other key by its lowercased name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContextKey {
    Known(usize),
    Named(std::string::String),
}

impl ContextKey {
    /// Resolves a key name; names are case-insensitive.
    pub fn new(name: &str) -> ContextKey {
        exact_key_index(name).map_or_else(
            || ContextKey::Named(name.to_ascii_lowercase()),
            ContextKey::Known,
        )
    }

    /// The key's name: the catalog's spelling, or the lowercased name.
    pub fn name(&self) -> &str {
        match self {
            ContextKey::Known(i) => CONDITION_KEYS.get(*i).map_or("", |k| k.name),
            ContextKey::Named(n) => n,
        }
    }
}
