//! The store's tables on PostgreSQL and their migrations, versioned in
//! `keyward_schema`. Version 1 holds what SQLite's version 6 holds, plus
//! the log of changes that nodes are notified of. Nodes starting together
//! migrate one at a time: the version row is locked (`SELECT ... FOR
//! UPDATE`, which PostgreSQL-compatible engines accept; no advisory locks).

use super::StoreError;
use super::db::Session;
use super::postgres::Postgres;
use super::sql::Val;

/// The schema this build writes.
const VERSION: i64 = 1;

/// Grants keep their order of creation in `rowid` (SQLite's implicit
/// column of the same name).
const SCHEMA_V1: &str = "
CREATE TABLE keys (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, arn TEXT NOT NULL,
    description TEXT NOT NULL, state TEXT NOT NULL, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
    created BIGINT NOT NULL, deletion_date BIGINT, pending_window BIGINT,
    rotation_period BIGINT, next_rotation BIGINT, policy TEXT NOT NULL,
    current_version BIGINT NOT NULL, origin TEXT NOT NULL DEFAULT 'AWS_KMS',
    primary_region TEXT, custom_key_store_id TEXT,
    PRIMARY KEY (account, region, key_id));
CREATE INDEX keys_by_scope ON keys (account, region, created);
CREATE INDEX keys_by_id ON keys (key_id);
CREATE TABLE key_versions (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version BIGINT NOT NULL,
    sealed BYTEA, created BIGINT NOT NULL, kind TEXT NOT NULL, material_id TEXT,
    description TEXT, expiration_model TEXT, valid_to BIGINT,
    PRIMARY KEY (account, region, key_id, version));
CREATE TABLE aliases (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
    created BIGINT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (account, region, name));
CREATE INDEX aliases_by_key ON aliases (key_id);
CREATE TABLE tags (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL, PRIMARY KEY (account, region, key_id, tag_key));
CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, token TEXT NOT NULL, document TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT, params TEXT NOT NULL, retiring TEXT,
    rowid BIGSERIAL NOT NULL);
CREATE INDEX grants_by_key ON grants (key_id, rowid);
CREATE INDEX grants_by_token ON grants (token);
CREATE INDEX grants_by_retiring ON grants (region, retiring);
CREATE INDEX grants_by_name ON grants (key_id, name);
CREATE TABLE grant_counts (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (account, region, key_id));
CREATE TABLE internal_keys (purpose TEXT PRIMARY KEY, sealed BYTEA NOT NULL);
CREATE TABLE audit_anchors (
    node TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE custom_key_stores (
    account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    cluster_id TEXT NOT NULL, trust_anchor TEXT NOT NULL, password BYTEA NOT NULL,
    state TEXT NOT NULL, error_code TEXT, created BIGINT NOT NULL,
    PRIMARY KEY (account, region, id));
CREATE UNIQUE INDEX custom_key_store_names ON custom_key_stores (account, region, name);
CREATE UNIQUE INDEX custom_key_store_clusters ON custom_key_stores (cluster_id);
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, key_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now());
";

/// Brings the database to [`VERSION`].
pub(super) fn migrate(pg: &Postgres) -> Result<(), StoreError> {
    // Two nodes creating the version table at once: one of them may fail
    // on PostgreSQL's catalog, and finds the table on its second try.
    let create = "CREATE TABLE IF NOT EXISTS keyward_schema (
        id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
        INSERT INTO keyward_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING";
    if pg.session()?.batch(create).is_err() {
        pg.session()?.batch(create)?;
    }
    let mut tx = Session::Postgres(Box::new(pg.session()?)).begin()?;
    let version: i64 = tx
        .query_one(
            "SELECT version FROM keyward_schema WHERE id = 1 FOR UPDATE",
            &[],
        )?
        .ok_or_else(|| StoreError::new("postgresql: keyward_schema has no version"))?
        .get(0)?;
    if version > VERSION {
        return Err(StoreError::new(format!(
            "the database has schema version {version}; this keyward reads up to {VERSION}: use a newer keyward"
        )));
    }
    if version == VERSION {
        return Ok(());
    }
    if version < 1 {
        tx.batch(SCHEMA_V1)?;
    }
    tx.execute(
        "UPDATE keyward_schema SET version = ?1 WHERE id = 1",
        &[Val::Int(VERSION)],
    )?;
    tx.commit()
}
