//! A request to decide: who calls, which action, on which key, with which
//! condition context. A request borrows the caller, the key's properties
//! and the call's input, and derives the global and KMS condition keys
//! from them only when a policy asks for one: building a request for a
//! common call copies no strings.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{LazyLock, OnceLock};

mod builder;

pub use builder::RequestBuilder;

use super::caller::{Caller, CallerKind};
use super::value::{ContextValue, Text, Values};
use crate::catalog::{Action, CONDITION_KEYS, ConditionKeyInfo, ContextKey, condition_key};
use crate::policy::ast::AccountId;

/// A request, with every condition key it carries. Its parts are boxed: a
/// builder passes it by value from call to call, and moving a pointer is
/// cheaper than moving the parts.
#[derive(Debug, Clone)]
pub struct Request<'a>(Box<RequestParts<'a>>);

impl<'a> std::ops::Deref for Request<'a> {
    type Target = RequestParts<'a>;
    fn deref(&self) -> &RequestParts<'a> {
        &self.0
    }
}

/// What a [`Request`] holds.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    pub caller: &'a Caller,
    pub action: Action,
    /// The key ARN, or `*` for actions without a key resource.
    pub resource: Text<'a>,
    /// The account that owns the key.
    pub key_account: Option<Cow<'a, AccountId>>,
    pub encryption_context: Cow<'a, BTreeMap<String, String>>,
    principal_tags: Cow<'a, BTreeMap<String, String>>,
    via_service: Option<Text<'a>>,
    source_ip: Option<IpAddr>,
    secure_transport: Option<bool>,
    current_time: Option<time::OffsetDateTime>,
    /// The address and the time as text, formatted when a policy first
    /// asks for them.
    formatted: OnceLock<Formatted>,
    /// Known keys set explicitly, by [`ContextKey::Known`] index, one entry
    /// per key. They override the keys derived from the request.
    known: Vec<(usize, ContextValue<'a>)>,
    /// Which indexes below 128 `known` holds, so that a derived key is
    /// found without a search.
    known_bits: u128,
    /// Other keys set explicitly: members of families such as
    /// `kms:EncryptionContext:*`, and keys outside the catalog. One entry
    /// per key.
    named: Vec<Named<'a>>,
}

/// `aws:SourceIp`, `aws:CurrentTime` and `aws:EpochTime` as text.
#[derive(Debug, Clone)]
struct Formatted {
    source_ip: String,
    current_time: String,
    epoch_time: String,
}

/// A key outside the catalog's fixed names, with its value.
#[derive(Debug, Clone)]
struct Named<'a> {
    /// The family the key belongs to; none for a key outside the catalog.
    family: Option<&'static ConditionKeyInfo>,
    /// After the family's prefix, the rest of the name, lowercased;
    /// without a family, the whole name, lowercased.
    rest: String,
    value: ContextValue<'a>,
}

impl Named<'_> {
    /// Whether this is the key `name` (lowercased, as [`ContextKey`] holds it).
    fn is(&self, name: &str) -> bool {
        match self.family {
            Some(f) => family_member(name, f) == Some(self.rest.as_str()),
            None => name == self.rest,
        }
    }

    /// The key's name in the catalog's spelling, with the rest lowercased.
    fn spelled(&self) -> String {
        match self.family {
            Some(f) => format!("{}{}", f.name, self.rest),
            None => self.rest.clone(),
        }
    }
}

/// For a (lowercased) name in `family`, the rest of the name after the
/// family's prefix.
fn family_member<'n>(name: &'n str, family: &ConditionKeyInfo) -> Option<&'n str> {
    let n = family.name.len();
    name.get(..n)
        .filter(|p| p.eq_ignore_ascii_case(family.name))
        .and_then(|_| name.get(n..))
}

/// A lowercased name outside the catalog's fixed names, split at its
/// family's prefix.
fn split_named(name: String) -> (Option<&'static ConditionKeyInfo>, String) {
    match condition_key(&name).filter(|k| k.family) {
        Some(f) => (Some(f), name.get(f.name.len()..).unwrap_or("").to_owned()),
        None => (None, name),
    }
}

/// How a known key is derived from the request.
#[derive(Debug, Clone, Copy)]
enum Derivation {
    PrincipalArn,
    PrincipalType,
    PrincipalAccount,
    PrincipalIsService,
    PrincipalServiceName,
    PrincipalServiceNames,
    Username,
    CallerAccount,
    ViaService,
    ContextKeys,
    SourceIp,
    SecureTransport,
    CurrentTime,
    EpochTime,
}

/// The keys the request derives, resolved once.
struct Derived {
    /// By [`ContextKey::Known`] index.
    known: Vec<Option<Derivation>>,
    context_keys: ContextKey,
    principal_tag: Option<&'static ConditionKeyInfo>,
    encryption_context: Option<&'static ConditionKeyInfo>,
}

static DERIVED: LazyLock<Derived> = LazyLock::new(|| {
    use Derivation::*;
    let mut known = vec![None; CONDITION_KEYS.len()];
    for (name, how) in [
        ("aws:PrincipalArn", PrincipalArn),
        ("aws:PrincipalType", PrincipalType),
        ("aws:PrincipalAccount", PrincipalAccount),
        ("aws:PrincipalIsAWSService", PrincipalIsService),
        ("aws:PrincipalServiceName", PrincipalServiceName),
        ("aws:PrincipalServiceNamesList", PrincipalServiceNames),
        ("aws:username", Username),
        ("kms:CallerAccount", CallerAccount),
        ("kms:ViaService", ViaService),
        ("kms:EncryptionContextKeys", ContextKeys),
        ("aws:SourceIp", SourceIp),
        ("aws:SecureTransport", SecureTransport),
        ("aws:CurrentTime", CurrentTime),
        ("aws:EpochTime", EpochTime),
    ] {
        if let ContextKey::Known(i) = ContextKey::new(name)
            && let Some(slot) = known.get_mut(i)
        {
            *slot = Some(how);
        }
    }
    Derived {
        known,
        context_keys: ContextKey::new("kms:EncryptionContextKeys"),
        principal_tag: condition_key("aws:PrincipalTag/-"),
        encryption_context: condition_key("kms:EncryptionContext:-"),
    }
});

impl<'a> Request<'a> {
    pub fn builder(caller: &'a Caller, action: Action) -> RequestBuilder<'a> {
        RequestBuilder(Request(Box::new(RequestParts {
            caller,
            action,
            resource: Text::Borrowed("*"),
            key_account: None,
            encryption_context: Cow::Owned(BTreeMap::new()),
            principal_tags: Cow::Owned(BTreeMap::new()),
            via_service: None,
            source_ip: None,
            secure_transport: None,
            current_time: None,
            formatted: OnceLock::new(),
            known: Vec::with_capacity(12),
            known_bits: 0,
            named: Vec::new(),
        })))
    }
}

impl<'a> RequestParts<'a> {
    /// The value of a condition key, by name (case-insensitive).
    pub fn get(&self, key: &str) -> Option<ContextValue<'_>> {
        self.get_key(&ContextKey::new(key)).map(|v| v.to_value())
    }

    /// The value of a resolved condition key: set explicitly, or derived
    /// from the caller, the action, the encryption context and the
    /// principal's tags.
    pub fn get_key(&self, key: &ContextKey) -> Option<Values<'_>> {
        match key {
            ContextKey::Known(i) if *i < 128 && self.known_bits & (1 << i) == 0 => self.derived(*i),
            ContextKey::Known(i) => match self.known.iter().find(|(k, _)| k == i) {
                Some((_, v)) => Some(v.values()),
                None => self.derived(*i),
            },
            ContextKey::Named(name) => match self.named.iter().find(|n| n.is(name)) {
                Some(n) => Some(n.value.values()),
                None => self.derived_member(name),
            },
        }
    }

    /// A known key derived from the request. The principal keys are the
    /// ones AWS documents for each kind of caller (IAM User Guide, global
    /// condition keys): an AWS service principal has
    /// aws:PrincipalServiceName and aws:PrincipalServiceNamesList ("present
    /// in the request when the call is made by an AWS service principal")
    /// and no ARN; aws:PrincipalIsAWSService is in every signed request.
    fn derived(&self, i: usize) -> Option<Values<'_>> {
        use Derivation::*;
        let caller = self.caller;
        let service = match &caller.kind {
            CallerKind::Service(name) => Some(name.as_str()),
            _ => None,
        };
        let account = caller.account.as_ref().map(|a| Values::One(&a.0));
        match DERIVED.known.get(i).copied().flatten()? {
            PrincipalArn => service
                .is_none()
                .then(|| Values::One(caller.principal_arn())),
            PrincipalType => service
                .is_none()
                .then(|| Values::One(caller.principal_type())),
            PrincipalIsService => Some(Values::One(if service.is_some() {
                "true"
            } else {
                "false"
            })),
            PrincipalServiceName => service.map(Values::One),
            PrincipalServiceNames => service.map(Values::List),
            PrincipalAccount => account,
            CallerAccount => account.filter(|_| self.action.populates_known(i)),
            Username => match &caller.kind {
                CallerKind::User { name } => Some(Values::One(name)),
                _ => None,
            },
            ViaService => self
                .via_service
                .as_ref()
                .filter(|_| self.action.populates_known(i))
                .map(|v| Values::One(v.as_str())),
            ContextKeys => self
                .has_context_keys()
                .then(|| Values::Keys(&self.encryption_context)),
            SourceIp => self
                .source_ip
                .map(|_| Values::One(&self.formatted().source_ip)),
            SecureTransport => self
                .secure_transport
                .map(|tls| Values::One(if tls { "true" } else { "false" })),
            CurrentTime => self
                .current_time
                .map(|_| Values::One(&self.formatted().current_time)),
            EpochTime => self
                .current_time
                .map(|_| Values::One(&self.formatted().epoch_time)),
        }
    }

    fn formatted(&self) -> &Formatted {
        self.formatted.get_or_init(|| {
            let time = self.current_time;
            Formatted {
                source_ip: self.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                current_time: time
                    .and_then(|t| t.replace_nanosecond(0).ok())
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default(),
                epoch_time: time
                    .map(|t| t.unix_timestamp().to_string())
                    .unwrap_or_default(),
            }
        })
    }

    /// Whether the request carries its encryption context as condition
    /// keys.
    fn has_context_keys(&self) -> bool {
        !self.encryption_context.is_empty() && self.action.populates_key(&DERIVED.context_keys)
    }

    /// A member of a family derived from the request:
    /// `kms:EncryptionContext:<key>` and `aws:PrincipalTag/<key>`. Keys
    /// compare without regard to ASCII case; of two that differ only in
    /// case, the later in order wins.
    fn derived_member(&self, name: &str) -> Option<Values<'_>> {
        fn lookup<'m>(map: &'m BTreeMap<String, String>, rest: &str) -> Option<&'m str> {
            map.iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(rest))
                .map(|(_, v)| v.as_str())
        }
        let d = &*DERIVED;
        if let Some(rest) = d.encryption_context.and_then(|f| family_member(name, f)) {
            if !self.has_context_keys() {
                return None;
            }
            return lookup(&self.encryption_context, rest).map(Values::One);
        }
        let rest = d.principal_tag.and_then(|f| family_member(name, f))?;
        lookup(&self.principal_tags, rest).map(Values::One)
    }

    /// Every condition key of the request with its value, named in the
    /// catalog's spelling (`kms:EncryptionContext:` + the context key,
    /// lowercased).
    pub fn context(&self) -> Vec<(String, ContextValue<'static>)> {
        let mut out: Vec<(String, ContextValue<'static>)> = Vec::new();
        for (i, k) in CONDITION_KEYS.iter().enumerate() {
            if let Some(v) = self.get_key(&ContextKey::Known(i)).filter(|_| !k.family) {
                out.push((k.name.to_owned(), v.to_owned()));
            }
        }
        let d = &*DERIVED;
        let mut members = Vec::new();
        if self.has_context_keys() {
            members.push((d.encryption_context, &*self.encryption_context));
        }
        members.push((d.principal_tag, &*self.principal_tags));
        for (family, map) in members {
            let Some(family) = family else { continue };
            let mut seen: BTreeMap<String, &str> = BTreeMap::new();
            for (k, v) in map {
                seen.insert(k.to_ascii_lowercase(), v);
            }
            for (rest, v) in seen {
                let named = self
                    .named
                    .iter()
                    .any(|n| n.family.map(|f| f.name) == Some(family.name) && n.rest == rest);
                if !named {
                    out.push((
                        format!("{}{rest}", family.name),
                        ContextValue::One(Text::Owned(v.to_owned())),
                    ));
                }
            }
        }
        for n in &self.named {
            out.push((n.spelled(), n.value.clone().into_owned()));
        }
        out
    }

    /// Whether caller and key are in the same account.
    pub fn same_account(&self) -> bool {
        match (&self.caller.account, &self.key_account) {
            (Some(c), Some(k)) => *c == **k,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Sets a key's value, replacing any earlier one.
    #[inline]
    fn set(&mut self, key: &ContextKey, value: ContextValue<'a>) {
        match key {
            ContextKey::Known(i) => self.set_known(*i, value),
            ContextKey::Named(name) => self.set_named(name, value),
        }
    }

    #[inline(always)]
    fn set_known(&mut self, i: usize, value: ContextValue<'a>) {
        if i < 128 && self.known_bits & (1 << i) == 0 {
            self.known_bits |= 1 << i;
            self.known.push((i, value));
            return;
        }
        match self.known.iter_mut().find(|(k, _)| *k == i) {
            Some(slot) => slot.1 = value,
            None => self.known.push((i, value)),
        }
    }

    #[inline(never)]
    fn set_named(&mut self, name: &str, value: ContextValue<'a>) {
        let (family, rest) = split_named(name.to_owned());
        let same = |n: &&mut Named<'a>| {
            n.family.map(|f| f.name) == family.map(|f| f.name) && n.rest == rest
        };
        match self.named.iter_mut().find(same) {
            Some(n) => n.value = value,
            None => self.named.push(Named {
                family,
                rest,
                value,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_keys_override_derived_ones_and_the_last_one_wins() {
        let Ok(caller) = Caller::parse("arn:aws:iam::111122223333:user/bob") else {
            return;
        };
        let Some(action) = Action::from_operation("Decrypt") else {
            return;
        };
        let t = time::macros::datetime!(2026-12-02 10:00:00 UTC);
        let r = Request::builder(&caller, action)
            .encryption_context("Tenant", "a")
            .context("kms:EncryptionContext:Tenant", "b")
            .context("aws:SecureTransport", "true")
            .context("AWS:SECURETRANSPORT", "false")
            .current_time(t)
            .build();
        let one = |k: &str| match r.get(k) {
            Some(ContextValue::One(v)) => v.to_string(),
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
        // Each request formats its own time, in its own offset.
        let later = Request::builder(r.caller, action)
            .current_time(t + time::Duration::seconds(1))
            .build();
        assert!(
            matches!(later.get("aws:CurrentTime"), Some(ContextValue::One(v)) if v == "2026-12-02T10:00:01Z")
        );
        let offset = t.to_offset(time::macros::offset!(+2));
        let shifted = Request::builder(r.caller, action)
            .current_time(offset)
            .build();
        assert!(
            matches!(shifted.get("aws:CurrentTime"), Some(ContextValue::One(v)) if v == "2026-12-02T12:00:00+02:00")
        );
    }

    #[test]
    fn derived_keys_are_read_from_what_the_request_borrows() {
        let Ok(caller) = Caller::parse("arn:aws:iam::111122223333:user/bob") else {
            return;
        };
        let (Some(decrypt), Some(create)) = (
            Action::from_operation("Decrypt"),
            Action::from_operation("CreateKey"),
        ) else {
            return;
        };
        let context: BTreeMap<String, String> = [
            ("Tenant".to_owned(), "upper".to_owned()),
            ("tenant".to_owned(), "lower".to_owned()),
            ("Dept".to_owned(), "ops".to_owned()),
        ]
        .into();
        let tags: BTreeMap<String, String> = [("Team".to_owned(), "red".to_owned())].into();
        let ip: IpAddr = [10, 0, 0, 7].into();
        let borrowed = Request::builder(&caller, decrypt)
            .encryption_context_map(&context)
            .principal_tags(&tags)
            .source_ip(ip)
            .secure_transport(true)
            .via_service("ec2.us-east-1.amazonaws.com")
            .build();
        let mut owned = Request::builder(&caller, decrypt)
            .source_ip(ip)
            .secure_transport(true)
            .via_service("ec2.us-east-1.amazonaws.com".to_owned());
        for (k, v) in &context {
            owned = owned.encryption_context(k.clone(), v.clone());
        }
        for (k, v) in &tags {
            owned = owned.principal_tag(k.clone(), v.clone());
        }
        let owned = owned.build();
        // A borrowed map and pairs given one by one make the same request.
        assert_eq!(borrowed.context(), owned.context());
        let one = |r: &Request, k: &str| match r.get(k) {
            Some(ContextValue::One(v)) => v.to_string(),
            Some(ContextValue::Many(v)) => format!("{v:?}"),
            None => "-".to_owned(),
        };
        // Context keys compare without regard to case; of two that differ
        // only in case, the later in order wins.
        assert_eq!(one(&borrowed, "kms:EncryptionContext:TENANT"), "lower");
        assert_eq!(one(&borrowed, "kms:encryptioncontext:dept"), "ops");
        assert_eq!(
            one(&borrowed, "kms:EncryptionContextKeys"),
            r#"["Dept", "Tenant", "tenant"]"#
        );
        assert_eq!(one(&borrowed, "aws:PrincipalTag/team"), "red");
        assert_eq!(one(&borrowed, "aws:SourceIp"), "10.0.0.7");
        assert_eq!(one(&borrowed, "aws:SecureTransport"), "true");
        assert_eq!(
            one(&borrowed, "kms:ViaService"),
            "ec2.us-east-1.amazonaws.com"
        );
        assert_eq!(one(&borrowed, "aws:CurrentTime"), "-");
        // An action without the context keys carries none of them; a key
        // set explicitly overrides a derived one.
        let none = Request::builder(&caller, create)
            .encryption_context_map(&context)
            .context("aws:PrincipalTag/Team", "blue")
            .principal_tags(&tags)
            .build();
        assert_eq!(one(&none, "kms:EncryptionContext:dept"), "-");
        assert_eq!(one(&none, "kms:EncryptionContextKeys"), "-");
        assert_eq!(one(&none, "aws:PrincipalTag/team"), "blue");
        let listed: Vec<String> = none.context().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            listed
                .iter()
                .filter(|k| k.starts_with("aws:PrincipalTag/"))
                .count(),
            1,
            "{listed:?}"
        );
    }
}
