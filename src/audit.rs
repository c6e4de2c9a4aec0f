//! The audit log: one JSON line per request, allowed or denied, shaped like
//! a CloudTrail KMS event plus keyward's decision.
//!
//! What the log proves, and how (see [`chain`] for the record format):
//! - every record is chained to the one before it and MACed with the audit
//!   key, which is sealed under the root key: a changed, removed, inserted
//!   or reordered record, or a log re-hashed without the key, fails
//!   [`verify`], which names the first bad record;
//! - the store holds an anchor (the head's number and hash, MACed) that is
//!   written in the same transaction as every change it records, and
//!   every second for the records of calls that change nothing: a log cut
//!   short of the anchor fails to open and fails [`verify`];
//! - a change's record is written, and synced to disk, before the change
//!   commits, so no change is ever without a record. (A crash between the
//!   two leaves a record of a change that did not happen; it is the last
//!   record, after the anchor.)
//! - signed digests ([`digest`]) let a copy of the log be checked offline
//!   against a public key, also by someone who does not trust this host.

pub mod chain;
pub mod digest;
pub mod query;
mod record;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Condvar, Mutex};

pub use chain::{Anchor, ChainKey, GENESIS, Head};
pub use digest::{PublicKey, SignedDigest, Signer};
pub use record::Record;

use chain::Scan;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AuditError {
    #[error("cannot write the audit log: {0}")]
    #[diagnostic(code(keyward::audit))]
    Io(String),
    #[error("audit record {line} is not valid JSON")]
    #[diagnostic(code(keyward::audit_broken))]
    Malformed { line: u64 },
    #[error("audit chain broken at record {line}: {reason}")]
    #[diagnostic(code(keyward::audit_broken))]
    Broken { line: u64, reason: String },
    #[error(
        "audit log cut: it ends at record {records}, but {who} record {expected}: records were removed from its end"
    )]
    #[diagnostic(code(keyward::audit_broken))]
    Truncated {
        records: u64,
        expected: u64,
        who: String,
    },
    #[error("audit anchor: {0}")]
    #[diagnostic(code(keyward::audit_broken))]
    Anchor(String),
    #[error("audit digest: {0}")]
    #[diagnostic(code(keyward::audit_digest))]
    Digest(String),
    #[error("audit key: {0}")]
    #[diagnostic(code(keyward::audit_key))]
    Key(String),
}

/// What the log is checked against.
#[derive(Default)]
pub struct Checks<'a> {
    /// The audit key: check every record's MAC.
    pub key: Option<&'a ChainKey>,
    /// The store's anchor: the log must reach it.
    pub anchor: Option<&'a Anchor>,
    /// A signed digest's head (already checked against its public key).
    pub digest: Option<&'a Head>,
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Complete records.
    pub records: u64,
    /// The last record.
    pub head: Head,
    /// Records written before keyward keyed its chain (they come first and
    /// are covered by the MAC of the first keyed record after them).
    pub unkeyed: u64,
    /// Whether MACs were checked.
    pub keyed: bool,
    /// The anchored record, when an anchor was checked.
    pub anchored: Option<u64>,
    /// The digest's record, when a digest was checked.
    pub digest: Option<u64>,
    /// Bytes of an unterminated last line (a record being written, or torn
    /// by a crash) that were not checked.
    pub unterminated: u64,
}

/// Reads the complete lines of `path` through `scan`; the length of the
/// checked part and of what follows it.
fn scan_file(path: &Path, scan: &mut Scan<'_>) -> Result<(u64, u64), AuditError> {
    let io = |e: std::io::Error| AuditError::Io(format!("{}: {e}", path.display()));
    let f = File::open(path).map_err(io)?;
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    let mut good = 0u64;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io)? as u64;
        if n == 0 {
            return Ok((good, 0));
        }
        if !line.ends_with('\n') {
            return Ok((good, n));
        }
        scan.next(line.trim_end_matches('\n'))?;
        good += n;
    }
}

/// Checks a log file: every record, then the anchor and digest given.
pub fn verify(path: &Path, checks: &Checks<'_>) -> Result<Report, AuditError> {
    let watch = [
        checks.anchor.map(|a| a.head.seq),
        checks.digest.map(|h| h.seq),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut scan = Scan::new(checks.key, watch);
    let (_, unterminated) = scan_file(path, &mut scan)?;
    if let Some(a) = checks.anchor {
        scan.check_anchor(a)?;
    }
    if let Some(h) = checks.digest {
        scan.check_reaches(h, "the signed digest vouches for")?;
    }
    Ok(Report {
        records: scan.head().seq,
        head: scan.head().clone(),
        unkeyed: scan.unkeyed,
        keyed: checks.key.is_some(),
        anchored: checks.anchor.map(|a| a.head.seq),
        digest: checks.digest.map(|h| h.seq),
        unterminated,
    })
}

struct Tail {
    file: File,
    head: Head,
}

/// An append-only, keyed, hash-chained audit log.
pub struct AuditLog {
    key: ChainKey,
    tail: Mutex<Tail>,
    /// A second handle on the file, to sync it without holding the tail;
    /// none when the log is not a regular file (a pipe or a device cannot
    /// be synced: what it writes to decides its durability).
    syncer: Option<File>,
    /// Group commit: the last record known on disk, and whether a sync is
    /// running (its waiters wait for it, then one of them syncs for all).
    synced: Mutex<Synced>,
    synced_changed: Condvar,
    /// The node whose log this is, in every record (nodes sharing a store).
    node: Option<String>,
}

#[derive(Default)]
struct Synced {
    seq: u64,
    syncing: bool,
}

impl AuditLog {
    /// Opens the log, checking every record and that it reaches `anchor`,
    /// and continues the chain from its last record. Only a torn last line
    /// (a crash while writing it: that request never returned) is cut; any
    /// other damage refuses to open, naming the record, so nothing after it
    /// is lost by a restart.
    pub fn open(
        path: &Path,
        key: ChainKey,
        anchor: Option<&Anchor>,
    ) -> Result<AuditLog, AuditError> {
        let io = |e: std::io::Error| AuditError::Io(format!("{}: {e}", path.display()));
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        let mut head = Head::genesis();
        let mut torn = 0;
        if regular {
            let report = verify(
                path,
                &Checks {
                    key: Some(&key),
                    anchor,
                    digest: None,
                },
            )?;
            head = report.head;
            torn = report.unterminated;
        } else if let Some(a) = anchor.filter(|a| a.head.seq > 0) {
            return Err(AuditError::Truncated {
                records: 0,
                expected: a.head.seq,
                who: "the store anchored".into(),
            });
        }
        // The log holds encryption contexts: owner-only, also when older.
        let file = crate::files::private_options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if regular {
            crate::files::restrict_file(path).map_err(io)?;
            if torn > 0 {
                let len = file.metadata().map_err(io)?.len();
                file.set_len(len - torn).map_err(io)?;
            }
        }
        let syncer = if file.metadata().map_err(io)?.is_file() {
            Some(file.try_clone().map_err(io)?)
        } else {
            None
        };
        Ok(AuditLog {
            key,
            synced: Mutex::new(Synced {
                seq: head.seq,
                syncing: false,
            }),
            synced_changed: Condvar::new(),
            tail: Mutex::new(Tail { file, head }),
            syncer,
            node: None,
        })
    }

    /// Names the node that writes this log in each record it appends
    /// (`keywardNode`), for logs of nodes that share one store.
    pub fn with_node(mut self, node: &str) -> AuditLog {
        self.node = (!node.is_empty()).then(|| node.to_owned());
        self
    }

    /// Appends one record, chained and MACed; its head. Fails closed: if
    /// the record cannot be written, the caller must fail the request.
    pub fn append(&self, record: Record) -> Result<Head, AuditError> {
        // Serialized before the lock: only the chain's members are written
        // under it.
        let record = record.in_order()?;
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let (head, line) =
            chain::seal_record(&self.key, &tail.head, self.node.as_deref(), &record)?;
        tail.file
            .write_all(&line)
            .and_then(|()| tail.file.flush())
            .map_err(|e| AuditError::Io(e.to_string()))?;
        tail.head = head.clone();
        Ok(head)
    }

    /// Appends one record and syncs it to disk; the anchor of its head, for
    /// the store to commit with the change the record describes.
    pub fn append_durable(&self, record: Record) -> Result<Anchor, AuditError> {
        let head = self.append(record)?;
        self.sync_file()?;
        Ok(self.key.anchor(head))
    }

    fn sync_file(&self) -> Result<(), AuditError> {
        match &self.syncer {
            Some(f) => f.sync_data().map_err(|e| AuditError::Io(e.to_string())),
            None => Ok(()),
        }
    }

    /// Returns once record `seq` is on disk (group commit): a caller finding
    /// no sync running syncs every record written so far; one arriving
    /// while a sync runs waits for it, then for the next if it was not
    /// covered. So one fsync serves every request that arrived during the
    /// previous one.
    pub fn wait_durable(&self, seq: u64) -> Result<(), AuditError> {
        let lock = || self.synced.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = lock();
        loop {
            if s.seq >= seq {
                return Ok(());
            }
            if s.syncing {
                s = self
                    .synced_changed
                    .wait(s)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            s.syncing = true;
            drop(s);
            let head = self.head().seq;
            let result = self.sync_file();
            s = lock();
            s.syncing = false;
            if result.is_ok() {
                s.seq = s.seq.max(head);
            }
            self.synced_changed.notify_all();
            result?;
        }
    }

    /// Syncs every record written so far to disk; the anchor of the head.
    pub fn sync(&self) -> Result<Anchor, AuditError> {
        let head = self
            .tail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .clone();
        self.sync_file()?;
        Ok(self.key.anchor(head))
    }

    /// The last record written.
    pub fn head(&self) -> Head {
        self.tail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .clone()
    }
}
