//! A request to decide: who calls, which action, on which key, with which
//! condition context.

use std::collections::BTreeMap;
use std::fmt;

use crate::catalog::{Action, CONDITION_KEYS, ContextKey, condition_key};
use crate::policy::ast::{AccountId, role_key};

/// The value of a condition key in a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum ContextValue {
    One(String),
    Many(Vec<String>),
}

impl ContextValue {
    pub fn as_slice(&self) -> &[String] {
        match self {
            ContextValue::One(s) => std::slice::from_ref(s),
            ContextValue::Many(v) => v,
        }
    }
}

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

/// A request, with every condition key it carries already derived.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub action: Action,
    /// The key ARN, or `*` for actions without a key resource.
    pub resource: String,
    /// The account that owns the key.
    pub key_account: Option<AccountId>,
    pub encryption_context: BTreeMap<String, String>,
    /// Values of the catalog's known keys, by [`ContextKey::Known`] index.
    known: Vec<Option<ContextValue>>,
    /// Values of other keys (families such as `kms:EncryptionContext:*`),
    /// lowercased, sorted by key.
    named: Vec<(String, ContextValue)>,
}

impl Request {
    pub fn builder(caller: Caller, action: Action) -> RequestBuilder {
        RequestBuilder {
            caller,
            action,
            resource: None,
            key_account: None,
            encryption_context: BTreeMap::new(),
            explicit: Vec::new(),
            via_service: None,
            principal_tags: BTreeMap::new(),
        }
    }

    /// The value of a condition key, by name (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.get_key(&ContextKey::new(key))
    }

    /// The value of a resolved condition key.
    pub fn get_key(&self, key: &ContextKey) -> Option<&ContextValue> {
        match key {
            ContextKey::Known(i) => self.known.get(*i).and_then(Option::as_ref),
            // INVARIANT: `build` stores `named` sorted by key.
            ContextKey::Named(name) => self
                .named
                .binary_search_by(|(k, _)| k.as_str().cmp(name))
                .ok()
                .map(|i| &self.named[i].1),
        }
    }

    /// Every condition key of the request with its value, named in the
    /// catalog's spelling (`kms:EncryptionContext:` + the context key).
    pub fn context(&self) -> impl Iterator<Item = (String, &ContextValue)> {
        let known = self.known.iter().enumerate().filter_map(|(i, v)| {
            let name = CONDITION_KEYS.get(i).map_or("", |k| k.name);
            v.as_ref().map(|v| (name.to_owned(), v))
        });
        let named = self.named.iter().map(|(k, v)| {
            let spelled = match condition_key(k) {
                Some(info) if info.family => {
                    format!("{}{}", info.name, k.get(info.name.len()..).unwrap_or(""))
                }
                _ => k.clone(),
            };
            (spelled, v)
        });
        known.chain(named)
    }

    /// Whether caller and key are in the same account.
    pub fn same_account(&self) -> bool {
        match (&self.caller.account, &self.key_account) {
            (Some(c), Some(k)) => c == k,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Builds a [`Request`], deriving the global and KMS condition keys from the
/// caller, the key and the encryption context.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    caller: Caller,
    action: Action,
    resource: Option<String>,
    key_account: Option<AccountId>,
    encryption_context: BTreeMap<String, String>,
    /// Keys set by name, resolved when set; a later one replaces an
    /// earlier one of the same key.
    explicit: Vec<(ContextKey, ContextValue)>,
    via_service: Option<String>,
    principal_tags: BTreeMap<String, String>,
}

impl RequestBuilder {
    /// The key ARN the request is on.
    pub fn resource(mut self, arn: impl Into<String>) -> Self {
        self.resource = Some(arn.into());
        self
    }

    /// The account that owns the key, from the key's record. Without it the
    /// account is read from the resource ARN (for requests a person writes,
    /// as in `keyward explain`); the key service always sets it.
    pub fn key_account(mut self, account: AccountId) -> Self {
        self.key_account = Some(account);
        self
    }

    pub fn encryption_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.encryption_context.insert(key.into(), value.into());
        self
    }

    /// The integrated service calling on the caller's behalf (`kms:ViaService`).
    pub fn via_service(mut self, service: impl Into<String>) -> Self {
        self.via_service = Some(service.into());
        self
    }

    pub fn principal_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.principal_tags.insert(key.into(), value.into());
        self
    }

    pub fn source_ip(self, ip: std::net::IpAddr) -> Self {
        self.context("aws:SourceIp", ip.to_string())
    }

    pub fn secure_transport(self, tls: bool) -> Self {
        self.context("aws:SecureTransport", tls.to_string())
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime`.
    pub fn current_time(self, t: time::OffsetDateTime) -> Self {
        // Requests arrive many per second: each thread formats a second
        // once.
        thread_local! {
            static LAST: std::cell::RefCell<(i64, String, String)> =
                const { std::cell::RefCell::new((i64::MIN, String::new(), String::new())) };
        }
        let secs = t.unix_timestamp();
        let (iso, epoch) = LAST.with(|last| {
            let mut last = last.borrow_mut();
            if last.0 != secs || t.offset() != time::UtcOffset::UTC {
                let iso = t
                    .replace_nanosecond(0)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default();
                if t.offset() != time::UtcOffset::UTC {
                    return (iso, secs.to_string());
                }
                *last = (secs, iso, secs.to_string());
            }
            (last.1.clone(), last.2.clone())
        });
        self.context("aws:CurrentTime", iso)
            .context("aws:EpochTime", epoch)
    }

    /// Sets any single-valued condition key; it overrides a derived value.
    pub fn context(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, ContextValue::One(value.into()));
        self
    }

    /// Sets a multi-valued condition key.
    pub fn context_values(mut self, key: &str, values: Vec<String>) -> Self {
        self.set(key, ContextValue::Many(values));
        self
    }

    fn set(&mut self, key: &str, value: ContextValue) {
        let key = ContextKey::new(key);
        self.explicit.retain(|(k, _)| *k != key);
        self.explicit.push((key, value));
    }

    pub fn build(self) -> Request {
        let RequestBuilder {
            caller,
            action,
            resource,
            key_account: owner,
            encryption_context,
            explicit,
            via_service,
            principal_tags,
        } = self;
        let resource = resource.unwrap_or_else(|| "*".to_owned());
        let key_account = owner
            .or_else(|| key_account(&resource))
            .or_else(|| caller.account.clone());
        // Derived keys go straight to their slot: known keys by index,
        // the others (families) by lowercased name; explicit keys after
        // them, so they override.
        let mut known: Vec<Option<ContextValue>> = vec![None; CONDITION_KEYS.len()];
        let mut named: Vec<(String, ContextValue)> = Vec::new();
        let mut put = |k: &str, v: ContextValue| match ContextKey::new(k) {
            ContextKey::Known(i) => known[i] = Some(v),
            ContextKey::Named(name) => match named.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = v,
                None => named.push((name, v)),
            },
        };
        let one = |s: &str| ContextValue::One(s.to_owned());
        // The principal keys AWS documents for each kind of caller (IAM
        // User Guide, global condition keys): an AWS service principal has
        // aws:PrincipalServiceName and aws:PrincipalServiceNamesList ("present
        // in the request when the call is made by an AWS service principal")
        // and no ARN; aws:PrincipalIsAWSService is in every signed request.
        if let CallerKind::Service(name) = &caller.kind {
            put("aws:PrincipalServiceName", one(name));
            put(
                "aws:PrincipalServiceNamesList",
                ContextValue::Many(vec![name.clone()]),
            );
            put("aws:PrincipalIsAWSService", one("true"));
        } else {
            put("aws:PrincipalArn", one(caller.principal_arn()));
            put("aws:PrincipalType", one(caller.principal_type()));
            put("aws:PrincipalIsAWSService", one("false"));
        }
        if let Some(a) = &caller.account {
            put("aws:PrincipalAccount", one(&a.0));
            if action.populates("kms:CallerAccount") {
                put("kms:CallerAccount", one(&a.0));
            }
        }
        if let CallerKind::User { name } = &caller.kind {
            put("aws:username", one(name));
        }
        for (k, v) in &principal_tags {
            put(&format!("aws:PrincipalTag/{k}"), one(v));
        }
        if let Some(s) = via_service
            .as_deref()
            .filter(|_| action.populates("kms:ViaService"))
        {
            put("kms:ViaService", one(s));
        }
        if !encryption_context.is_empty() && action.populates("kms:EncryptionContextKeys") {
            for (k, v) in &encryption_context {
                put(&format!("kms:EncryptionContext:{k}"), one(v));
            }
            put(
                "kms:EncryptionContextKeys",
                ContextValue::Many(encryption_context.keys().cloned().collect()),
            );
        }
        for (k, v) in explicit {
            match k {
                ContextKey::Known(i) => known[i] = Some(v),
                ContextKey::Named(name) => match named.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = v,
                    None => named.push((name, v)),
                },
            }
        }
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Request {
            caller,
            action,
            resource,
            key_account,
            encryption_context,
            known,
            named,
        }
    }
}

/// The account segment of a KMS key or alias ARN.
fn key_account(arn: &str) -> Option<AccountId> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kms", _, account, _] => AccountId::parse(account),
        _ => None,
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

    #[test]
    fn explicit_keys_override_derived_ones_and_the_last_one_wins() {
        let Ok(caller) = Caller::parse("arn:aws:iam::111122223333:user/bob") else {
            return;
        };
        let Some(action) = Action::from_operation("Decrypt") else {
            return;
        };
        let t = time::macros::datetime!(2026-12-02 10:00:00 UTC);
        let r = Request::builder(caller, action)
            .encryption_context("Tenant", "a")
            .context("kms:EncryptionContext:Tenant", "b")
            .context("aws:SecureTransport", "true")
            .context("AWS:SECURETRANSPORT", "false")
            .current_time(t)
            .build();
        let one = |k: &str| match r.get(k) {
            Some(ContextValue::One(v)) => v.clone(),
            _ => String::new(),
        };
        assert_eq!(one("kms:encryptioncontext:tenant"), "b");
        assert_eq!(one("aws:SecureTransport"), "false");
        assert_eq!(
            one("aws:PrincipalArn"),
            "arn:aws:iam::111122223333:user/bob"
        );
        assert_eq!(one("aws:CurrentTime"), "2026-12-02T10:00:00Z");
        assert_eq!(one("aws:EpochTime"), t.unix_timestamp().to_string());
        // The formatted second is kept per thread; the next second and
        // another offset are formatted anew.
        let later = Request::builder(r.caller.clone(), action)
            .current_time(t + time::Duration::seconds(1))
            .build();
        assert!(
            matches!(later.get("aws:CurrentTime"), Some(ContextValue::One(v)) if v == "2026-12-02T10:00:01Z")
        );
        let offset = t.to_offset(time::macros::offset!(+2));
        let shifted = Request::builder(r.caller.clone(), action)
            .current_time(offset)
            .build();
        assert!(
            matches!(shifted.get("aws:CurrentTime"), Some(ContextValue::One(v)) if v == "2026-12-02T12:00:00+02:00")
        );
    }
}
