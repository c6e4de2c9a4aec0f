//! What the store keeps for the audit log: keyward's own keys (sealed under
//! the root key) and the anchor, the last record the store knows was
//! written. Every change commits with the anchor of its own record.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::audit::{Anchor, Head};

use super::{Store, StoreError};

/// Writes the audit record of a change, durably, just before the change
/// commits; the anchor of that record. If it fails, the change rolls back.
pub trait Journal {
    fn record(&mut self) -> Result<Anchor, StoreError>;
}

/// Records the change made in `tx`, anchors the record and commits both.
pub(super) fn commit(tx: Transaction<'_>, journal: &mut dyn Journal) -> Result<(), StoreError> {
    let anchor = journal.record()?;
    write_anchor(&tx, &anchor)?;
    tx.commit()?;
    Ok(())
}

/// Commits (and records) the change when `changed`; else rolls it back.
pub(super) fn commit_if(
    changed: bool,
    tx: Transaction<'_>,
    journal: &mut dyn Journal,
) -> Result<bool, StoreError> {
    if changed {
        commit(tx, journal)?;
    }
    Ok(changed)
}

/// Anchors move forward only: an older head (a periodic anchor that lost a
/// race with a change) leaves the newer one.
fn write_anchor(conn: &rusqlite::Connection, a: &Anchor) -> Result<(), StoreError> {
    let seq = i64::try_from(a.head.seq).map_err(|_| StoreError::new("audit record number"))?;
    conn.execute(
        "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash, mac=excluded.mac
         WHERE excluded.seq > audit_anchor.seq",
        params![seq, a.head.hash, a.mac],
    )?;
    Ok(())
}

impl Store {
    /// The anchored head of the audit log, if any record was anchored.
    pub fn audit_anchor(&self) -> Result<Option<Anchor>, StoreError> {
        let row: Option<(i64, String, String)> = self
            .conn()
            .query_row(
                "SELECT seq, hash, mac FROM audit_anchor WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(seq, hash, mac)| {
            Ok(Anchor {
                head: Head {
                    seq: u64::try_from(seq).map_err(|_| StoreError::new("audit anchor"))?,
                    hash,
                },
                mac,
            })
        })
        .transpose()
    }

    /// Moves the anchor forward to `a` (records of calls that changed
    /// nothing, synced to disk).
    pub fn set_audit_anchor(&self, a: &Anchor) -> Result<(), StoreError> {
        write_anchor(&self.conn(), a)
    }

    /// One of keyward's own keys, sealed, by purpose.
    pub fn internal_key(&self, purpose: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sealed FROM internal_keys WHERE purpose = ?1",
                params![purpose],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores a sealed key for `purpose` unless one is there; the one that
    /// is there afterwards (two processes creating keys at once agree).
    pub fn insert_internal_key(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO internal_keys (purpose, sealed) VALUES (?1, ?2) ON CONFLICT (purpose) DO NOTHING",
            params![purpose, sealed],
        )?;
        Ok(conn.query_row(
            "SELECT sealed FROM internal_keys WHERE purpose = ?1",
            params![purpose],
            |r| r.get(0),
        )?)
    }
}
