//! One audit record, serialized member by member as it is built, so the
//! log's lock only covers splicing in the chain's members.
//!
//! The chain hashes a record as `serde_json` writes an object: members
//! sorted by name, compact. That is what the verifier gets by parsing a
//! line and writing it again, so a record must be written in exactly that
//! form: every member's value must itself be canonical (a
//! `serde_json::Value`, or a struct whose fields are declared in name
//! order, recursively). Debug builds check each member as it is added.

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;
use serde_json::Value;

use super::AuditError;

/// The members the log sets in every record, in name order: the node that
/// wrote it, the hash of the record before it, its number. (`hash` and
/// `mac` follow the hashed text.)
pub(super) const CHAIN_MEMBERS: [&str; 3] = ["keywardNode", "prevHash", "seq"];

/// An audit record's members (name and serialized value), without the
/// chain's.
#[derive(Default)]
pub struct Record {
    /// Each member's name and where its value's text is in `text`.
    members: Vec<(Cow<'static, str>, Range<usize>)>,
    text: Vec<u8>,
}

/// A record's members in name order, each as `,"name":value`, and where
/// the chain's members go: before `text[at[i]..]` for `CHAIN_MEMBERS[i]`.
pub(super) struct Members {
    pub(super) text: Vec<u8>,
    pub(super) at: [usize; 3],
}

impl Record {
    pub fn new() -> Record {
        Record {
            members: Vec::with_capacity(16),
            text: Vec::with_capacity(1024),
        }
    }

    /// Sets member `name` to `value`, which must serialize canonically (see
    /// the module's documentation). A later value for a name replaces the
    /// earlier one; the chain's own members are ignored.
    pub fn member(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: &impl Serialize,
    ) -> Result<(), AuditError> {
        let name = name.into();
        if CHAIN_MEMBERS.contains(&name.as_ref()) || name == "hash" || name == "mac" {
            return Ok(());
        }
        let start = self.text.len();
        serde_json::to_writer(&mut self.text, value)
            .map_err(|e| AuditError::Io(format!("audit record member `{name}`: {e}")))?;
        let range = start..self.text.len();
        #[cfg(debug_assertions)]
        check_canonical(&name, &self.text[range.clone()]);
        match self.members.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = range,
            None => self.members.push((name, range)),
        }
        Ok(())
    }

    /// The members in name order, with the places of the chain's.
    pub(super) fn in_order(mut self) -> Result<Members, AuditError> {
        self.members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut text = Vec::with_capacity(self.text.len() + 32 * self.members.len());
        let mut at = [0; 3];
        let mut chain = 0;
        for (name, range) in &self.members {
            while chain < CHAIN_MEMBERS.len() && CHAIN_MEMBERS[chain] < name.as_ref() {
                at[chain] = text.len();
                chain += 1;
            }
            text.push(b',');
            serde_json::to_writer(&mut text, name.as_ref())
                .map_err(|e| AuditError::Io(format!("audit record member `{name}`: {e}")))?;
            text.push(b':');
            text.extend_from_slice(&self.text[range.clone()]);
        }
        for a in &mut at[chain..] {
            *a = text.len();
        }
        Ok(Members { text, at })
    }
}

/// A JSON object as a record (any other value is refused).
impl TryFrom<Value> for Record {
    type Error = AuditError;

    fn try_from(record: Value) -> Result<Record, AuditError> {
        let Value::Object(members) = record else {
            return Err(AuditError::Io(
                "an audit record must be a JSON object".into(),
            ));
        };
        let mut r = Record::new();
        for (name, value) in &members {
            r.member(name.clone(), value)?;
        }
        Ok(r)
    }
}

/// A member's text is what the verifier will write for it.
#[cfg(debug_assertions)]
fn check_canonical(name: &str, text: &[u8]) {
    let again = serde_json::from_slice::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(
        again.as_bytes() == text,
        "audit record member `{name}` is not canonical JSON: {}",
        String::from_utf8_lossy(text)
    );
}
