//! The embedded store: SQLite (WAL, `synchronous=FULL`) in the data
//! directory. Every change is committed — and so durable — before the call
//! that made it returns. Key material is stored only sealed under the root
//! key.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

/// A store failure; the service reports it as an internal error.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// The lifecycle state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }

    fn parse(s: &str) -> KeyState {
        match s {
            "Enabled" => KeyState::Enabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            _ => KeyState::Disabled,
        }
    }
}

/// A customer master key, without its material.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub key_id: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub description: String,
    pub state: KeyState,
    pub key_spec: String,
    pub key_usage: String,
    /// Unix seconds.
    pub created: i64,
    pub deletion_date: Option<i64>,
    pub pending_window_days: Option<i64>,
    pub rotation_period_days: Option<i64>,
    pub next_rotation: Option<i64>,
    pub policy: String,
    pub current_version: u32,
}

/// One version of a key's material, sealed under the root key.
#[derive(Clone)]
pub struct VersionRecord {
    pub version: u32,
    pub sealed: Vec<u8>,
    pub created: i64,
    /// `INITIAL`, `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub name: String,
    pub key_id: String,
    pub created: i64,
    pub updated: i64,
}

/// A grant, kept as its `ListGrants` JSON entry so that the policy
/// compiler reads it like any other grant document.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    pub grant_id: String,
    pub key_id: String,
    pub token: String,
    pub document: String,
}

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY, arn TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
    description TEXT NOT NULL, state TEXT NOT NULL, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
    created INTEGER NOT NULL, deletion_date INTEGER, pending_window INTEGER,
    rotation_period INTEGER, next_rotation INTEGER, policy TEXT NOT NULL,
    current_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id TEXT NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL,
    created INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (key_id, version));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT PRIMARY KEY, key_id TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    key_id TEXT NOT NULL, tag_key TEXT NOT NULL, tag_value TEXT NOT NULL, PRIMARY KEY (key_id, tag_key));
CREATE TABLE IF NOT EXISTS grants (
    grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, token TEXT NOT NULL, document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS grants_by_key ON grants (key_id);
";

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        key_id: r.get(0)?,
        arn: r.get(1)?,
        account: r.get(2)?,
        region: r.get(3)?,
        description: r.get(4)?,
        state: KeyState::parse(&r.get::<_, String>(5)?),
        key_spec: r.get(6)?,
        key_usage: r.get(7)?,
        created: r.get(8)?,
        deletion_date: r.get(9)?,
        pending_window_days: r.get(10)?,
        rotation_period_days: r.get(11)?,
        next_rotation: r.get(12)?,
        policy: r.get(13)?,
        current_version: r.get(14)?,
    })
}

fn version_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        version: r.get(0)?,
        sealed: r.get(1)?,
        created: r.get(2)?,
        kind: r.get(3)?,
    })
}

fn alias_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        name: r.get(0)?,
        key_id: r.get(1)?,
        created: r.get(2)?,
        updated: r.get(3)?,
    })
}

fn grant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GrantRecord> {
    Ok(GrantRecord {
        grant_id: r.get(0)?,
        key_id: r.get(1)?,
        token: r.get(2)?,
        document: r.get(3)?,
    })
}

const KEY_COLUMNS: &str = "key_id, arn, account, region, description, state, key_spec, key_usage, created, deletion_date, pending_window, rotation_period, next_rotation, policy, current_version";

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // change is a transaction), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert_key(&self, k: &KeyRecord, v: &VersionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"),
            params![
                k.key_id, k.arn, k.account, k.region, k.description, k.state.as_str(), k.key_spec,
                k.key_usage, k.created, k.deletion_date, k.pending_window_days, k.rotation_period_days,
                k.next_rotation, k.policy, k.current_version
            ],
        )?;
        tx.execute(
            "INSERT INTO key_versions (key_id, version, sealed, created, kind) VALUES (?1,?2,?3,?4,?5)",
            params![k.key_id, v.version, v.sealed, v.created, v.kind],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn update_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE keys SET description=?2, state=?3, deletion_date=?4, pending_window=?5, rotation_period=?6, next_rotation=?7, policy=?8, current_version=?9 WHERE key_id=?1",
            params![
                k.key_id, k.description, k.state.as_str(), k.deletion_date, k.pending_window_days,
                k.rotation_period_days, k.next_rotation, k.policy, k.current_version
            ],
        )?;
        Ok(())
    }

    /// Adds a key version and makes it current, in one transaction.
    pub fn add_version(&self, k: &KeyRecord, v: &VersionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO key_versions (key_id, version, sealed, created, kind) VALUES (?1,?2,?3,?4,?5)",
            params![k.key_id, v.version, v.sealed, v.created, v.kind],
        )?;
        tx.execute(
            "UPDATE keys SET current_version=?2, next_rotation=?3 WHERE key_id=?1",
            params![k.key_id, v.version, k.next_rotation],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id=?1"),
                [key_id],
                key_from_row,
            )
            .optional()?)
    }

    pub fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {KEY_COLUMNS} FROM keys ORDER BY created, key_id"
        ))?;
        let rows = stmt.query_map([], key_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a key and everything that belongs to it.
    pub fn delete_key(&self, key_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for table in ["key_versions", "aliases", "tags", "grants", "keys"] {
            tx.execute(&format!("DELETE FROM {table} WHERE key_id=?1"), [key_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn version(&self, key_id: &str, version: u32) -> Result<Option<VersionRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT version, sealed, created, kind FROM key_versions WHERE key_id=?1 AND version=?2",
                params![key_id, version],
                |r| Ok(VersionRecord { version: r.get(0)?, sealed: r.get(1)?, created: r.get(2)?, kind: r.get(3)? }),
            )
            .optional()?)
    }

    pub fn versions(&self, key_id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT version, sealed, created, kind FROM key_versions WHERE key_id=?1 ORDER BY version",
        )?;
        let rows = stmt.query_map([key_id], version_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn alias(&self, name: &str) -> Result<Option<AliasRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, key_id, created, updated FROM aliases WHERE name=?1",
                [name],
                alias_from_row,
            )
            .optional()?)
    }

    pub fn aliases(&self) -> Result<Vec<AliasRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, key_id, created, updated FROM aliases ORDER BY name")?;
        let rows = stmt.query_map([], alias_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn put_alias(&self, a: &AliasRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO aliases (name, key_id, created, updated) VALUES (?1,?2,?3,?4)
             ON CONFLICT(name) DO UPDATE SET key_id=excluded.key_id, updated=excluded.updated",
            params![a.name, a.key_id, a.created, a.updated],
        )?;
        Ok(())
    }

    pub fn delete_alias(&self, name: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM aliases WHERE name=?1", [name])?;
        Ok(())
    }

    pub fn tags(&self, key_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT tag_key, tag_value FROM tags WHERE key_id=?1 ORDER BY tag_key")?;
        let rows = stmt.query_map([key_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_tags(&self, key_id: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (k, v) in tags {
            tx.execute(
                "INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?1,?2,?3)
                 ON CONFLICT(key_id, tag_key) DO UPDATE SET tag_value=excluded.tag_value",
                params![key_id, k, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn remove_tags(&self, key_id: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for k in keys {
            tx.execute(
                "DELETE FROM tags WHERE key_id=?1 AND tag_key=?2",
                params![key_id, k],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn grants(&self, key_id: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT grant_id, key_id, token, document FROM grants WHERE key_id=?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([key_id], grant_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn all_grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT grant_id, key_id, token, document FROM grants ORDER BY rowid")?;
        let rows = stmt.query_map([], grant_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_grant(&self, g: &GrantRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO grants (grant_id, key_id, token, document) VALUES (?1,?2,?3,?4)",
            params![g.grant_id, g.key_id, g.token, g.document],
        )?;
        Ok(())
    }

    pub fn delete_grant(&self, grant_id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM grants WHERE grant_id=?1", [grant_id])?;
        Ok(())
    }
}
