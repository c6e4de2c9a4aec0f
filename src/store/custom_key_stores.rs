//! Custom key stores: each in one account and Region, named uniquely there,
//! associated with one cluster (a PKCS#11 token the server is configured
//! with) that no other custom key store uses.

use super::db::Tx;
use super::records::scope_from;
use super::sql::{Row, vals};
use super::{Journal, Store, StoreError};
use crate::scope::Scope;

/// What a change to a custom key store is announced to other nodes as,
/// followed by its id (key ids, announced as they are, hold no `/`).
pub const STORE_CHANGE: &str = "custom-key-store/";

/// One custom key store. The password is sealed under the root key.
#[derive(Clone)]
pub struct CustomKeyStoreRecord {
    pub scope: Scope,
    pub id: String,
    pub name: String,
    pub cluster_id: String,
    pub trust_anchor: String,
    pub password: Vec<u8>,
    /// The state asked for, and what happened when it was last attempted.
    pub state: StoreState,
    /// Why the last connection failed (`ConnectionErrorCode`).
    pub error_code: Option<String>,
    pub created: i64,
}

/// A custom key store's state as its record keeps it: connected or
/// disconnected as its owner asked, or failed when a connection was tried
/// and did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreState {
    Connected,
    Disconnected,
    Failed,
}

impl StoreState {
    /// AWS's `ConnectionState` name.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreState::Connected => "CONNECTED",
            StoreState::Disconnected => "DISCONNECTED",
            StoreState::Failed => "FAILED",
        }
    }

    /// A stored name; anything else reads as disconnected (nothing is
    /// used through a store whose state is not understood).
    fn parse(s: &str) -> StoreState {
        match s {
            "CONNECTED" => StoreState::Connected,
            "FAILED" => StoreState::Failed,
            _ => StoreState::Disconnected,
        }
    }
}

/// What [`Store::insert_custom_key_store`] and
/// [`Store::update_custom_key_store`] found in the way.
#[derive(Debug, PartialEq, Eq)]
pub enum CustomKeyStoreConflict {
    Name,
    Cluster,
}

const COLUMNS: &str =
    "account, region, id, name, cluster_id, trust_anchor, password, state, error_code, created";

fn from_row(r: &Row) -> Result<CustomKeyStoreRecord, StoreError> {
    Ok(CustomKeyStoreRecord {
        scope: scope_from(r.get(0)?, r.get(1)?),
        id: r.get(2)?,
        name: r.get(3)?,
        cluster_id: r.get(4)?,
        trust_anchor: r.get(5)?,
        password: r.get(6)?,
        state: StoreState::parse(&r.get::<String>(7)?),
        error_code: r.get(8)?,
        created: r.get(9)?,
    })
}

impl Store {
    /// Creates a custom key store; the conflict if its name is taken in
    /// its scope or its cluster belongs to another custom key store.
    pub fn insert_custom_key_store(
        &self,
        c: &CustomKeyStoreRecord,
        journal: &mut dyn Journal,
    ) -> Result<Result<(), CustomKeyStoreConflict>, StoreError> {
        self.write_custom_key_store(
            c,
            &format!(
                "INSERT INTO custom_key_stores ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
            ),
            journal,
        )
    }

    /// Rewrites a custom key store's record (its creation date stays).
    pub fn update_custom_key_store(
        &self,
        c: &CustomKeyStoreRecord,
        journal: &mut dyn Journal,
    ) -> Result<Result<(), CustomKeyStoreConflict>, StoreError> {
        self.write_custom_key_store(
            c,
            "UPDATE custom_key_stores SET name=?4, cluster_id=?5, trust_anchor=?6, password=?7,
             state=?8, error_code=?9, created=?10 WHERE account=?1 AND region=?2 AND id=?3",
            journal,
        )
    }

    /// Runs `sql` on the record's columns (?1 to ?10, in [`COLUMNS`]
    /// order) after checking for conflicts, and commits with the record.
    fn write_custom_key_store(
        &self,
        c: &CustomKeyStoreRecord,
        sql: &str,
        journal: &mut dyn Journal,
    ) -> Result<Result<(), CustomKeyStoreConflict>, StoreError> {
        let mut tx = self.begin()?;
        if let Some(conflict) = conflict(&mut tx, c)? {
            return Ok(Err(conflict));
        }
        tx.execute(
            sql,
            &vals![
                c.scope.account.0,
                c.scope.region.as_str(),
                c.id,
                c.name,
                c.cluster_id,
                c.trust_anchor,
                c.password,
                c.state.as_str(),
                c.error_code,
                c.created
            ],
        )?;
        tx.changes_key(&format!("{STORE_CHANGE}{}", c.id));
        self.commit(tx, journal)?;
        Ok(Ok(()))
    }

    /// Deletes a custom key store that holds no key; `false` (nothing
    /// deleted) when it holds one.
    pub fn delete_custom_key_store(
        &self,
        scope: &Scope,
        id: &str,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "DELETE FROM custom_key_stores WHERE account=?1 AND region=?2 AND id=?3
             AND NOT EXISTS (SELECT 1 FROM keys WHERE account=?1 AND region=?2 AND custom_key_store_id=?3)",
            &vals![scope.account.0, scope.region.as_str(), id],
        )?;
        tx.changes_key(&format!("{STORE_CHANGE}{id}"));
        self.commit_if(n == 1, tx, journal)
    }

    pub fn custom_key_store(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<CustomKeyStoreRecord>, StoreError> {
        self.row(
            &format!(
                "SELECT {COLUMNS} FROM custom_key_stores WHERE account=?1 AND region=?2 AND id=?3"
            ),
            &vals![scope.account.0, scope.region.as_str(), id],
            from_row,
        )
    }

    /// The custom key stores of a scope, oldest first.
    pub fn custom_key_stores(
        &self,
        scope: &Scope,
    ) -> Result<Vec<CustomKeyStoreRecord>, StoreError> {
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM custom_key_stores WHERE account=?1 AND region=?2 ORDER BY created, id"
            ),
            &vals![scope.account.0, scope.region.as_str()],
            from_row,
        )
    }

    /// Every custom key store (reconnecting them when a server starts).
    pub fn all_custom_key_stores(&self) -> Result<Vec<CustomKeyStoreRecord>, StoreError> {
        self.rows(
            &format!("SELECT {COLUMNS} FROM custom_key_stores ORDER BY account, region, id"),
            &[],
            from_row,
        )
    }

    /// How many keys a custom key store holds (any state).
    pub fn keys_in_custom_key_store(&self, scope: &Scope, id: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .row(
                "SELECT count(*) FROM keys WHERE account=?1 AND region=?2 AND custom_key_store_id=?3",
                &vals![scope.account.0, scope.region.as_str(), id],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        u64::try_from(n).map_err(|_| StoreError::new("key count"))
    }
}

fn conflict(
    tx: &mut Tx<'_>,
    c: &CustomKeyStoreRecord,
) -> Result<Option<CustomKeyStoreConflict>, StoreError> {
    let name_taken = tx
        .query_one(
            "SELECT 1 FROM custom_key_stores WHERE account=?1 AND region=?2 AND name=?3 AND id<>?4",
            &vals![c.scope.account.0, c.scope.region.as_str(), c.name, c.id],
        )?
        .is_some();
    if name_taken {
        return Ok(Some(CustomKeyStoreConflict::Name));
    }
    let cluster_taken = tx
        .query_one(
            "SELECT 1 FROM custom_key_stores WHERE cluster_id=?1
             AND NOT (account=?2 AND region=?3 AND id=?4)",
            &vals![
                c.cluster_id,
                c.scope.account.0,
                c.scope.region.as_str(),
                c.id
            ],
        )?
        .is_some();
    Ok(cluster_taken.then_some(CustomKeyStoreConflict::Cluster))
}
