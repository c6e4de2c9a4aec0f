//! Keys and the versions of their material.
//!
//! A multi-Region key is one record per Region, sharing its key id: each
//! with its own policy, description, tags and state, and its own copy of
//! the sealed material. What the Regions share — the primary's Region, the
//! rotation schedule, new versions — is written to every Region's record in
//! one transaction, as a replication between separate stores would apply
//! it to each.

use super::db::Tx;
use super::records::{KEY_COLUMNS, VERSION_COLUMNS, key_from_row, version_from_row};
use super::sql::vals;
use super::{Journal, KeyRecord, Store, StoreError, VersionRecord, upsert_tags};
use crate::policy::ast::AccountId;
use crate::scope::{Region, Scope};

impl Store {
    /// Creates a key with its versions (none for a key awaiting imported
    /// material) and its tags, in one transaction with its audit record.
    /// A key that already exists in its account and Region is not created:
    /// `false`.
    pub fn insert_key(
        &self,
        k: &KeyRecord,
        versions: &[VersionRecord],
        tags: &[(String, String)],
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let n = tx.execute(
            "INSERT INTO keys (key_id, arn, account, region, description, state, key_spec, key_usage, created, deletion_date, pending_window, rotation_period, next_rotation, policy, current_version, origin, primary_region, custom_key_store_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)
             ON CONFLICT (account, region, key_id) DO NOTHING",
            &vals![
                k.key_id, k.arn, k.scope.account.0, k.scope.region.as_str(), k.description,
                k.state.as_str(), k.key_spec, k.key_usage, k.created, k.deletion_date,
                k.pending_window_days, k.rotation_period_days, k.next_rotation, k.policy,
                k.current_version, k.origin, k.primary_region.as_ref().map(Region::as_str),
                k.custom_key_store_id
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        for v in versions {
            put_version(&mut tx, &k.scope, &k.key_id, v)?;
        }
        upsert_tags(&mut tx, k, tags)?;
        self.commit(tx, journal)?;
        Ok(true)
    }

    /// Writes a changed key record. The properties a multi-Region key
    /// shares (its rotation schedule) reach every Region's record.
    pub fn update_key(&self, k: &KeyRecord, journal: &mut dyn Journal) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        write_key(&mut tx, k)?;
        tx.changes_key(&k.key_id);
        self.commit(tx, journal)
    }

    /// Adds version `v` (the key's next) and makes it current, in every
    /// Region of the key, in one transaction; `false` (nothing written) when
    /// the key's current version moved meanwhile.
    pub fn add_version(
        &self,
        k: &KeyRecord,
        v: &VersionRecord,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        let regions = regions_of(&mut tx, &k.scope.account, &k.key_id)?;
        let n = tx.execute(
            "UPDATE keys SET current_version=?3, next_rotation=?4 WHERE account=?1 AND key_id=?2 AND current_version=?5",
            &vals![
                k.scope.account.0,
                k.key_id,
                v.version,
                k.next_rotation,
                v.version - 1
            ],
        )?;
        if n != regions.len() {
            return Ok(false);
        }
        for region in regions {
            let scope = Scope::new(k.scope.account.clone(), region);
            put_version(&mut tx, &scope, &k.key_id, v)?;
        }
        tx.changes_key(&k.key_id);
        self.commit(tx, journal)?;
        Ok(true)
    }

    /// Writes a key record and some of its versions (imported material
    /// arriving, expiring or deleted; a pending version made current), in
    /// one transaction.
    pub fn put_versions(
        &self,
        k: &KeyRecord,
        versions: &[VersionRecord],
        journal: &mut dyn Journal,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        write_key(&mut tx, k)?;
        for v in versions {
            put_version(&mut tx, &k.scope, &k.key_id, v)?;
        }
        tx.changes_key(&k.key_id);
        self.commit(tx, journal)
    }

    /// Makes `primary` the primary Region of a multi-Region key in every
    /// Region, in one transaction.
    pub fn set_primary_region(
        &self,
        account: &AccountId,
        key_id: &str,
        primary: &Region,
        journal: &mut dyn Journal,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin()?;
        tx.execute(
            "UPDATE keys SET primary_region=?3 WHERE account=?1 AND key_id=?2",
            &vals![account.0, key_id, primary.as_str()],
        )?;
        tx.changes_key(key_id);
        self.commit(tx, journal)
    }

    /// The key `key_id` of `scope`; a key of any other scope is not found.
    pub fn key(&self, scope: &Scope, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.row(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id=?1 AND account=?2 AND region=?3"),
            &vals![key_id, scope.account.0, scope.region.as_str()],
            key_from_row,
        )
    }

    /// The key `key_id` of any account in `region`: for a ciphertext, which
    /// names its key (as a key ARN names an account); the record says whose
    /// it is. Key ids are made by keyward and unique within a Region.
    pub fn key_in_region(
        &self,
        region: &Region,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.row(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id=?1 AND region=?2"),
            &vals![key_id, region.as_str()],
            key_from_row,
        )
    }

    /// Every Region's record of a multi-Region key, by Region.
    pub fn key_everywhere(
        &self,
        account: &AccountId,
        key_id: &str,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        self.rows(
            &format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE account=?1 AND key_id=?2 ORDER BY region"
            ),
            &vals![account.0, key_id],
            key_from_row,
        )
    }

    /// Every key of every account and Region (for analyses over a whole
    /// data directory), by account, Region and age.
    pub fn all_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.rows(
            &format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY account, region, created, key_id"),
            &[],
            key_from_row,
        )
    }

    /// The keys of one account and Region, oldest first.
    pub fn keys(&self, scope: &Scope) -> Result<Vec<KeyRecord>, StoreError> {
        self.rows(
            &format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE account=?1 AND region=?2 ORDER BY created, key_id"
        ),
            &vals![scope.account.0, scope.region.as_str()],
            key_from_row,
        )
    }

    /// Deletes a key and everything that belongs to it. When it was the
    /// last replica of a primary waiting for its replicas
    /// (`PendingReplicaDeletion`), the primary's own waiting period starts
    /// at `now`, in the same transaction. `false` (nothing deleted, nothing
    /// recorded) when the key is no longer as `k` shows it.
    pub fn delete_key(
        &self,
        k: &KeyRecord,
        now: i64,
        journal: &mut dyn Journal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin()?;
        // Only the key as the caller saw it: another node may have
        // cancelled its deletion (or deleted it) meanwhile.
        let n = tx.execute(
            "DELETE FROM keys WHERE key_id=?1 AND account=?2 AND region=?3
             AND state=?4 AND coalesce(deletion_date, -1)=?5",
            &vals![
                k.key_id,
                k.scope.account.0,
                k.scope.region.as_str(),
                k.state.as_str(),
                k.deletion_date.unwrap_or(-1)
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        for table in ["key_versions", "aliases", "tags", "grants", "grant_counts"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE key_id=?1 AND account=?2 AND region=?3"),
                &vals![k.key_id, k.scope.account.0, k.scope.region.as_str()],
            )?;
        }
        if k.is_replica() {
            tx.execute(
                "UPDATE keys SET state='PendingDeletion', deletion_date=?3 + 86400 * pending_window
                 WHERE account=?1 AND key_id=?2 AND state='PendingReplicaDeletion'
                 AND (SELECT count(*) FROM keys WHERE account=?1 AND key_id=?2) = 1",
                &vals![k.scope.account.0, k.key_id, now],
            )?;
        }
        tx.changes_key(&k.key_id);
        self.commit(tx, journal)?;
        Ok(true)
    }

    pub fn version(
        &self,
        k: &KeyRecord,
        version: u32,
    ) -> Result<Option<VersionRecord>, StoreError> {
        self.row(
            &format!("SELECT {VERSION_COLUMNS} FROM key_versions WHERE key_id=?1 AND account=?2 AND region=?3 AND version=?4"),
            &vals![k.key_id, k.scope.account.0, k.scope.region.as_str(), version],
            version_from_row,
        )
    }

    pub fn versions(&self, k: &KeyRecord) -> Result<Vec<VersionRecord>, StoreError> {
        self.rows(
            &format!(
            "SELECT {VERSION_COLUMNS} FROM key_versions WHERE key_id=?1 AND account=?2 AND region=?3 ORDER BY version"
        ),
            &vals![k.key_id, k.scope.account.0, k.scope.region.as_str()],
            version_from_row,
        )
    }
}

fn regions_of(
    tx: &mut Tx<'_>,
    account: &AccountId,
    key_id: &str,
) -> Result<Vec<Region>, StoreError> {
    let rows = tx.query(
        "SELECT region FROM keys WHERE account=?1 AND key_id=?2",
        &vals![account.0, key_id],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let r: String = r.get(0)?;
        out.push(Region::parse(&r).unwrap_or_else(|| Region::unchecked(r)));
    }
    Ok(out)
}

fn write_key(tx: &mut Tx<'_>, k: &KeyRecord) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE keys SET description=?4, state=?5, deletion_date=?6, pending_window=?7, rotation_period=?8, next_rotation=?9, policy=?10, current_version=?11
         WHERE key_id=?1 AND account=?2 AND region=?3",
        &vals![
            k.key_id, k.scope.account.0, k.scope.region.as_str(), k.description,
            k.state.as_str(), k.deletion_date, k.pending_window_days, k.rotation_period_days,
            k.next_rotation, k.policy, k.current_version
        ],
    )?;
    if k.is_multi_region() {
        tx.execute(
            "UPDATE keys SET rotation_period=?3, next_rotation=?4 WHERE account=?1 AND key_id=?2",
            &vals![
                k.scope.account.0,
                k.key_id,
                k.rotation_period_days,
                k.next_rotation
            ],
        )?;
    }
    Ok(())
}

fn put_version(
    tx: &mut Tx<'_>,
    scope: &Scope,
    key_id: &str,
    v: &VersionRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO key_versions (key_id, version, sealed, created, kind, account, region, material_id, description, expiration_model, valid_to) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)
         ON CONFLICT (account, region, key_id, version) DO UPDATE SET sealed=excluded.sealed,
         created=excluded.created, kind=excluded.kind, material_id=excluded.material_id,
         description=excluded.description, expiration_model=excluded.expiration_model,
         valid_to=excluded.valid_to",
        &vals![
            key_id, v.version, v.sealed, v.created, v.kind, scope.account.0,
            scope.region.as_str(), v.material_id, v.description, v.expiration_model, v.valid_to
        ],
    )?;
    Ok(())
}
