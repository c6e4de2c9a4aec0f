//! The policy language as keyward understands it: statements, principals,
//! actions, resources, conditions, and KMS grants.

use std::collections::BTreeMap;
use std::fmt;

use super::Node;

/// The policy language version. It decides whether `${...}` is a policy
/// variable (2012-10-17) or literal text (2008-10-17, or no `Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    #[serde(rename = "2008-10-17")]
    V2008_10_17,
    #[serde(rename = "2012-10-17")]
    V2012_10_17,
}

/// A policy document: a key policy or an IAM identity policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Option<Node<Version>>,
    pub id: Option<Node<String>>,
    pub statements: Vec<Node<Statement>>,
}

impl Policy {
    /// Whether `${...}` is interpreted as a policy variable.
    pub fn variables_enabled(&self) -> bool {
        matches!(
            self.version.as_ref().map(|v| v.node),
            Some(Version::V2012_10_17)
        )
    }
}

/// A statement's `Sid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Sid(pub String);

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<Node<Sid>>,
    pub effect: Node<Effect>,
    /// `Principal` or `NotPrincipal`; absent in identity policies.
    pub principal: Option<Node<PrincipalElement>>,
    /// `Action` or `NotAction`. A statement without one never applies.
    pub action: Option<Node<ActionElement>>,
    /// `Resource` or `NotResource`. A statement without one never applies.
    pub resource: Option<Node<ResourceElement>>,
    /// Every (operator, key) pair of the `Condition` block; all must hold.
    pub conditions: Vec<Node<Condition>>,
}

/// `Principal` (negated = false) or `NotPrincipal` (negated = true).
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalElement {
    pub negated: bool,
    pub principals: Principals,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`: every identity.
    Any,
    Listed(Vec<Node<PrincipalId>>),
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct AccountId(pub String);

impl AccountId {
    pub fn parse(s: &str) -> Option<AccountId> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(s.to_owned()))
    }

    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.0)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One principal named in a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalId {
    /// `"111122223333"` or `arn:aws:iam::111122223333:root`: the account,
    /// which in a key policy delegates to the account's IAM policies.
    Account(AccountId),
    /// An IAM user, role, assumed-role session or federated user ARN.
    Arn(String),
    /// `{"Service": "..."}`; `"*"` is every service.
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalId::Account(a) => write!(f, "{}", a.root_arn()),
            PrincipalId::Arn(a) => f.write_str(a),
            PrincipalId::Service(s) => write!(f, "service {s}"),
            PrincipalId::Federated(s) => write!(f, "federated {s}"),
            PrincipalId::CanonicalUser(s) => write!(f, "canonical user {s}"),
        }
    }
}

/// The six colon-separated parts of an ARN (the last keeps any further
/// colons): partition, service, region, account, resource.
pub fn arn_parts(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    Some([
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ])
}

/// `ACCOUNT:ROLE-NAME` for an IAM role ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`)
/// or an assumed-role session ARN (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`).
/// A session's ARN drops the role's path, so roles are compared by this key.
pub fn role_key(arn: &str) -> Option<String> {
    let ["arn", _, service, "", account, rest] = arn_parts(arn)? else {
        return None;
    };
    let name = match service {
        "iam" => rest.strip_prefix("role/")?.rsplit('/').next()?,
        "sts" => rest.strip_prefix("assumed-role/")?.split('/').next()?,
        _ => return None,
    };
    (!name.is_empty()).then(|| format!("{account}:{name}"))
}

/// Whether `arn` is an assumed-role session
/// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`).
pub fn is_role_session(arn: &str) -> bool {
    matches!(arn_parts(arn), Some(["arn", _, "sts", "", _, rest]) if rest.starts_with("assumed-role/"))
}

/// An action pattern as written, e.g. `kms:Decrypt`, `kms:Generate*`, `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ActionName(pub String);

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Action` or `NotAction`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionElement {
    pub negated: bool,
    pub actions: Vec<Node<ActionName>>,
}

/// `Resource` or `NotResource`: ARN patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceElement {
    pub negated: bool,
    pub resources: Vec<Node<String>>,
}

/// One (operator, key) pair of a `Condition` block with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Node<ConditionOperator>,
    pub key: Node<ConditionKey>,
    /// The values as text; JSON booleans and numbers keep their literal text.
    pub values: Vec<Node<String>>,
}

/// A condition key name as written; compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ConditionKey(pub String);

impl ConditionKey {
    pub fn lowercase(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for ConditionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ForAnyValue:` / `ForAllValues:` prefix of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A condition operator: a base operator, an optional set qualifier, and an
/// optional `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    pub qualifier: Option<SetQualifier>,
    pub base: BaseOperator,
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`.
    pub fn parse(s: &str) -> Option<ConditionOperator> {
        let (qualifier, rest) = if let Some(r) = s.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = s.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, s)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let base = BaseOperator::ALL
            .iter()
            .copied()
            .find(|op| op.name() == base)?;
        // AWS has no `NullIfExists`: "IfExists" would be meaningless on it.
        if base == BaseOperator::Null && if_exists {
            return None;
        }
        Some(ConditionOperator {
            qualifier,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

macro_rules! base_operators {
    ($($v:ident),* $(,)?) => {
        /// The condition operators of the IAM policy language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BaseOperator { $($v),* }

        impl BaseOperator {
            pub const ALL: &'static [BaseOperator] = &[$(BaseOperator::$v),*];

            pub fn name(self) -> &'static str {
                match self { $(BaseOperator::$v => stringify!($v)),* }
            }
        }
    };
}

base_operators!(
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
);

/// What kind of value an operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum OperatorFamily {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl BaseOperator {
    /// Negated operators match when no policy value matches, and match when
    /// the key is missing.
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    pub fn family(self) -> OperatorFamily {
        use BaseOperator::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => OperatorFamily::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => OperatorFamily::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => OperatorFamily::Date,
            Bool => OperatorFamily::Bool,
            BinaryEquals => OperatorFamily::Binary,
            IpAddress | NotIpAddress => OperatorFamily::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => OperatorFamily::Arn,
            Null => OperatorFamily::Null,
        }
    }

    /// Policy variables are substituted only in String, ARN and Bool
    /// operators.
    pub fn takes_variables(self) -> bool {
        matches!(
            self.family(),
            OperatorFamily::String | OperatorFamily::Arn | OperatorFamily::Bool
        )
    }
}

/// A KMS grant, in the shape of a `CreateGrant` request (or a `ListGrants`
/// entry).
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub grant_id: Option<Node<String>>,
    pub name: Option<Node<String>>,
    pub key_id: Option<Node<String>>,
    pub grantee_principal: Node<String>,
    pub retiring_principal: Option<Node<String>>,
    /// Operation names without the `kms:` prefix, e.g. `Decrypt`.
    pub operations: Vec<Node<String>>,
    pub constraints: Option<Node<GrantConstraints>>,
}

/// `Constraints` of a grant: encryption context the request must carry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GrantConstraints {
    /// The request's context must equal this map exactly.
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    /// The request's context must contain every pair of this map.
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}
