//! The authenticated principal of a request, parsed once per identity.

use std::fmt;

use crate::policy::ast::{AccountId, role_key};

/// What kind of identity a caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account's root user.
    Root,
    User {
        name: String,
    },
    /// A role named directly by its ARN.
    Role {
        name: String,
    },
    /// An assumed-role session `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`.
    AssumedRole {
        role_arn: String,
        session: String,
    },
    FederatedUser {
        name: String,
    },
    /// An AWS service principal such as `ec2.amazonaws.com`.
    Service(String),
}

/// The authenticated principal making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub arn: String,
    pub account: Option<AccountId>,
    pub kind: CallerKind,
    /// For a role or role session, [`role_key`]: how policies name it.
    pub role: Option<String>,
}

/// A caller that could not be understood.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
#[error(
    "`{0}` is not a principal: expected an account id, an IAM or STS principal ARN, or a service principal such as `ec2.amazonaws.com`"
)]
#[diagnostic(code(keyward::bad_caller))]
pub struct BadCaller(pub String);

impl Caller {
    /// Parses `111122223333`, `arn:aws:iam::111122223333:root`,
    /// `arn:aws:iam::ACCT:user/NAME`, `arn:aws:iam::ACCT:role/NAME`,
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`,
    /// `arn:aws:sts::ACCT:federated-user/NAME`, or a service principal.
    pub fn parse(s: &str) -> Result<Caller, BadCaller> {
        let bad = || BadCaller(s.to_owned());
        if let Some(account) = AccountId::parse(s) {
            return Ok(Caller {
                arn: account.root_arn(),
                account: Some(account),
                kind: CallerKind::Root,
                role: None,
            });
        }
        if !s.starts_with("arn:") {
            if s.ends_with(".amazonaws.com") && !s.contains(char::is_whitespace) {
                return Ok(Caller {
                    arn: s.to_owned(),
                    account: None,
                    kind: CallerKind::Service(s.to_owned()),
                    role: None,
                });
            }
            return Err(bad());
        }
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [_, partition, service, _, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        let account = AccountId::parse(account).ok_or_else(bad)?;
        let last = |r: &str| r.rsplit('/').next().unwrap_or_default().to_owned();
        let kind = match (*service, *resource) {
            ("iam", "root") => CallerKind::Root,
            ("iam", r) if r.starts_with("user/") => CallerKind::User { name: last(r) },
            ("iam", r) if r.starts_with("role/") => CallerKind::Role { name: last(r) },
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut it = r.splitn(3, '/').skip(1);
                let (Some(role), Some(session)) = (it.next(), it.next()) else {
                    return Err(bad());
                };
                CallerKind::AssumedRole {
                    role_arn: format!("arn:{partition}:iam::{account}:role/{role}"),
                    session: session.to_owned(),
                }
            }
            ("sts", r) if r.starts_with("federated-user/") => {
                CallerKind::FederatedUser { name: last(r) }
            }
            _ => return Err(bad()),
        };
        if kind
            == (CallerKind::User {
                name: String::new(),
            })
            || kind
                == (CallerKind::Role {
                    name: String::new(),
                })
        {
            return Err(bad());
        }
        Ok(Caller {
            arn: s.to_owned(),
            account: Some(account),
            role: role_key(s),
            kind,
        })
    }

    pub fn is_root(&self) -> bool {
        self.kind == CallerKind::Root
    }

    pub fn is_service(&self) -> bool {
        matches!(self.kind, CallerKind::Service(_))
    }

    /// `aws:PrincipalArn`: for a role session, the role's ARN.
    pub fn principal_arn(&self) -> &str {
        match &self.kind {
            CallerKind::AssumedRole { role_arn, .. } => role_arn,
            _ => &self.arn,
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::Role { .. } | CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::FederatedUser { .. } => "FederatedUser",
            CallerKind::Service(_) => "AWSService",
        }
    }

    /// The ARNs a policy or grant may name to mean this caller: the caller's
    /// own ARN and, for a role session, the role.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        let role = match &self.kind {
            CallerKind::AssumedRole { role_arn, .. } => Some(role_arn.as_str()),
            _ => None,
        };
        std::iter::once(self.arn.as_str()).chain(role)
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers() {
        let c = Caller::parse("arn:aws:sts::111122223333:assumed-role/App/i-123").ok();
        let c = c.as_ref();
        assert_eq!(
            c.map(|c| c.principal_arn()),
            Some("arn:aws:iam::111122223333:role/App")
        );
        assert_eq!(c.map(|c| c.principal_type()), Some("AssumedRole"));
        assert!(Caller::parse("111122223333").is_ok_and(|c| c.is_root()));
        assert!(Caller::parse("ec2.amazonaws.com").is_ok_and(|c| c.is_service()));
        assert!(Caller::parse("bob").is_err());
        assert!(Caller::parse("arn:aws:iam::11112222333:user/bob").is_err());
        assert!(Caller::parse("arn:aws:iam::111122223333:user/").is_err());
    }
}
