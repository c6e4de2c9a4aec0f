//! The audit log as the key service keeps it: no change without a record,
//! a cut log refuses to start, keyward's own changes (a deletion whose
//! waiting period ended, an automatic rotation) are recorded as service
//! events, and `keyward audit` checks, signs and verifies offline.

use keyward::service::{DataDir, ErrorKind, KeyService};
use serde_json::{Value, json};

use crate::cli::keyward;
use crate::service::{admin, env, verify_audit};

pub fn records(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .expect("audit")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// A new key of the admin's account; its ARN.
fn create_key(svc: &KeyService) -> String {
    svc.call(&admin(), "CreateKey", &json!({})).expect("create")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned()
}

fn cut_last_record(dir: &std::path::Path) {
    let path = dir.join("audit.jsonl");
    let text = std::fs::read_to_string(&path).expect("audit");
    let lines: Vec<&str> = text.lines().collect();
    let kept: String = lines[..lines.len() - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).expect("write");
}

#[test]
#[cfg(target_os = "linux")]
fn a_change_whose_record_cannot_be_written_does_not_happen() {
    let e = env();
    let full = KeyService::open(
        &DataDir::new(&e.dir).with_audit_log("/dev/full"),
        "us-east-1",
    )
    .expect("open");
    let err = full
        .call(&admin(), "CreateKey", &json!({"Description": "unrecorded"}))
        .expect_err("no record, no key");
    assert_eq!(err.kind, ErrorKind::KmsInternal);
    drop(full);
    // Read back through the data directory's own log: no key was created.
    let keys = e.svc.call(&admin(), "ListKeys", &json!({})).expect("list");
    assert_eq!(keys["Keys"], json!([]), "the change rolled back");
}

#[test]
fn a_change_is_anchored_as_it_commits() {
    let mut e = env();
    e.svc
        .call(&admin(), "CreateKey", &json!({}))
        .expect("create");
    // No sync, no shutdown: as if the process were killed here.
    let last = records(&e.dir).pop().expect("a record");
    assert_eq!(
        (last["eventName"].clone(), last["seq"].clone()),
        (json!("CreateKey"), json!(1))
    );
    cut_last_record(&e.dir);
    let message = match KeyService::open(&DataDir::new(&e.dir), "us-east-1") {
        Ok(_) => panic!("a log cut short of its anchor must not be continued"),
        Err(err) => err.message,
    };
    assert!(
        message.starts_with(
            "audit log cut: it ends at record 0, but the store anchored record 1: records were removed from its end"
        ),
        "{message}"
    );
    assert!(verify_audit(&e.dir).is_err());
    // Put the record back and all is well.
    std::fs::write(e.dir.join("audit.jsonl"), last.to_string() + "\n").expect("restore");
    e.reopen();
    assert_eq!(verify_audit(&e.dir).expect("intact").records, 1);
}

#[test]
fn records_of_calls_that_change_nothing_are_anchored_on_sync() {
    let e = env();
    let key = create_key(&e.svc);
    for _ in 0..3 {
        e.svc
            .call(&admin(), "DescribeKey", &json!({"KeyId": key}))
            .expect("describe");
    }
    e.svc.anchor_audit().expect("anchor");
    assert_eq!(verify_audit(&e.dir).expect("intact").anchored, Some(4));
    cut_last_record(&e.dir);
    assert!(matches!(
        verify_audit(&e.dir),
        Err(keyward::audit::AuditError::Truncated {
            records: 3,
            expected: 4,
            ..
        })
    ));
}

#[test]
fn keywards_own_changes_are_recorded_as_service_events() {
    let e = env();
    let key = create_key(&e.svc);
    e.svc
        .call(
            &admin(),
            "EnableKeyRotation",
            &json!({"KeyId": key, "RotationPeriodInDays": 90}),
        )
        .expect("rotation");
    e.svc
        .call(
            &admin(),
            "ScheduleKeyDeletion",
            &json!({"KeyId": key, "PendingWindowInDays": 7}),
        )
        .expect("schedule");
    e.svc
        .call(&admin(), "CancelKeyDeletion", &json!({"KeyId": key}))
        .expect("cancel");
    e.svc
        .call(&admin(), "EnableKey", &json!({"KeyId": key}))
        .expect("enable");
    e.advance_days(91);
    e.svc
        .call(&admin(), "DescribeKey", &json!({"KeyId": key}))
        .expect("describe");
    e.svc
        .call(
            &admin(),
            "ScheduleKeyDeletion",
            &json!({"KeyId": key, "PendingWindowInDays": 7}),
        )
        .expect("schedule");
    e.advance_days(8);
    e.svc.call(&admin(), "ListKeys", &json!({})).expect("list");
    let events: Vec<(String, String)> = records(&e.dir)
        .iter()
        .map(|r| {
            (
                r["eventName"].as_str().unwrap_or_default().to_owned(),
                r["eventType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "CreateKey",
            "EnableKeyRotation",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "EnableKey",
            "RotateKey",
            "DescribeKey",
            "ScheduleKeyDeletion",
            "DeleteKey",
            "ListKeys"
        ]
    );
    let all = records(&e.dir);
    for service_event in [&all[5], &all[8]] {
        assert_eq!(service_event["eventType"], "AwsServiceEvent");
        assert_eq!(service_event["userIdentity"]["type"], "AWSService");
        assert_eq!(service_event["resources"][0]["ARN"], json!(key));
    }
    e.svc.sync().expect("sync");
    assert_eq!(verify_audit(&e.dir).expect("intact").records, 10);
}

#[test]
fn keyward_audit_verifies_signs_and_checks_a_copy_offline() {
    let e = env();
    e.svc
        .call(&admin(), "CreateKey", &json!({}))
        .expect("create");
    e.svc.call(&admin(), "ListKeys", &json!({})).expect("list");
    e.svc.sync().expect("sync");
    let data = e.dir.to_str().expect("utf-8");
    let (code, out, err) = keyward(&["audit", "verify", "--data", data]);
    assert_eq!(code, 0, "{err}");
    let out = out.replace(data, "DATA");
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("audit_verify_intact", out);
    });
    let (code, digest, err) = keyward(&["audit", "digest", "--data", data]);
    assert_eq!(code, 0, "{err}");
    let (code, pk, err) = keyward(&["audit", "public-key", "--data", data]);
    assert_eq!(code, 0, "{err}");
    assert!(pk.starts_with("keyward-audit-ed25519 "), "{pk}");
    // Elsewhere: a copy of the log, the digest and the public key.
    let away = e.dir.join("away");
    std::fs::create_dir_all(&away).expect("dir");
    let copy = away.join("audit.jsonl");
    std::fs::copy(e.dir.join("audit.jsonl"), &copy).expect("copy");
    std::fs::write(away.join("digest.json"), &digest).expect("digest");
    std::fs::write(away.join("audit.pub"), &pk).expect("pk");
    let offline = |copy: &std::path::Path| {
        keyward(&[
            "audit",
            "verify",
            copy.to_str().expect("utf-8"),
            "--digest",
            away.join("digest.json").to_str().expect("utf-8"),
            "--public-key",
            away.join("audit.pub").to_str().expect("utf-8"),
        ])
    };
    let (code, out, err) = offline(&copy);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reaches the signed digest (record 2"), "{out}");
    // The copy loses its last record: the digest catches it.
    cut_last_record(&away);
    let (code, _, err) = offline(&copy);
    assert_eq!(code, 1);
    let words: Vec<&str> = err.split_whitespace().filter(|w| *w != "│").collect();
    assert!(
        words
            .join(" ")
            .contains("it ends at record 1, but the signed digest vouches for record 2"),
        "{err}"
    );
}

/// Under group commit every call returns with its record on disk, from
/// many threads at once, and the chain holds every call.
#[test]
fn group_commit_service_records_every_concurrent_call() {
    let dir = std::env::temp_dir().join(format!("keyward-group-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let svc = std::sync::Arc::new(
        KeyService::open(&data, "us-east-1")
            .expect("open")
            .with_audit_sync(keyward::service::AuditSync::Group),
    );
    let key = create_key(&svc);
    let before = records(&dir).len();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let svc = svc.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    svc.call(
                        &admin(),
                        "Encrypt",
                        &json!({"KeyId": key, "Plaintext": "aGk="}),
                    )
                    .expect("encrypt");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("caller");
    }
    assert_eq!(records(&dir).len(), before + 100);
    drop(svc);
    verify_audit(&dir).expect("chain");
    let _ = std::fs::remove_dir_all(&dir);
}
