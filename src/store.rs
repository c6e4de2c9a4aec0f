//! The embedded store: SQLite (WAL, `synchronous=FULL`) in the data
//! directory. Every change is committed — and so durable — before the call
//! that made it returns. Key material is stored only sealed under the root
//! key.
//!
//! Every record lives in one [`Scope`] (account and Region) and every
//! lookup names one: a key of another account or Region is not found, an
//! alias name is unique per account and Region. Creations that must not
//! race (aliases, named grants) are single statements or transactions that
//! fail on conflict, never a check followed by a write.
//!
//! Every change commits together with its audit record: a [`Journal`]
//! writes the record (durably) just before the commit, and the commit
//! anchors the record's place in the log.

mod audit;
mod custom_key_stores;
mod db;
mod keys;
mod pg_schema;
mod postgres;
mod records;
mod schema;
mod settings;
mod sql;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;

pub use audit::Journal;
pub use custom_key_stores::{
    CustomKeyStoreConflict, CustomKeyStoreRecord, STORE_CHANGE, StoreState,
};
pub use postgres::{CHECK_EVERY, Subscriber};
pub use records::{AliasRecord, GrantRecord, KeyRecord, KeyState, VersionRecord};
use records::{alias_from_row, grant_from_row};
pub use settings::{ROOT_KEY, Sealed, password_purpose};

use db::{Session, Tx};
use sql::{Row, Val, vals};

use crate::scope::{Region, Scope};

/// A store failure; the service reports it as an internal error, or as a
/// dependency timeout when the database did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("store: {message}")]
pub struct StoreError {
    message: String,
    timed_out: bool,
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            timed_out: false,
        }
    }

    /// The database did not answer in time (the call may be retried).
    pub fn timeout(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            timed_out: true,
        }
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite gives up on a lock after its busy timeout.
        let busy = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
        StoreError {
            message: e.to_string(),
            timed_out: busy,
        }
    }
}

/// What [`Store::insert_grant`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantInsert {
    Created,
    /// A grant with the same name and parameters exists: this one.
    Existing(GrantRecord),
    /// The key holds the maximum number of grants.
    LimitExceeded,
}

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres(postgres::Postgres),
}

pub struct Store {
    backend: Backend,
    /// The node whose audit log this store anchors: empty for the one
    /// process an embedded store serves.
    node: String,
}

impl Store {
    /// Opens (creating or migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // The database holds grant tokens: create it 0600 (SQLite gives its
        // -wal and -shm files the database's mode) and tighten older ones.
        let io = |e: std::io::Error| StoreError::new(format!("{}: {e}", path.display()));
        crate::files::private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            crate::files::restrict_file(Path::new(&p)).map_err(io)?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            backend: Backend::Sqlite(Mutex::new(conn)),
            node: String::new(),
        })
    }

    /// Connects to a PostgreSQL database shared by several nodes (creating
    /// or migrating its schema if needed); this node is `node`.
    pub fn connect(url: &str, node: &str) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(postgres::Postgres::connect(url, node)?),
            node: node.to_owned(),
        })
    }

    /// Whether other nodes share the store (and change it).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// This node's name in the store.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Tells `s` of every key another node changes (its id, or `*` for
    /// anything); an embedded store has no other node.
    pub fn subscribe(&self, s: Subscriber) {
        if let Backend::Postgres(pg) = &self.backend {
            pg.subscribe(s);
        }
    }

    fn session(&self) -> Result<Session<'_>, StoreError> {
        Ok(match &self.backend {
            // A panic while holding the lock leaves SQLite consistent
            // (every change is a transaction), so a poisoned lock is safe
            // to reuse.
            Backend::Sqlite(c) => Session::Sqlite(c.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres(pg) => Session::Postgres(Box::new(pg.session()?)),
        })
    }

    fn begin(&self) -> Result<Tx<'_>, StoreError> {
        self.session()?.begin()
    }

    /// Every row of a query, read by `f`.
    fn rows<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.session()?.query(sql, params)?.iter().map(f).collect()
    }

    /// The first row of a query, if any, read by `f`.
    fn row<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.session()?
            .query_one(sql, params)?
            .as_ref()
            .map(f)
            .transpose()
    }

    // ---- aliases -----------------------------------------------------------

    pub fn alias(&self, scope: &Scope, name: &str) -> Result<Option<AliasRecord>, StoreError> {
        self.row(
            "SELECT name, key_id, created, updated FROM aliases WHERE account=?1 AND region=?2 AND name=?3",
            &vals![scope.account.0, scope.region.as_str(), name],
            alias_from_row,
        )
    }

    /// The aliases of one account and Region, by name.
    pub fn aliases(&self, scope: &Scope) -> Result<Vec<AliasRecord>, StoreError> {
        self.rows(
            "SELECT name, key_id, created, updated FROM aliases WHERE account=?1 AND region=?2 ORDER BY name",
            &vals![scope.account.0, scope.region.as_str()],
            alias_from_row,
        )
    }

    /// Creates an alias; `false` (and nothing written) when the name is
    /// taken in `scope`.
    pub fn insert_alias(
        &self,
        scope: &Scope,
        a: &AliasRecord,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "INSERT INTO aliases (account, region, name, key_id, created, updated) VALUES (?1,?2,?3,?4,?5,?6)
             ON CONFLICT (account, region, name) DO NOTHING",
            &vals![scope.account.0, scope.region.as_str(), a.name, a.key_id, a.created, a.updated],
        )?;
        self.commit_if(n == 1, tx, journal)
    }

    /// Points an alias from key `from` to key `to`; `false` when the alias
    /// no longer points to `from` (it moved or was deleted meanwhile).
    pub fn repoint_alias(
        &self,
        scope: &Scope,
        name: &str,
        from: &str,
        to: &str,
        updated: i64,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "UPDATE aliases SET key_id=?5, updated=?6 WHERE account=?1 AND region=?2 AND name=?3 AND key_id=?4",
            &vals![scope.account.0, scope.region.as_str(), name, from, to, updated],
        )?;
        self.commit_if(n == 1, tx, journal)
    }

    /// Deletes an alias if it still points to `key_id`.
    pub fn delete_alias(
        &self,
        scope: &Scope,
        name: &str,
        key_id: &str,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "DELETE FROM aliases WHERE account=?1 AND region=?2 AND name=?3 AND key_id=?4",
            &vals![scope.account.0, scope.region.as_str(), name, key_id],
        )?;
        self.commit_if(n == 1, tx, journal)
    }

    // ---- tags --------------------------------------------------------------

    pub fn tags(&self, k: &KeyRecord) -> Result<Vec<(String, String)>, StoreError> {
        self.rows(
            "SELECT tag_key, tag_value FROM tags WHERE key_id=?1 AND account=?2 AND region=?3 ORDER BY tag_key",
            &vals![k.key_id, k.scope.account.0, k.scope.region.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    pub fn set_tags(
        &self,
        k: &KeyRecord,
        tags: &[(String, String)],
        journal: &mut dyn Journal,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        upsert_tags(&mut tx, k, tags)?;
        self.commit(tx, journal)
    }

    pub fn remove_tags(
        &self,
        k: &KeyRecord,
        keys: &[String],
        journal: &mut dyn Journal,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        for tag in keys {
            tx.execute(
                "DELETE FROM tags WHERE key_id=?1 AND account=?2 AND region=?3 AND tag_key=?4",
                &vals![k.key_id, k.scope.account.0, k.scope.region.as_str(), tag],
            )?;
        }
        self.commit(tx, journal)
    }

    // ---- grants ------------------------------------------------------------

    pub fn grants(&self, k: &KeyRecord) -> Result<Vec<GrantRecord>, StoreError> {
        self.rows(
            "SELECT grant_id, key_id, token, document FROM grants WHERE key_id=?1 AND account=?2 AND region=?3 ORDER BY rowid",
            &vals![k.key_id, k.scope.account.0, k.scope.region.as_str()],
            grant_from_row,
        )
    }

    /// The grant a token stands for, on a key of any account in `region`
    /// (a grant token works wherever the grant's key does).
    pub fn grant_by_token(
        &self,
        region: &Region,
        token: &str,
    ) -> Result<Option<GrantRecord>, StoreError> {
        self.row(
            "SELECT grant_id, key_id, token, document FROM grants WHERE region=?1 AND token=?2",
            &vals![region.as_str(), token],
            grant_from_row,
        )
    }

    /// Grants in `region`, on keys of any account, whose retiring principal
    /// is `principal` (ListRetirableGrants).
    pub fn retirable_grants(
        &self,
        region: &Region,
        principal: &str,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        self.rows(
            "SELECT grant_id, key_id, token, document FROM grants WHERE region=?1 AND retiring=?2 ORDER BY rowid",
            &vals![region.as_str(), principal],
            grant_from_row,
        )
    }

    /// Adds a grant to key `k`, in one transaction: a named grant whose
    /// name and parameters match an existing one returns that one, and a
    /// key with `max` grants takes no more. The key's count of grants is
    /// raised first: its row is locked until the transaction ends, so
    /// that two nodes adding grants to one key at once take turns.
    pub fn insert_grant(
        &self,
        k: &KeyRecord,
        g: &GrantRecord,
        max: usize,
        journal: &mut dyn Journal,
    ) -> Result<GrantInsert, StoreError> {
        let mut tx = self.begin()?;
        let count: i64 = tx
            .query_one(
                "INSERT INTO grant_counts (account, region, key_id, n) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (account, region, key_id) DO UPDATE SET n = grant_counts.n + 1
                 RETURNING n",
                &vals![k.scope.account.0, k.scope.region.as_str(), k.key_id],
            )?
            .ok_or_else(|| StoreError::new("grant count"))?
            .get(0)?;
        let name = g.name();
        let params_json = g.params();
        if let Some(n) = &name {
            let existing = tx.query_one(
                "SELECT grant_id, key_id, token, document FROM grants WHERE key_id=?1 AND account=?2 AND region=?3 AND name=?4 AND params=?5",
                &vals![k.key_id, k.scope.account.0, k.scope.region.as_str(), n, params_json],
            )?;
            if let Some(e) = existing {
                return Ok(GrantInsert::Existing(grant_from_row(&e)?));
            }
        }
        if usize::try_from(count).unwrap_or(usize::MAX) > max {
            return Ok(GrantInsert::LimitExceeded);
        }
        tx.execute(
            "INSERT INTO grants (grant_id, key_id, token, document, account, region, name, params, retiring) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            &vals![
                g.grant_id, k.key_id, g.token, g.document, k.scope.account.0,
                k.scope.region.as_str(), name, params_json, g.retiring()
            ],
        )?;
        tx.changes_key(&k.key_id);
        self.commit(tx, journal)?;
        Ok(GrantInsert::Created)
    }

    /// Deletes a grant of key `k`; `false` when there was none.
    pub fn delete_grant(
        &self,
        k: &KeyRecord,
        grant_id: &str,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "DELETE FROM grants WHERE grant_id=?1 AND key_id=?2 AND account=?3 AND region=?4",
            &vals![
                grant_id,
                k.key_id,
                k.scope.account.0,
                k.scope.region.as_str()
            ],
        )?;
        if n == 1 {
            tx.execute(
                "UPDATE grant_counts SET n = n - 1 WHERE key_id=?1 AND account=?2 AND region=?3",
                &vals![k.key_id, k.scope.account.0, k.scope.region.as_str()],
            )?;
            tx.changes_key(&k.key_id);
        }
        self.commit_if(n == 1, tx, journal)
    }
}

fn upsert_tags(
    tx: &mut Tx<'_>,
    k: &KeyRecord,
    tags: &[(String, String)],
) -> Result<(), StoreError> {
    for (tag, value) in tags {
        tx.execute(
            "INSERT INTO tags (key_id, tag_key, tag_value, account, region) VALUES (?1,?2,?3,?4,?5)
             ON CONFLICT(account, region, key_id, tag_key) DO UPDATE SET tag_value=excluded.tag_value",
            &vals![k.key_id, tag, value, k.scope.account.0, k.scope.region.as_str()],
        )?;
    }
    Ok(())
}
