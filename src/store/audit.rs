//! What the store keeps for the audit log: keyward's own keys (sealed under
//! the root key) and the anchor, the last record the store knows was
//! written. Every change commits with the anchor of its own record.

use crate::audit::{Anchor, Head};

use super::db::Tx;
use super::sql::{Row, vals};
use super::{Store, StoreError};

/// Writes the audit record of a change, durably, just before the change
/// commits; the anchor of that record. If it fails, the change rolls back.
pub trait Journal {
    fn record(&mut self) -> Result<Anchor, StoreError>;
}

impl Store {
    /// Records the change made in `tx`, anchors the record and commits
    /// both.
    pub(super) fn commit(
        &self,
        mut tx: Tx<'_>,
        journal: &mut dyn Journal,
    ) -> Result<(), StoreError> {
        let anchor = journal.record()?;
        write_anchor(&mut tx, &self.node, &anchor)?;
        tx.commit()
    }

    /// Commits (and records) the change when `changed`; else rolls it back.
    pub(super) fn commit_if(
        &self,
        changed: bool,
        tx: Tx<'_>,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        if changed {
            self.commit(tx, journal)?;
        }
        Ok(changed)
    }

    /// The anchored head of this node's audit log, if any record was
    /// anchored.
    pub fn audit_anchor(&self) -> Result<Option<Anchor>, StoreError> {
        self.anchor_of(&self.node)
    }

    /// The anchored head of `node`'s audit log.
    pub fn anchor_of(&self, node: &str) -> Result<Option<Anchor>, StoreError> {
        self.row(
            "SELECT seq, hash, mac FROM audit_anchors WHERE node = ?1",
            &vals![node],
            anchor_from_row,
        )
    }

    /// Every node's anchored head, by node.
    pub fn audit_anchors(&self) -> Result<Vec<(String, Anchor)>, StoreError> {
        self.rows(
            "SELECT seq, hash, mac, node FROM audit_anchors ORDER BY node",
            &[],
            |r| Ok((r.get(3)?, anchor_from_row(r)?)),
        )
    }

    /// Moves the anchor forward to `a` (records of calls that changed
    /// nothing, synced to disk).
    pub fn set_audit_anchor(&self, a: &Anchor) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        write_anchor(&mut tx, &self.node, a)?;
        tx.commit()
    }

    /// One of keyward's own keys, sealed, by purpose.
    pub fn internal_key(&self, purpose: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.row(
            "SELECT sealed FROM internal_keys WHERE purpose = ?1",
            &vals![purpose],
            |r| r.get(0),
        )
    }

    /// Stores a sealed key for `purpose` unless one is there; the one that
    /// is there afterwards (two processes creating keys at once agree).
    pub fn insert_internal_key(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut session = self.session()?;
        session.execute(
            "INSERT INTO internal_keys (purpose, sealed) VALUES (?1, ?2) ON CONFLICT (purpose) DO NOTHING",
            &vals![purpose, sealed],
        )?;
        session
            .query_one(
                "SELECT sealed FROM internal_keys WHERE purpose = ?1",
                &vals![purpose],
            )?
            .ok_or_else(|| StoreError::new(format!("internal key {purpose} vanished")))?
            .get(0)
    }
}

fn anchor_from_row(r: &Row) -> Result<Anchor, StoreError> {
    Ok(Anchor {
        head: Head {
            seq: u64::try_from(r.get::<i64>(0)?).map_err(|_| StoreError::new("audit anchor"))?,
            hash: r.get(1)?,
        },
        mac: r.get(2)?,
    })
}

/// Anchors move forward only: an older head (a periodic anchor that lost a
/// race with a change) leaves the newer one.
fn write_anchor(tx: &mut Tx<'_>, node: &str, a: &Anchor) -> Result<(), StoreError> {
    let seq = i64::try_from(a.head.seq).map_err(|_| StoreError::new("audit record number"))?;
    tx.execute(
        "INSERT INTO audit_anchors (node, seq, hash, mac) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (node) DO UPDATE SET seq=excluded.seq, hash=excluded.hash, mac=excluded.mac
         WHERE excluded.seq > audit_anchors.seq",
        &vals![node, seq, a.head.hash, a.mac],
    )?;
    Ok(())
}
