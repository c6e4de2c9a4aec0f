//! Account and Region: the boundary every stored record lives inside.
//!
//! A key, alias, grant, tag or key version belongs to exactly one
//! [`Scope`]; every store lookup takes one. A key's owner is read from its
//! record, never from an ARN or a header: an ARN in a request only selects
//! which scope to look in.

use std::fmt;

use crate::policy::ast::AccountId;

/// An AWS Region name, checked for shape: `[a-z]{2}(-[a-z]+)+-\d+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    /// A well-formed Region name (`us-east-1`, `ap-southeast-7`), else `None`.
    pub fn parse(s: &str) -> Option<Region> {
        let parts: Vec<&str> = s.split('-').collect();
        let [first, middle @ .., last] = parts.as_slice() else {
            return None;
        };
        let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let ok = first.len() == 2
            && lower(first)
            && !middle.is_empty()
            && middle.iter().all(|p| lower(p))
            && !last.is_empty()
            && last.len() <= 3
            && last.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Region(s.to_owned()))
    }

    /// A name read back from storage that may predate Region checks; it
    /// never equals a parsed Region unless it is one.
    pub(crate) fn unchecked(s: String) -> Region {
        Region(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The standard commercial Regions (partition `aws`), the default set a
    /// server answers for.
    pub fn commercial() -> Vec<Region> {
        COMMERCIAL.iter().map(|r| Region((*r).to_owned())).collect()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// AWS's standard Regions, as botocore's partition data lists them.
const COMMERCIAL: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// One account in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub account: AccountId,
    pub region: Region,
}

impl Scope {
    pub fn new(account: AccountId, region: Region) -> Scope {
        Scope { account, region }
    }

    /// The same account in `region`.
    pub fn with_region(&self, region: Region) -> Scope {
        Scope::new(self.account.clone(), region)
    }

    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub fn key_arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }

    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME` for `alias/NAME`.
    pub fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.account)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// What a `KeyId` request member names, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A bare key id: a key of the caller's own account and Region.
    Id(String),
    /// `alias/NAME`: an alias of the caller's own account and Region.
    Alias(String),
    /// A key ARN: that key id, looked up only in the account and Region named.
    KeyArn(Scope, String),
    /// An alias ARN: `alias/NAME` in the account and Region named.
    AliasArn(Scope, String),
}

/// Why a `KeyId` member names nothing this server can look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefError {
    /// An ARN that is not a KMS key or alias ARN of partition `aws`.
    Malformed,
    /// A well-formed ARN of a Region other than the caller's.
    OtherRegion(String),
}

impl KeyRef {
    /// Reads a `KeyId` member: a key id, key ARN, alias name or alias ARN.
    /// ARNs must name `region`, the Region the request was made in.
    pub fn parse(key_id: &str, region: &Region) -> Result<KeyRef, KeyRefError> {
        if key_id.starts_with("alias/") {
            return Ok(KeyRef::Alias(key_id.to_owned()));
        }
        if !key_id.starts_with("arn:") {
            return if is_key_id(key_id) {
                Ok(KeyRef::Id(key_id.to_owned()))
            } else {
                Err(KeyRefError::Malformed)
            };
        }
        let parts: Vec<&str> = key_id.splitn(6, ':').collect();
        let ["arn", "aws", "kms", r, account, resource] = parts.as_slice() else {
            return Err(KeyRefError::Malformed);
        };
        let (Some(r), Some(account)) = (Region::parse(r), AccountId::parse(account)) else {
            return Err(KeyRefError::Malformed);
        };
        if &r != region {
            return Err(KeyRefError::OtherRegion(r.0));
        }
        let scope = Scope::new(account, r);
        match resource.split_once('/') {
            Some(("key", id)) if is_key_id(id) => Ok(KeyRef::KeyArn(scope, id.to_owned())),
            Some(("alias", name)) if !name.is_empty() => {
                Ok(KeyRef::AliasArn(scope, format!("alias/{name}")))
            }
            _ => Err(KeyRefError::Malformed),
        }
    }
}

/// Whether `s` has the form of a KMS key id: a UUID (8-4-4-4-12 hex
/// digits), or `mrk-` and 32 hex digits (a multi-Region key).
pub fn is_key_id(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(rest) = s.strip_prefix("mrk-") {
        return hex(rest, 32);
    }
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [a, b, c, d, e]
        if hex(a, 8) && hex(b, 4) && hex(c, 4) && hex(d, 4) && hex(e, 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_have_aws_form() {
        assert!(is_key_id("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        assert!(!is_key_id("fake-key-id"));
        assert!(!is_key_id("1234abcd12ab34cd56ef1234567890ab"));
        assert!(!is_key_id("mrk-fake-key-id"));
        assert!(!is_key_id(""));
    }

    fn region(s: &str) -> Region {
        Region::parse(s).unwrap_or_else(|| Region(String::new()))
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "ap-southeast-7",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(Region::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "us-east-1:444455556666",
            "US-EAST-1",
            "useast-1",
            "u-east-1",
            "us--1",
            "us-east-1a",
            "us-east-",
            "us-east-1/x",
        ] {
            assert!(Region::parse(bad).is_none(), "{bad}");
        }
        assert!(
            Region::commercial()
                .iter()
                .all(|r| Region::parse(r.as_str()).is_some())
        );
    }

    #[test]
    fn key_refs() {
        let here = region("us-east-1");
        let a = AccountId("111122223333".into());
        let k1 = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(KeyRef::parse(k1, &here), Ok(KeyRef::Id(k1.into())));
        assert_eq!(KeyRef::parse("1234", &here), Err(KeyRefError::Malformed));
        assert_eq!(
            KeyRef::parse("alias/orders", &here),
            Ok(KeyRef::Alias("alias/orders".into()))
        );
        assert_eq!(
            KeyRef::parse(
                &format!("arn:aws:kms:us-east-1:111122223333:key/{k1}"),
                &here
            ),
            Ok(KeyRef::KeyArn(
                Scope::new(a.clone(), here.clone()),
                k1.into()
            ))
        );
        assert_eq!(
            KeyRef::parse("arn:aws:kms:us-east-1:111122223333:alias/a/b", &here),
            Ok(KeyRef::AliasArn(
                Scope::new(a, here.clone()),
                "alias/a/b".into()
            ))
        );
        assert_eq!(
            KeyRef::parse("arn:aws:kms:ap-southeast-1:111122223333:key/k1", &here),
            Err(KeyRefError::OtherRegion("ap-southeast-1".into()))
        );
        for bad in [
            "arn:aws:kms:us-east-1:444455556666:111122223333:key/k",
            "arn:aws:s3:us-east-1:111122223333:key/k",
            "arn:aws:kms:us-east-1:1111:key/k",
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:kms:us-east-1:111122223333:grant/k",
            "arn:aws:kms:us-east-1:111122223333:key/k1",
        ] {
            assert_eq!(
                KeyRef::parse(bad, &here),
                Err(KeyRefError::Malformed),
                "{bad}"
            );
        }
    }
}
