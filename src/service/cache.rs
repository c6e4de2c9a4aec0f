//! What the service keeps in memory between calls: key records, compiled
//! tables, sealed material and public keys. Every change writes the store
//! first, then the cache. When nodes share the store, a change another
//! node makes reaches this one as the key's id ([`Caches::forget`]): what
//! was cached of the key is dropped and read again when next needed.
//!
//! A key is addressed by its ARN (account, Region and id): the records of
//! a multi-Region key share an id across Regions. Records are found by id
//! alone, without allocating, because a ciphertext names only the id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::store::{KeyRecord, STORE_CHANGE};

use super::KeyTables;

/// Immutable bytes of key versions (sealed material, public keys) by
/// (key ARN, version).
type VersionBytes = HashMap<(String, u32), Arc<Vec<u8>>>;

#[derive(Default)]
pub(super) struct Caches {
    /// Key records by key id: one per Region the key is in.
    records: RwLock<HashMap<String, Vec<KeyRecord>>>,
    /// Compiled policy and grants by key ARN.
    tables: RwLock<HashMap<String, Arc<KeyTables>>>,
    /// Counts changes to `tables`: tables loaded from the store before a
    /// change are not cached after it.
    tables_changes: AtomicU64,
    /// Sealed key material.
    sealed: RwLock<VersionBytes>,
    /// Public keys (DER SubjectPublicKeyInfo) of asymmetric key versions:
    /// public, immutable, and costly to derive from the private key.
    public_keys: RwLock<VersionBytes>,
    /// Imported keys: when their first present material expires (`None`:
    /// never), so a request need not read the versions to know.
    expiries: RwLock<HashMap<String, Option<i64>>>,
    /// Counts what other nodes changed: something read from the store (or
    /// written to it) before a change of another node is not cached after
    /// it, as it may be what that change replaced. (Always 0 on the
    /// embedded store.)
    foreign: AtomicU64,
    /// Counts changes other nodes made to custom key stores (any of them):
    /// a store whose record was last read before the latest change is read
    /// again before this node uses its connection to it.
    stores_changed: AtomicU64,
    /// The count when each store's record was last read.
    stores_checked: RwLock<HashMap<String, u64>>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Every write below is a single map operation: a panic cannot leave a
    // map half-changed, so a poisoned lock is safe to reuse.
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Caches {
    /// The cached record of `key_id` that `matches`, if it is cached.
    pub(super) fn record(
        &self,
        key_id: &str,
        matches: impl Fn(&KeyRecord) -> bool,
    ) -> Option<KeyRecord> {
        read(&self.records)
            .get(key_id)
            .and_then(|rs| rs.iter().find(|k| matches(k)).cloned())
    }

    /// The count to give the `put_*` methods for what is about to be read
    /// from (or written to) the store.
    pub(super) fn since(&self) -> u64 {
        self.foreign.load(Ordering::Acquire)
    }

    /// Whether nothing another node changed arrived since `since`.
    fn current(&self, since: u64) -> bool {
        self.foreign.load(Ordering::Acquire) == since
    }

    /// Caches `value` under `key` in `map` unless another node's change
    /// arrived since `since` (checked under the map's lock, which
    /// [`Caches::forget`] takes after counting the change).
    fn put_current<K: std::hash::Hash + Eq, V>(
        &self,
        map: &RwLock<HashMap<K, V>>,
        key: K,
        value: V,
        since: u64,
    ) {
        let mut cached = write(map);
        if self.current(since) {
            cached.insert(key, value);
        }
    }

    pub(super) fn put_record(&self, key: &KeyRecord, since: u64) {
        let mut records = write(&self.records);
        if !self.current(since) {
            return;
        }
        let rs = records.entry(key.key_id.clone()).or_default();
        rs.retain(|k| k.arn != key.arn);
        rs.push(key.clone());
    }

    /// Forgets every Region's record of `key_id` (after a change to what
    /// the Regions of a multi-Region key share).
    pub(super) fn drop_records(&self, key_id: &str) {
        write(&self.records).remove(key_id);
    }

    /// Forgets what is cached of `key_id` in every Region, or of every key
    /// for `*` (another node changed it).
    pub(super) fn forget(&self, key_id: &str) {
        // First the count, then the maps: a put that checks the count
        // under a map's lock either precedes the removal or sees the count.
        self.foreign.fetch_add(1, Ordering::AcqRel);
        if key_id.starts_with(STORE_CHANGE) {
            self.stores_changed.fetch_add(1, Ordering::AcqRel);
            return;
        }
        if key_id == "*" {
            self.stores_changed.fetch_add(1, Ordering::AcqRel);
            write(&self.records).clear();
            let mut tables = write(&self.tables);
            self.tables_changes.fetch_add(1, Ordering::AcqRel);
            tables.clear();
            drop(tables);
            write(&self.sealed).clear();
            write(&self.public_keys).clear();
            write(&self.expiries).clear();
            return;
        }
        let suffix = format!(":key/{key_id}");
        write(&self.records).remove(key_id);
        let mut tables = write(&self.tables);
        self.tables_changes.fetch_add(1, Ordering::AcqRel);
        tables.retain(|arn, _| !arn.ends_with(&suffix));
        drop(tables);
        write(&self.sealed).retain(|(arn, _), _| !arn.ends_with(&suffix));
        write(&self.public_keys).retain(|(arn, _), _| !arn.ends_with(&suffix));
        write(&self.expiries).retain(|arn, _| !arn.ends_with(&suffix));
    }

    /// The change count to record with a custom key store's record read
    /// now, if its connection may be used as it is (no other node changed
    /// a store since the record was read): `None`.
    pub(super) fn store_stale(&self, id: &str) -> Option<u64> {
        let now = self.stores_changed.load(Ordering::Acquire);
        let seen = read(&self.stores_checked).get(id).copied().unwrap_or(0);
        (now != seen).then_some(now)
    }

    pub(super) fn store_checked(&self, id: &str, count: u64) {
        write(&self.stores_checked).insert(id.to_owned(), count);
    }

    /// Forgets everything about one key (it was deleted).
    pub(super) fn drop_key(&self, key: &KeyRecord) {
        if let Some(rs) = write(&self.records).get_mut(&key.key_id) {
            rs.retain(|k| k.arn != key.arn);
        }
        self.drop_material(key);
        self.drop_tables(key);
    }

    /// Forgets a key's sealed material (imported material that expired or
    /// was deleted).
    pub(super) fn drop_material(&self, key: &KeyRecord) {
        write(&self.sealed).retain(|(k, _), _| k != &key.arn);
        write(&self.public_keys).retain(|(k, _), _| k != &key.arn);
        write(&self.expiries).remove(&key.arn);
    }

    /// When an imported key's first present material expires, if known.
    pub(super) fn expiry(&self, key: &KeyRecord) -> Option<Option<i64>> {
        read(&self.expiries).get(&key.arn).copied()
    }

    pub(super) fn put_expiry(&self, key: &KeyRecord, expiry: Option<i64>, since: u64) {
        self.put_current(&self.expiries, key.arn.clone(), expiry, since);
    }

    pub(super) fn tables(&self, key: &KeyRecord) -> Option<Arc<KeyTables>> {
        read(&self.tables).get(&key.arn).cloned()
    }

    pub(super) fn put_tables(&self, key: &KeyRecord, tables: Arc<KeyTables>, since: u64) {
        self.put_current(&self.tables, key.arn.clone(), tables, since);
    }

    pub(super) fn drop_tables(&self, key: &KeyRecord) {
        let mut tables = write(&self.tables);
        self.tables_changes.fetch_add(1, Ordering::AcqRel);
        tables.remove(&key.arn);
    }

    /// The change count to give [`Caches::put_loaded_tables`] for tables
    /// about to be loaded from the store.
    pub(super) fn tables_version(&self) -> u64 {
        self.tables_changes.load(Ordering::Acquire)
    }

    /// Caches tables loaded from the store, unless the cached tables of any
    /// key changed since `version` (the load may have missed the change).
    pub(super) fn put_loaded_tables(&self, key: &KeyRecord, tables: Arc<KeyTables>, version: u64) {
        let mut cached = write(&self.tables);
        if self.tables_changes.load(Ordering::Acquire) == version {
            cached.insert(key.arn.clone(), tables);
        }
    }

    /// Replaces a key's cached tables by what `change` makes of them (a
    /// grant added or removed), if they are cached.
    pub(super) fn change_tables(
        &self,
        key: &KeyRecord,
        change: impl FnOnce(&KeyTables) -> KeyTables,
    ) {
        let mut tables = write(&self.tables);
        self.tables_changes.fetch_add(1, Ordering::AcqRel);
        if let Some(t) = tables.get_mut(&key.arn) {
            *t = Arc::new(change(t));
        }
    }

    pub(super) fn sealed(&self, key: &KeyRecord, version: u32) -> Option<Arc<Vec<u8>>> {
        read(&self.sealed).get(&(key.arn.clone(), version)).cloned()
    }

    pub(super) fn put_sealed(
        &self,
        key: &KeyRecord,
        version: u32,
        sealed: Arc<Vec<u8>>,
        since: u64,
    ) {
        self.put_current(&self.sealed, (key.arn.clone(), version), sealed, since);
    }

    pub(super) fn public_key(&self, key: &KeyRecord, version: u32) -> Option<Arc<Vec<u8>>> {
        read(&self.public_keys)
            .get(&(key.arn.clone(), version))
            .cloned()
    }

    pub(super) fn put_public_key(
        &self,
        key: &KeyRecord,
        version: u32,
        public: Arc<Vec<u8>>,
        since: u64,
    ) {
        self.put_current(&self.public_keys, (key.arn.clone(), version), public, since);
    }
}
