//! The audit log: one JSON line per request, allowed or denied, shaped like
//! a CloudTrail KMS event plus keyward's decision. Each record carries the
//! SHA-256 of the previous line, so [`verify`] proves the chain intact or
//! names the first record that was changed, removed or inserted.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AuditError {
    #[error("cannot write the audit log: {0}")]
    #[diagnostic(code(keyward::audit))]
    Io(String),
    #[error("audit record {line} is not valid JSON")]
    #[diagnostic(code(keyward::audit_broken))]
    Malformed { line: usize },
    #[error("audit chain broken at record {line}: {reason}")]
    #[diagnostic(code(keyward::audit_broken))]
    Broken { line: usize, reason: String },
}

struct Tail {
    file: File,
    last_hash: String,
}

/// An append-only, hash-chained audit log.
pub struct AuditLog {
    tail: Mutex<Tail>,
}

fn digest(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The record's text without its `hash` field: what the hash covers.
fn body_of(record: &Value) -> String {
    let mut r = record.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("hash");
    }
    r.to_string()
}

impl AuditLog {
    /// Opens the log, continuing the chain from its last record. Only a torn
    /// last line (a crash while writing it: that request never returned) is
    /// cut; any other damage — a record that is not JSON, or one that does
    /// not link to the record before it — refuses to open, naming the
    /// record, so nothing after it is lost by a restart.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io = |e: std::io::Error| AuditError::Io(e.to_string());
        let mut last_hash = GENESIS.to_owned();
        let mut good_len = 0u64;
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        if let Some(f) = regular.then(|| File::open(path).ok()).flatten() {
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            let mut line_no = 0usize;
            loop {
                line.clear();
                let n = reader.read_line(&mut line).map_err(io)?;
                if n == 0 || !line.ends_with('\n') {
                    // End of file, or a torn final line to cut.
                    break;
                }
                line_no += 1;
                let v: Value = serde_json::from_str(line.trim_end())
                    .map_err(|_| AuditError::Malformed { line: line_no })?;
                if v.get("prevHash").and_then(Value::as_str) != Some(last_hash.as_str()) {
                    return Err(AuditError::Broken {
                        line: line_no,
                        reason: "it does not link to the record before it; keyward will not continue a damaged log (run `keyward audit verify`, then restore or move the log aside)".into(),
                    });
                }
                if let Some(h) = v.get("hash").and_then(Value::as_str) {
                    last_hash = h.to_owned();
                }
                good_len += n as u64;
            }
        }
        // The log holds encryption contexts: owner-only, also when older.
        let file = crate::files::private_options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if regular {
            crate::files::restrict_file(path).map_err(io)?;
        }
        if regular && file.metadata().map_err(io)?.len() > good_len {
            file.set_len(good_len).map_err(io)?;
        }
        Ok(AuditLog {
            tail: Mutex::new(Tail { file, last_hash }),
        })
    }

    /// Appends one record, linking it to the previous one. Fails closed: if
    /// the record cannot be written, the caller must fail the request.
    pub fn append(&self, mut record: Value) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = record.as_object_mut() {
            o.insert("prevHash".into(), Value::String(tail.last_hash.clone()));
            o.remove("hash");
        }
        let hash = digest(&tail.last_hash, &body_of(&record));
        if let Some(o) = record.as_object_mut() {
            o.insert("hash".into(), Value::String(hash.clone()));
        }
        let mut line = record.to_string();
        line.push('\n');
        tail.file
            .write_all(line.as_bytes())
            .and_then(|()| tail.file.flush())
            .map_err(|e| AuditError::Io(e.to_string()))?;
        tail.last_hash = hash;
        Ok(())
    }

    /// Forces written records to disk (on shutdown).
    pub fn sync(&self) -> Result<(), AuditError> {
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.file
            .sync_all()
            .map_err(|e| AuditError::Io(e.to_string()))
    }
}

/// Checks the chain of a log file; the number of records when intact.
pub fn verify(path: &Path) -> Result<usize, AuditError> {
    let f = File::open(path).map_err(|e| AuditError::Io(e.to_string()))?;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| AuditError::Io(e.to_string()))?;
        let record: Value =
            serde_json::from_str(&line).map_err(|_| AuditError::Malformed { line: line_no })?;
        let claimed_prev = record.get("prevHash").and_then(Value::as_str).unwrap_or("");
        if claimed_prev != prev {
            return Err(AuditError::Broken {
                line: line_no,
                reason: "it does not link to the record before it (a record was removed, inserted or reordered)".into(),
            });
        }
        let hash = record.get("hash").and_then(Value::as_str).unwrap_or("");
        if digest(&prev, &body_of(&record)) != hash {
            return Err(AuditError::Broken {
                line: line_no,
                reason: "its content does not match its hash (the record was changed)".into(),
            });
        }
        prev = hash.to_owned();
        count += 1;
    }
    Ok(count)
}
