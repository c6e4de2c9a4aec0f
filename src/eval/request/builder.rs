//! How a [`Request`] is built: what the caller, the key service or a
//! person writing a request for `keyward explain` sets, borrowed where the
//! caller already holds it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Request;
use crate::catalog::ContextKey;
use crate::eval::value::{ContextValue, Text};
use crate::policy::ast::AccountId;

/// Builds a [`Request`], deriving the global and KMS condition keys from the
/// caller, the key and the encryption context.
#[derive(Debug, Clone)]
pub struct RequestBuilder<'a>(pub(super) Request<'a>);

impl<'a> RequestBuilder<'a> {
    /// The key ARN the request is on.
    #[inline]
    pub fn resource(mut self, arn: impl Into<Text<'a>>) -> Self {
        self.0.0.resource = arn.into();
        self
    }

    /// The account that owns the key, from the key's record. Without it the
    /// account is read from the resource ARN (for requests a person writes,
    /// as in `keyward explain`); the key service always sets it.
    #[inline]
    pub fn key_account(mut self, account: &'a AccountId) -> Self {
        self.0.0.key_account = Some(Cow::Borrowed(account));
        self
    }

    pub fn encryption_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .0
            .encryption_context
            .to_mut()
            .insert(key.into(), value.into());
        self
    }

    /// The whole encryption context, borrowed; it replaces pairs given
    /// before.
    #[inline]
    pub fn encryption_context_map(mut self, context: &'a BTreeMap<String, String>) -> Self {
        self.0.0.encryption_context = Cow::Borrowed(context);
        self
    }

    /// The integrated service calling on the caller's behalf (`kms:ViaService`).
    #[inline]
    pub fn via_service(mut self, service: impl Into<Text<'a>>) -> Self {
        self.0.0.via_service = Some(service.into());
        self
    }

    pub fn principal_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .0
            .principal_tags
            .to_mut()
            .insert(key.into(), value.into());
        self
    }

    /// The caller's tags, borrowed; they replace tags given before.
    #[inline]
    pub fn principal_tags(mut self, tags: &'a BTreeMap<String, String>) -> Self {
        self.0.0.principal_tags = Cow::Borrowed(tags);
        self
    }

    /// Sets `aws:SourceIp`.
    #[inline]
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.0.0.source_ip = Some(ip);
        self
    }

    /// Sets `aws:SecureTransport`.
    #[inline]
    pub fn secure_transport(mut self, tls: bool) -> Self {
        self.0.0.secure_transport = Some(tls);
        self
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime`.
    #[inline]
    pub fn current_time(mut self, t: time::OffsetDateTime) -> Self {
        self.0.0.current_time = Some(t);
        self
    }

    /// Sets any single-valued condition key; it overrides a derived value.
    #[inline]
    pub fn context(self, key: &str, value: impl Into<Text<'a>>) -> Self {
        self.context_value(key, ContextValue::One(value.into()))
    }

    /// Sets a multi-valued condition key.
    pub fn context_values(self, key: &str, values: Vec<String>) -> Self {
        self.context_value(key, ContextValue::many(values))
    }

    /// Sets any condition key; it overrides a derived value, and a later
    /// value of the same key replaces an earlier one.
    pub fn context_value(self, key: &str, value: ContextValue<'a>) -> Self {
        self.context_key(&ContextKey::new(key), value)
    }

    /// [`RequestBuilder::context_value`] for a key resolved beforehand, as
    /// the key service resolves the keys it sets on every request once.
    #[inline]
    pub fn context_key(mut self, key: &ContextKey, value: impl Into<ContextValue<'a>>) -> Self {
        self.0.0.set(key, value.into());
        self
    }

    pub fn build(self) -> Request<'a> {
        let mut req = self.0;
        let parts = &mut *req.0;
        if parts.key_account.is_none() {
            parts.key_account = key_account(&parts.resource)
                .map(Cow::Owned)
                .or_else(|| parts.caller.account.as_ref().map(Cow::Borrowed));
        }
        req
    }
}

/// The account segment of a KMS key or alias ARN.
fn key_account(arn: &str) -> Option<AccountId> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("kms"), Some(_), Some(account), Some(_)) => {
            AccountId::parse(account)
        }
        _ => None,
    }
}
