//! The audit chain against the attacks the security review ran: a record
//! changed, removed or inserted; the log re-hashed without the key; its end
//! cut off; a forged anchor; and a copy checked offline with a signed
//! digest. Only a torn final line is ever cut on open.

use keyward::audit::{
    Anchor, AuditError, AuditLog, ChainKey, Checks, Head, Record, SignedDigest, Signer, verify,
};
use keyward::crypto::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A test record from a JSON object.
fn record(v: Value) -> Record {
    Record::try_from(v).expect("an object")
}

struct Log {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    key: Vec<u8>,
    anchor: Anchor,
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Log {
    fn key(&self) -> ChainKey {
        ChainKey::new(Secret::new(self.key.clone())).expect("key")
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).expect("read")
    }

    fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    fn write_lines(&self, lines: &[String]) {
        std::fs::write(&self.path, lines.join("\n") + "\n").expect("write");
    }

    fn open(&self) -> Result<AuditLog, AuditError> {
        AuditLog::open(&self.path, self.key(), Some(&self.anchor))
    }

    fn verify(&self) -> Result<keyward::audit::Report, AuditError> {
        let key = self.key();
        verify(
            &self.path,
            &Checks {
                key: Some(&key),
                anchor: Some(&self.anchor),
                digest: None,
            },
        )
    }
}

/// A log of `records` records, all anchored (as after a clean shutdown).
fn log_with(records: usize, name: &str) -> Log {
    let dir = std::env::temp_dir().join(format!("keyward-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("audit.jsonl");
    let key = ChainKey::generate();
    let bytes = key.secret().expose().to_vec();
    let log = AuditLog::open(&path, key, None).expect("open");
    for i in 0..records {
        log.append(record(json!({"eventName": "Encrypt", "n": i})))
            .expect("append");
    }
    let anchor = log.sync().expect("sync");
    Log {
        dir,
        path,
        key: bytes,
        anchor,
    }
}

/// Links `v` (without `hash`/`mac`) after `prev` as the SHA-256 chain
/// does: sets `prevHash` and `hash`, and moves `prev` on.
fn link(prev: &mut String, v: &mut Value) {
    v.as_object_mut()
        .expect("object")
        .insert("prevHash".into(), json!(prev));
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(v.to_string().as_bytes());
    *prev = hex::encode(h.finalize());
    v.as_object_mut()
        .expect("object")
        .insert("hash".into(), json!(prev));
}

/// Re-links `lines` as a forger without the key would: recomputes every
/// SHA-256 hash and link, keeping the old MACs.
fn rehash(lines: &[String]) -> Vec<String> {
    let mut prev = keyward::audit::GENESIS.to_owned();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut v: Value = serde_json::from_str(l).expect("json");
            let o = v.as_object_mut().expect("object");
            let mac = o.remove("mac");
            o.remove("hash");
            o.insert("seq".into(), json!(i + 1));
            link(&mut prev, &mut v);
            if let Some(m) = mac {
                v.as_object_mut().expect("object").insert("mac".into(), m);
            }
            v.to_string()
        })
        .collect()
}

fn broken_at<T>(r: Result<T, AuditError>) -> (u64, String) {
    match r {
        Err(AuditError::Broken { line, reason }) => (line, reason),
        Err(other) => panic!("expected a broken chain, got {other:?}"),
        Ok(_) => panic!("expected a broken chain, got an intact one"),
    }
}

#[test]
fn an_intact_log_verifies_and_reaches_its_anchor() {
    let log = log_with(5, "intact");
    let r = log.verify().expect("intact");
    assert_eq!((r.records, r.anchored, r.unkeyed), (5, Some(5), 0));
    assert!(r.keyed);
}

#[test]
fn a_damaged_middle_record_refuses_to_open_and_loses_nothing() {
    let log = log_with(10, "middle");
    let mut lines = log.lines();
    lines[3] = "{ this is not json".into();
    log.write_lines(&lines);
    let damaged = log.text();
    let e = log
        .open()
        .err()
        .expect("a damaged log must not be continued");
    assert_eq!(e.to_string(), "audit record 4 is not valid JSON");
    assert_eq!(
        log.text(),
        damaged,
        "the six records after it are still there"
    );
}

#[test]
fn a_removed_or_inserted_record_is_named() {
    let log = log_with(10, "removed");
    let original = log.lines();
    let mut lines = original.clone();
    lines.remove(5);
    log.write_lines(&lines);
    let (line, reason) = broken_at(log.open());
    assert_eq!(line, 6);
    assert!(reason.contains("does not link"), "{reason}");
    assert_eq!(broken_at(log.verify()).0, 6);
    // A record copied in twice.
    let mut lines = original;
    lines.insert(3, lines[2].clone());
    log.write_lines(&lines);
    assert_eq!(broken_at(log.verify()).0, 4);
}

#[test]
fn a_record_rewritten_and_the_chain_rehashed_fails_its_mac() {
    let log = log_with(6, "rehash");
    let mut lines = log.lines();
    lines[2] = lines[2].replace("\"Encrypt\"", "\"Decrypt\"");
    // Without re-hashing, the changed content does not match its hash.
    log.write_lines(&lines);
    let (line, reason) = broken_at(log.verify());
    assert_eq!(line, 3);
    assert!(reason.contains("does not match its hash"), "{reason}");
    // Re-hashed as a forger without the key would: the hashes and links
    // check out, the MAC of the changed record does not.
    log.write_lines(&rehash(&lines));
    let (line, reason) = broken_at(log.verify());
    assert_eq!(line, 3);
    assert!(reason.contains("MAC does not match"), "{reason}");
    assert_eq!(
        broken_at(log.open()).0,
        3,
        "and serve refuses to continue it"
    );
}

#[test]
fn a_log_rechained_under_another_key_fails_from_its_first_record() {
    let log = log_with(4, "rechain");
    let other = ChainKey::generate();
    let forged = std::env::temp_dir().join(format!("keyward-audit-forged-{}", std::process::id()));
    let _ = std::fs::remove_file(&forged);
    let w = AuditLog::open(&forged, other, None).expect("open");
    for i in 0..4 {
        w.append(record(json!({"eventName": "Encrypt", "n": i})))
            .expect("append");
    }
    drop(w);
    std::fs::copy(&forged, &log.path).expect("copy");
    let _ = std::fs::remove_file(&forged);
    let (line, reason) = broken_at(log.verify());
    assert_eq!(line, 1);
    assert!(reason.contains("MAC does not match"), "{reason}");
}

#[test]
fn records_cut_from_the_end_are_detected_by_the_anchor() {
    let log = log_with(8, "cut");
    let lines = log.lines();
    log.write_lines(&lines[..5]);
    let message = log
        .open()
        .err()
        .expect("a cut log must not open")
        .to_string();
    assert_eq!(
        message,
        "audit log cut: it ends at record 5, but the store anchored record 8: records were removed from its end"
    );
    assert!(matches!(
        log.verify(),
        Err(AuditError::Truncated {
            records: 5,
            expected: 8,
            ..
        })
    ));
    // An emptied or deleted log too.
    std::fs::write(&log.path, "").expect("empty");
    assert!(matches!(
        log.open(),
        Err(AuditError::Truncated { records: 0, .. })
    ));
    std::fs::remove_file(&log.path).expect("remove");
    assert!(matches!(
        log.open(),
        Err(AuditError::Truncated { records: 0, .. })
    ));
}

#[test]
fn a_forged_anchor_is_refused() {
    let mut log = log_with(3, "anchor");
    log.anchor = Anchor {
        head: Head {
            seq: 2,
            hash: log.anchor.head.hash.clone(),
        },
        mac: log.anchor.mac.clone(),
    };
    assert!(matches!(log.verify(), Err(AuditError::Anchor(_))));
}

#[test]
fn a_torn_last_line_is_cut_and_the_chain_continues() {
    let log = log_with(5, "torn");
    let mut text = log.text();
    text.push_str(r#"{"eventName": "Enc"#);
    std::fs::write(&log.path, &text).expect("write");
    let report = log
        .verify()
        .expect("a torn last line is not a broken record");
    assert_eq!((report.records, report.unterminated), (5, 18));
    let w = log.open().expect("a torn last line is cut");
    w.append(record(json!({"eventName": "Decrypt"})))
        .expect("append");
    w.sync().expect("sync");
    assert_eq!(log.verify().expect("intact").records, 6);
}

#[test]
fn records_from_before_the_keyed_chain_continue_and_stay_covered() {
    // A log written by an older keyward: SHA-256 links, no seq, no MAC.
    let log = log_with(0, "legacy");
    let mut prev = keyward::audit::GENESIS.to_owned();
    let legacy: Vec<String> = [
        json!({"eventName": "CreateKey"}),
        json!({"eventName": "Encrypt"}),
    ]
    .into_iter()
    .map(|mut v| {
        link(&mut prev, &mut v);
        v.to_string()
    })
    .collect();
    log.write_lines(&legacy);
    let w = AuditLog::open(&log.path, log.key(), None).expect("an old log continues");
    w.append(record(json!({"eventName": "Decrypt"})))
        .expect("append");
    let anchor = w.sync().expect("sync");
    drop(w);
    let key = log.key();
    let checks = Checks {
        key: Some(&key),
        anchor: Some(&anchor),
        digest: None,
    };
    let r = verify(&log.path, &checks).expect("intact");
    assert_eq!((r.records, r.unkeyed), (3, 2));
    // Rewriting an old record breaks the link the keyed record MACs.
    let mut lines = log.lines();
    lines[0] = lines[0].replace("CreateKey", "DeleteKey");
    log.write_lines(
        &rehash(&lines[..2])
            .into_iter()
            .chain([lines[2].clone()])
            .collect::<Vec<_>>(),
    );
    assert!(verify(&log.path, &checks).is_err());
    // And a keyed record stripped of its MAC is refused.
    let mut lines = log.lines();
    let mut v: Value = serde_json::from_str(&lines[2]).expect("json");
    v.as_object_mut().expect("object").remove("mac");
    lines[2] = v.to_string();
    log.write_lines(&lines);
    assert!(verify(&log.path, &checks).is_err());
}

#[test]
fn a_signed_digest_checks_a_copy_offline() {
    let log = log_with(6, "digest");
    let signer = Signer::generate().expect("signer");
    let pk = signer.public_key().expect("public key");
    let digest = signer
        .sign(&log.anchor.head, "2026-11-23T10:00:00Z")
        .expect("sign");
    // Through text, as it is kept.
    let digest: SignedDigest =
        serde_json::from_str(&serde_json::to_string(&digest).expect("json")).expect("parse");
    let head = digest.check(&pk).expect("signature verifies");
    let offline = |path: &std::path::Path| {
        verify(
            path,
            &Checks {
                key: None,
                anchor: None,
                digest: Some(&head),
            },
        )
    };
    let r = offline(&log.path).expect("the copy reaches the digest");
    assert_eq!((r.records, r.digest, r.keyed), (6, Some(6), false));
    // Later records are fine; the digest's records must all be there.
    let lines = log.lines();
    log.write_lines(&lines[..4]);
    assert!(matches!(
        offline(&log.path),
        Err(AuditError::Truncated {
            records: 4,
            expected: 6,
            ..
        })
    ));
    // A rewritten and re-hashed copy (even by a holder of the audit key)
    // no longer reaches the signed hash.
    let mut changed = lines.clone();
    changed[1] = changed[1].replace("\"Encrypt\"", "\"Decrypt\"");
    log.write_lines(&rehash(&changed));
    assert_eq!(broken_at(offline(&log.path)).0, 6);
    // A digest changed after signing, or checked with another key, fails.
    let mut forged = digest.clone();
    forged.records = 4;
    assert!(matches!(forged.check(&pk), Err(AuditError::Digest(_))));
    let other = Signer::generate()
        .expect("signer")
        .public_key()
        .expect("pk");
    assert!(matches!(digest.check(&other), Err(AuditError::Digest(_))));
    let text = pk.to_string();
    assert_eq!(keyward::audit::PublicKey::parse(&text).expect("parse"), pk);
}

/// Group commit: many writers each wait for their own record to be synced;
/// every wait returns and the log holds every record in one chain.
#[test]
fn group_commit_waits_for_each_record_and_keeps_the_chain() {
    let log = log_with(0, "group");
    let audit = std::sync::Arc::new(log.open().expect("open"));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let audit = audit.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let head = audit
                        .append(record(json!({"eventName": "Decrypt", "t": t, "i": i})))
                        .expect("append");
                    audit.wait_durable(head.seq).expect("durable");
                    // Waiting again for a record already on disk returns at once.
                    audit.wait_durable(head.seq).expect("durable again");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    drop(audit);
    let key = log.key();
    let report = verify(
        &log.path,
        &Checks {
            key: Some(&key),
            anchor: None,
            digest: None,
        },
    )
    .expect("verify");
    assert_eq!(report.head.seq, 400);
}
