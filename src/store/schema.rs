//! The store's tables and their migrations, versioned with SQLite's
//! `user_version`. Version 0 is the schema before scopes: aliases keyed by
//! name alone, grants, tags and key versions without an account or Region.
//! Version 2 adds what the audit log needs: keyward's own sealed keys and
//! the audit anchor. Version 3 makes a key's id unique only within its
//! account and Region (a multi-Region key's replicas share it), and adds
//! key origins, imported key material and multi-Region keys. Version 4
//! adds the data directory's settings (where its root key is), custom key
//! stores, and a key's custom key store. Version 5 counts each key's
//! grants and indexes grants by name. Version 6 keeps an audit anchor per
//! node (the embedded store's one node is named by the empty string), and
//! counts grants in the statements that add and remove them rather than
//! by triggers, as the PostgreSQL store does.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use super::records::GrantRecord;

/// The schema this build writes.
pub(super) const VERSION: i64 = 6;

const SCHEMA_V1: &str = "
CREATE TABLE keys (
    key_id TEXT PRIMARY KEY, arn TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
    description TEXT NOT NULL, state TEXT NOT NULL, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
    created INTEGER NOT NULL, deletion_date INTEGER, pending_window INTEGER,
    rotation_period INTEGER, next_rotation INTEGER, policy TEXT NOT NULL,
    current_version INTEGER NOT NULL);
CREATE INDEX keys_by_scope ON keys (account, region, created);
CREATE TABLE key_versions (
    key_id TEXT NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL,
    created INTEGER NOT NULL, kind TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, PRIMARY KEY (key_id, version));
CREATE TABLE aliases (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
    created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (account, region, name));
CREATE INDEX aliases_by_key ON aliases (key_id);
CREATE TABLE tags (
    key_id TEXT NOT NULL, tag_key TEXT NOT NULL, tag_value TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, PRIMARY KEY (key_id, tag_key));
CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, token TEXT NOT NULL, document TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT, params TEXT NOT NULL, retiring TEXT);
CREATE INDEX grants_by_key ON grants (key_id);
CREATE INDEX grants_by_token ON grants (token);
CREATE INDEX grants_by_retiring ON grants (region, retiring);
";

const SCHEMA_V2_ADDS: &str = "
CREATE TABLE internal_keys (purpose TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL,
    mac TEXT NOT NULL);
";

/// Version 3: keys, their versions and tags keyed by account, Region and
/// key id; a version's material may be absent (imported material that
/// expired or was deleted, or is awaited in a replica).
const SCHEMA_V3: &str = "
CREATE TABLE keys_v3 (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, arn TEXT NOT NULL,
    description TEXT NOT NULL, state TEXT NOT NULL, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
    created INTEGER NOT NULL, deletion_date INTEGER, pending_window INTEGER,
    rotation_period INTEGER, next_rotation INTEGER, policy TEXT NOT NULL,
    current_version INTEGER NOT NULL, origin TEXT NOT NULL DEFAULT 'AWS_KMS',
    primary_region TEXT,
    PRIMARY KEY (account, region, key_id));
INSERT INTO keys_v3 (account, region, key_id, arn, description, state, key_spec, key_usage,
    created, deletion_date, pending_window, rotation_period, next_rotation, policy, current_version)
    SELECT account, region, key_id, arn, description, state, key_spec, key_usage, created,
    deletion_date, pending_window, rotation_period, next_rotation, policy, current_version FROM keys;
DROP TABLE keys;
ALTER TABLE keys_v3 RENAME TO keys;
CREATE INDEX keys_by_scope ON keys (account, region, created);
CREATE INDEX keys_by_id ON keys (key_id);
CREATE TABLE key_versions_v3 (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version INTEGER NOT NULL,
    sealed BLOB, created INTEGER NOT NULL, kind TEXT NOT NULL, material_id TEXT,
    description TEXT, expiration_model TEXT, valid_to INTEGER,
    PRIMARY KEY (account, region, key_id, version));
INSERT INTO key_versions_v3 (account, region, key_id, version, sealed, created, kind)
    SELECT account, region, key_id, version, sealed, created, kind FROM key_versions;
DROP TABLE key_versions;
ALTER TABLE key_versions_v3 RENAME TO key_versions;
CREATE TABLE tags_v3 (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL, PRIMARY KEY (account, region, key_id, tag_key));
INSERT INTO tags_v3 (account, region, key_id, tag_key, tag_value)
    SELECT account, region, key_id, tag_key, tag_value FROM tags;
DROP TABLE tags;
ALTER TABLE tags_v3 RENAME TO tags;
";

/// Version 4: settings, custom key stores, and a key's custom key store
/// (whose key versions hold the key's label in the token, not material).
const SCHEMA_V4_ADDS: &str = "
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE custom_key_stores (
    account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    cluster_id TEXT NOT NULL, trust_anchor TEXT NOT NULL, password BLOB NOT NULL,
    state TEXT NOT NULL, error_code TEXT, created INTEGER NOT NULL,
    PRIMARY KEY (account, region, id));
CREATE UNIQUE INDEX custom_key_store_names ON custom_key_stores (account, region, name);
CREATE UNIQUE INDEX custom_key_store_clusters ON custom_key_stores (cluster_id);
ALTER TABLE keys ADD COLUMN custom_key_store_id TEXT;
";

/// Version 5: a named grant is found by index, and each key's number of
/// grants is counted by triggers, so CreateGrant costs the same at 50,000
/// grants on a key as at one.
const SCHEMA_V5_ADDS: &str = "
CREATE INDEX grants_by_name ON grants (key_id, name);
CREATE TABLE grant_counts (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (account, region, key_id));
INSERT INTO grant_counts (account, region, key_id, n)
    SELECT account, region, key_id, count(*) FROM grants GROUP BY account, region, key_id;
CREATE TRIGGER grants_counted AFTER INSERT ON grants BEGIN
    INSERT OR IGNORE INTO grant_counts (account, region, key_id, n)
        VALUES (NEW.account, NEW.region, NEW.key_id, 0);
    UPDATE grant_counts SET n = n + 1
        WHERE account = NEW.account AND region = NEW.region AND key_id = NEW.key_id;
END;
CREATE TRIGGER grants_uncounted AFTER DELETE ON grants BEGIN
    UPDATE grant_counts SET n = n - 1
        WHERE account = OLD.account AND region = OLD.region AND key_id = OLD.key_id;
END;
";

/// Version 6: anchors by node; grants counted without triggers.
const SCHEMA_V6: &str = "
CREATE TABLE audit_anchors (
    node TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);
INSERT INTO audit_anchors (node, seq, hash, mac) SELECT '', seq, hash, mac FROM audit_anchor;
DROP TABLE audit_anchor;
DROP TRIGGER grants_counted;
DROP TRIGGER grants_uncounted;
";

/// Brings the database to [`VERSION`], in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Err(StoreError::new(format!(
            "the database has schema version {version}; this keyward reads up to {VERSION}: use a newer keyward"
        )));
    }
    if version == VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let has_keys: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type='table' AND name='keys'",
        [],
        |r| r.get(0),
    )?;
    match (version, has_keys) {
        (0, false) => tx.execute_batch(SCHEMA_V1)?,
        (0, true) => v0_to_v1(&tx)?,
        _ => {}
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2_ADDS)?;
    }
    if version < 3 {
        tx.execute_batch(SCHEMA_V3)?;
    }
    if version < 4 {
        tx.execute_batch(SCHEMA_V4_ADDS)?;
    }
    if version < 5 {
        tx.execute_batch(SCHEMA_V5_ADDS)?;
    }
    tx.execute_batch(SCHEMA_V6)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Every record takes the account and Region of the key it belongs to;
/// aliases were created by that account (CreateAlias needs the key in the
/// caller's account), so they take the key's scope too.
fn v0_to_v1(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "
        CREATE INDEX keys_by_scope ON keys (account, region, created);
        ALTER TABLE key_versions ADD COLUMN account TEXT NOT NULL DEFAULT '';
        ALTER TABLE key_versions ADD COLUMN region TEXT NOT NULL DEFAULT '';
        UPDATE key_versions SET
            account = (SELECT account FROM keys WHERE keys.key_id = key_versions.key_id),
            region = (SELECT region FROM keys WHERE keys.key_id = key_versions.key_id)
            WHERE key_id IN (SELECT key_id FROM keys);
        ALTER TABLE aliases RENAME TO aliases_v0;
        CREATE TABLE aliases (
            account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
            created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (account, region, name));
        CREATE INDEX aliases_by_key ON aliases (key_id);
        INSERT INTO aliases (account, region, name, key_id, created, updated)
            SELECT k.account, k.region, a.name, a.key_id, a.created, a.updated
            FROM aliases_v0 a JOIN keys k ON k.key_id = a.key_id;
        DROP TABLE aliases_v0;
        ALTER TABLE tags ADD COLUMN account TEXT NOT NULL DEFAULT '';
        ALTER TABLE tags ADD COLUMN region TEXT NOT NULL DEFAULT '';
        UPDATE tags SET
            account = (SELECT account FROM keys WHERE keys.key_id = tags.key_id),
            region = (SELECT region FROM keys WHERE keys.key_id = tags.key_id)
            WHERE key_id IN (SELECT key_id FROM keys);
        ALTER TABLE grants ADD COLUMN account TEXT NOT NULL DEFAULT '';
        ALTER TABLE grants ADD COLUMN region TEXT NOT NULL DEFAULT '';
        ALTER TABLE grants ADD COLUMN name TEXT;
        ALTER TABLE grants ADD COLUMN params TEXT NOT NULL DEFAULT '';
        ALTER TABLE grants ADD COLUMN retiring TEXT;
        UPDATE grants SET
            account = (SELECT account FROM keys WHERE keys.key_id = grants.key_id),
            region = (SELECT region FROM keys WHERE keys.key_id = grants.key_id)
            WHERE key_id IN (SELECT key_id FROM keys);
        CREATE INDEX grants_by_token ON grants (token);
        CREATE INDEX grants_by_retiring ON grants (region, retiring);
        ",
    )?;
    let grants: Vec<GrantRecord> = {
        let mut stmt = tx.prepare("SELECT grant_id, key_id, token, document FROM grants")?;
        let rows = stmt.query_map([], |r| {
            Ok(GrantRecord {
                grant_id: r.get(0)?,
                key_id: r.get(1)?,
                token: r.get(2)?,
                document: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for g in grants {
        tx.execute(
            "UPDATE grants SET name=?2, params=?3, retiring=?4 WHERE grant_id=?1",
            params![g.grant_id, g.name(), g.params(), g.retiring()],
        )?;
    }
    Ok(())
}
