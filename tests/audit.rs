//! Opening an audit log: only a torn final line is cut; a damaged record
//! anywhere else stops the service from starting, naming the record, and
//! leaves the log as it was.

use keyward::audit::{AuditLog, verify};
use serde_json::json;

fn log_with(records: usize, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyward-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("audit.jsonl");
    let log = AuditLog::open(&path).expect("open");
    for i in 0..records {
        log.append(json!({"eventName": "Encrypt", "n": i}))
            .expect("append");
    }
    log.sync().expect("sync");
    path
}

#[test]
fn a_damaged_middle_record_refuses_to_open_and_loses_nothing() {
    let path = log_with(10, "middle");
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{ this is not json";
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&path, &damaged).expect("write");
    let e = match AuditLog::open(&path) {
        Ok(_) => panic!("a damaged log must not be continued"),
        Err(e) => e,
    };
    assert_eq!(e.to_string(), "audit record 4 is not valid JSON");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        damaged,
        "the six records after it are still there"
    );
    // A record removed from the middle breaks the links: refused too.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(5);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let e = match AuditLog::open(&path) {
        Ok(_) => panic!("a cut chain must not be continued"),
        Err(e) => e,
    };
    assert!(
        e.to_string().starts_with("audit chain broken at record 6"),
        "{e}"
    );
}

#[test]
fn a_torn_last_line_is_cut_and_the_chain_continues() {
    let path = log_with(5, "torn");
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(r#"{"eventName": "Enc"#);
    std::fs::write(&path, &text).expect("write");
    let log = AuditLog::open(&path).expect("a torn last line is cut");
    log.append(json!({"eventName": "Decrypt"})).expect("append");
    log.sync().expect("sync");
    assert_eq!(verify(&path).expect("intact"), 6);
}
