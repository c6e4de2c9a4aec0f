//! The chain that links audit records, and the checks that read it.
//!
//! Each record carries its number (`seq`), the hash of the record before it
//! (`prevHash`), its own hash (`hash`: SHA-256 of `prevHash`, a newline and
//! the record without `hash` and `mac`) and a MAC of that hash under the
//! audit key (`mac`: HMAC-SHA256). The hashes let anyone check that no
//! record was changed, removed, inserted or reordered before a known head;
//! the MACs mean that only a holder of the audit key (sealed under the root
//! key) can write records that check out, so a rewritten and re-hashed log
//! does not verify. Records written before keyward keyed its chain have a
//! hash but no `seq` or `mac`; they may only come first.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::Secret;

use super::record::{CHAIN_MEMBERS, Members};

use super::AuditError;

type HmacSha256 = Hmac<Sha256>;

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const RECORD_DOMAIN: &[u8] = b"keyward audit record v1\0";
const ANCHOR_DOMAIN: &[u8] = b"keyward audit anchor v1\0";

/// The key that MACs the chain: 32 bytes, sealed under the root key at
/// rest. No `Debug`; wiped on drop.
pub struct ChainKey(Secret);

impl ChainKey {
    pub const LEN: usize = 32;

    pub fn new(secret: Secret) -> Result<ChainKey, AuditError> {
        if secret.len() != Self::LEN {
            return Err(AuditError::Key(format!(
                "the audit key is {} bytes, not {}",
                secret.len(),
                Self::LEN
            )));
        }
        Ok(ChainKey(secret))
    }

    pub fn generate() -> ChainKey {
        ChainKey(Secret::random(Self::LEN))
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }

    fn hmac(&self, domain: &[u8], parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.0.expose())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(domain);
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac
    }

    fn record_mac(&self, hash: &str) -> String {
        hex::encode(
            self.hmac(RECORD_DOMAIN, &[hash.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `mac` is this key's MAC of `hash` (constant-time).
    fn record_mac_matches(&self, hash: &str, mac: &str) -> bool {
        let Ok(mac) = hex::decode(mac) else {
            return false;
        };
        self.hmac(RECORD_DOMAIN, &[hash.as_bytes()])
            .verify_slice(&mac)
            .is_ok()
    }

    /// The anchor of `head`: what the store keeps to prove the log reached it.
    pub fn anchor(&self, head: Head) -> Anchor {
        let mac = hex::encode(
            self.hmac(
                ANCHOR_DOMAIN,
                &[&head.seq.to_be_bytes(), head.hash.as_bytes()],
            )
            .finalize()
            .into_bytes(),
        );
        Anchor { head, mac }
    }

    fn anchor_matches(&self, a: &Anchor) -> bool {
        let Ok(mac) = hex::decode(&a.mac) else {
            return false;
        };
        self.hmac(
            ANCHOR_DOMAIN,
            &[&a.head.seq.to_be_bytes(), a.head.hash.as_bytes()],
        )
        .verify_slice(&mac)
        .is_ok()
    }
}

/// A position in the log: the number of records up to and including one
/// record, and that record's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// A head the store holds, MACed so that it cannot be forged without the
/// audit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub head: Head,
    pub mac: String,
}

fn sha256_hex(prev: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

fn member(out: &mut Vec<u8>, name: &str, value: &impl serde::Serialize) -> Result<(), AuditError> {
    out.push(b',');
    serde_json::to_writer(&mut *out, name)
        .and_then(|()| {
            out.push(b':');
            serde_json::to_writer(&mut *out, value)
        })
        .map_err(|e| AuditError::Io(format!("an audit record: {e}")))
}

/// Links `record` after `prev`, written by `node`: the new head, and the
/// line to append (the record with `seq`, `prevHash`, `hash` and `mac`,
/// ending in a newline).
pub(super) fn seal_record(
    key: &ChainKey,
    prev: &Head,
    node: Option<&str>,
    record: &Members,
) -> Result<(Head, Vec<u8>), AuditError> {
    let seq = prev.seq + 1;
    let (text, [a, b, c]) = (&record.text, record.at);
    let mut body = Vec::with_capacity(text.len() + 384);
    body.extend_from_slice(&text[..a]);
    if let Some(node) = node {
        member(&mut body, CHAIN_MEMBERS[0], &node)?;
    }
    body.extend_from_slice(&text[a..b]);
    member(&mut body, CHAIN_MEMBERS[1], &prev.hash)?;
    body.extend_from_slice(&text[b..c]);
    member(&mut body, CHAIN_MEMBERS[2], &seq)?;
    body.extend_from_slice(&text[c..]);
    // Every member starts with a comma; the first one's is the brace.
    body[0] = b'{';
    body.push(b'}');
    let hash = sha256_hex(&prev.hash, &body);
    let mac = key.record_mac(&hash);
    body.pop();
    member(&mut body, "hash", &hash)?;
    member(&mut body, "mac", &mac)?;
    body.extend_from_slice(b"}\n");
    Ok((Head { seq, hash }, body))
}

/// Reads a log record by record, checking each against the one before it.
pub(super) struct Scan<'k> {
    key: Option<&'k ChainKey>,
    head: Head,
    /// Records before the first keyed one.
    pub(super) unkeyed: u64,
    keyed: bool,
    /// Hashes to remember, by record number (the anchor's, the digest's).
    watch: Vec<u64>,
    pub(super) seen: Vec<Head>,
}

impl<'k> Scan<'k> {
    pub(super) fn new(key: Option<&'k ChainKey>, watch: Vec<u64>) -> Scan<'k> {
        Scan {
            key,
            head: Head::genesis(),
            unkeyed: 0,
            keyed: false,
            watch,
            seen: Vec::new(),
        }
    }

    pub(super) fn head(&self) -> &Head {
        &self.head
    }

    /// Checks the next complete line of the log.
    pub(super) fn next(&mut self, line: &str) -> Result<(), AuditError> {
        let seq = self.head.seq + 1;
        let broken = |reason: &str| AuditError::Broken {
            line: seq,
            reason: reason.to_owned(),
        };
        let mut record: Value =
            serde_json::from_str(line).map_err(|_| AuditError::Malformed { line: seq })?;
        let Some(o) = record.as_object_mut() else {
            return Err(AuditError::Malformed { line: seq });
        };
        let text = |o: &mut serde_json::Map<String, Value>, k: &str| match o.remove(k) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let hash = text(o, "hash").unwrap_or_default();
        let mac = text(o, "mac");
        if o.get("prevHash").and_then(Value::as_str) != Some(self.head.hash.as_str()) {
            return Err(broken(
                "it does not link to the record before it (a record was removed, inserted or reordered)",
            ));
        }
        match (&mac, o.get("seq").and_then(Value::as_u64)) {
            (Some(_), Some(n)) if n == seq => {}
            (Some(_), _) => return Err(broken(&format!("its number is not {seq}"))),
            (None, _) if self.keyed => {
                return Err(broken(
                    "it has no MAC but records before it do (it was written without the audit key)",
                ));
            }
            (None, _) => {}
        }
        if sha256_hex(&self.head.hash, record.to_string().as_bytes()) != hash {
            return Err(broken(
                "its content does not match its hash (the record was changed)",
            ));
        }
        match (mac, self.key) {
            (Some(mac), Some(key)) if !key.record_mac_matches(&hash, &mac) => {
                return Err(broken(
                    "its MAC does not match (it was rewritten by someone without the audit key, or belongs to another data directory)",
                ));
            }
            (Some(_), _) => self.keyed = true,
            (None, _) => self.unkeyed += 1,
        }
        self.head = Head { seq, hash };
        if self.watch.contains(&seq) {
            self.seen.push(self.head.clone());
        }
        Ok(())
    }

    /// Checks that the log reaches the anchored head, and the anchor is the
    /// audit key's.
    pub(super) fn check_anchor(&self, anchor: &Anchor) -> Result<(), AuditError> {
        if let Some(key) = self.key
            && !key.anchor_matches(anchor)
        {
            return Err(AuditError::Anchor(
                "the store's audit anchor does not carry the audit key's MAC (the store was edited, or belongs to another data directory)".into(),
            ));
        }
        self.check_reaches(&anchor.head, "the store anchored")
    }

    /// Checks that the log holds `head`: at least that many records, and
    /// that record with that hash.
    pub(super) fn check_reaches(&self, head: &Head, who: &str) -> Result<(), AuditError> {
        if head.seq == 0 {
            return Ok(());
        }
        if self.head.seq < head.seq {
            return Err(AuditError::Truncated {
                records: self.head.seq,
                expected: head.seq,
                who: who.to_owned(),
            });
        }
        match self.seen.iter().find(|h| h.seq == head.seq) {
            Some(h) if h.hash == head.hash => Ok(()),
            _ => Err(AuditError::Broken {
                line: head.seq,
                reason: format!("it is not the record {who} (the log was rewritten or replaced)"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use serde_json::json;

    use super::super::Record;
    use super::*;

    /// Records whose members sort before, between and after the chain's
    /// members (and collide with them), with and without a node, verify:
    /// the line written once with the chain spliced in hashes as the
    /// verifier's canonical form of it.
    #[test]
    fn spliced_records_verify() {
        let key = ChainKey::generate();
        let records = [
            json!({}),
            json!({"a": 1, "keyward": {"z": [1, 2], "a": null}, "keywardNodeX": "x",
                   "message": "é\"\n", "prevHash0": true, "r": [], "seq": 99,
                   "sez": {"b": 1.5, "a": "\u{1F600}"}, "é": "last", "hash": "x", "mac": "y"}),
            json!({"zzz": "only after"}),
            json!({"keywardNode": "forged", "prevHash": "forged"}),
        ];
        for node in [None, Some("node-a")] {
            let mut head = Head::genesis();
            let mut scan = Scan::new(Some(&key), Vec::new());
            for r in &records {
                let members = Record::try_from(r.clone())
                    .and_then(Record::in_order)
                    .expect("object");
                let (next, line) = seal_record(&key, &head, node, &members).expect("sealed");
                let line = std::str::from_utf8(&line).expect("utf-8");
                assert!(line.ends_with("}\n"), "{line}");
                scan.next(line.trim_end()).expect("verifies");
                assert_eq!(scan.head(), &next);
                let v: Value = serde_json::from_str(line).expect("json");
                assert_eq!(v["keywardNode"].as_str(), node, "{line}");
                assert_eq!(v["prevHash"].as_str(), Some(head.hash.as_str()));
                assert_eq!(v["seq"], json!(next.seq));
                head = next;
            }
        }
        assert!(Record::try_from(json!([1])).is_err());
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(member_name(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Names near the chain's own (and equal to them), and any others.
    fn member_name() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::sample::select(vec![
                "keyward",
                "keywardNode",
                "keywardNod",
                "keywardNodf",
                "prevHash",
                "prevHasg",
                "prevHasi",
                "seq",
                "seo",
                "ser",
                "hash",
                "mac",
                "",
                "é",
            ])
            .prop_map(str::to_owned),
            "\\PC{0,10}",
        ]
    }

    proptest::proptest! {
        /// Any record, written once with the chain spliced in, verifies as
        /// the next record of the chain.
        #[test]
        fn any_record_verifies(
            records in proptest::collection::vec(
                proptest::collection::btree_map(member_name(), json_value(), 0..8), 1..4),
            node in proptest::option::of("[a-z0-9-]{1,12}"),
        ) {
            let key = ChainKey::generate();
            let mut head = Head::genesis();
            let mut scan = Scan::new(Some(&key), Vec::new());
            for r in records {
                let members = Record::try_from(Value::Object(r.into_iter().collect()))
                    .and_then(Record::in_order)
                    .expect("object");
                let (next, line) = seal_record(&key, &head, node.as_deref(), &members).expect("sealed");
                let line = std::str::from_utf8(&line).expect("utf-8");
                scan.next(line.trim_end()).expect("verifies");
                proptest::prop_assert_eq!(scan.head(), &next);
                head = next;
            }
        }
    }
}
