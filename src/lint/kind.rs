//! What kind of document is being linted. A rule applies to the kinds it
//! declares: a public principal is the point of a VPC endpoint policy and
//! a mistake in a key policy; a lockout is possible only in a key policy.
//!
//! The kind is inferred from the document — grants are grants, a policy
//! whose statements name principals is a key policy, one whose statements
//! name none an identity policy — or given: `--kind`, or per glob in
//! `keyward.toml`:
//!
//! ```toml
//! [lint.kinds]
//! "org/scp/**" = "scp"
//! "endpoints/*.json" = "vpc-endpoint"
//! ```

use std::fmt;

use crate::compile::PolicyKind;
use crate::policy::Document;

/// A kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    /// A KMS key policy.
    KeyPolicy,
    /// An IAM identity policy (attached to a user, group or role).
    Identity,
    /// An AWS Organizations service control policy.
    Scp,
    /// An AWS Organizations resource control policy.
    Rcp,
    /// A VPC endpoint policy.
    VpcEndpoint,
    /// KMS grants (a `ListGrants` response or a list of grants).
    Grants,
}

impl DocKind {
    pub const ALL: [DocKind; 6] = [
        DocKind::KeyPolicy,
        DocKind::Identity,
        DocKind::Scp,
        DocKind::Rcp,
        DocKind::VpcEndpoint,
        DocKind::Grants,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DocKind::KeyPolicy => "key-policy",
            DocKind::Identity => "identity",
            DocKind::Scp => "scp",
            DocKind::Rcp => "rcp",
            DocKind::VpcEndpoint => "vpc-endpoint",
            DocKind::Grants => "grants",
        }
    }

    /// The kind in a sentence: "a key policy", "an identity policy".
    pub fn described(self) -> &'static str {
        match self {
            DocKind::KeyPolicy => "a key policy",
            DocKind::Identity => "an identity policy",
            DocKind::Scp => "a service control policy",
            DocKind::Rcp => "a resource control policy",
            DocKind::VpcEndpoint => "a VPC endpoint policy",
            DocKind::Grants => "a grant",
        }
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The kind a document's shape says.
    pub fn infer(doc: &Document) -> DocKind {
        match doc {
            Document::Grants(_) => DocKind::Grants,
            Document::Policy(p) if p.statements.iter().all(|s| s.node.principal.is_none()) => {
                DocKind::Identity
            }
            Document::Policy(_) => DocKind::KeyPolicy,
        }
    }

    /// How the policy compiler reads it: policies with principals as key
    /// policies (a principal in every statement), the others as IAM
    /// policies (none).
    pub fn policy_kind(self) -> PolicyKind {
        match self {
            DocKind::Identity | DocKind::Scp => PolicyKind::IamPolicy,
            DocKind::KeyPolicy | DocKind::Rcp | DocKind::VpcEndpoint | DocKind::Grants => {
                PolicyKind::KeyPolicy
            }
        }
    }

    /// Whether IAM validates the document as an identity-side policy
    /// (attached to principals or accounts, Sids alphanumeric).
    pub fn is_iam_managed(self) -> bool {
        matches!(self, DocKind::Identity | DocKind::Scp | DocKind::Rcp)
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every kind of policy (not grants).
pub const POLICIES: &[DocKind] = &[
    DocKind::KeyPolicy,
    DocKind::Identity,
    DocKind::Scp,
    DocKind::Rcp,
    DocKind::VpcEndpoint,
];
/// Every kind.
pub const ALL: &[DocKind] = &DocKind::ALL;

/// Whether `name` is a Region of any AWS partition (the commercial
/// Regions, China, GovCloud, the ISO partitions, the European Sovereign
/// Cloud): what a Region condition value or an ARN's Region field can be.
pub fn known_region(name: &str) -> bool {
    const OTHERS: &[&str] = &[
        "cn-north-1",
        "cn-northwest-1",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "us-isob-west-1",
        "eu-isoe-west-1",
        "us-isof-south-1",
        "us-isof-east-1",
        "eusc-de-east-1",
    ];
    OTHERS.contains(&name)
        || crate::scope::Region::commercial()
            .iter()
            .any(|r| r.as_str() == name)
}
