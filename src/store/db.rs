//! A connection to whichever database holds the store, and the
//! transactions on it. A [`Session`] runs single statements; a [`Tx`] runs
//! several as one change and rolls them back unless committed.

use std::sync::MutexGuard;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::StoreError;
use super::postgres::PgSession;
use super::sql::{Cell, Row, Val};

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(i),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn sqlite_cell(v: ValueRef<'_>) -> Result<Cell, StoreError> {
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Text(t) => Cell::Text(
            std::str::from_utf8(t)
                .map_err(|e| StoreError::new(format!("text column: {e}")))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        ValueRef::Real(_) => return Err(StoreError::new("unexpected real number")),
    })
}

/// One connection, held for the statements of one call.
pub(super) enum Session<'a> {
    Sqlite(MutexGuard<'a, rusqlite::Connection>),
    Postgres(Box<PgSession<'a>>),
}

impl<'a> Session<'a> {
    /// Runs a statement; the number of rows it changed.
    pub(super) fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<usize, StoreError> {
        match self {
            Session::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Session::Postgres(pg) => pg.execute(sql, params),
        }
    }

    /// The rows a query returns.
    pub(super) fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>, StoreError> {
        match self {
            Session::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let cells = (0..width)
                        .map(|i| sqlite_cell(r.get_ref(i)?))
                        .collect::<Result<_, StoreError>>()?;
                    out.push(Row(cells));
                }
                Ok(out)
            }
            Session::Postgres(pg) => pg.query(sql, params),
        }
    }

    /// The first row a query returns, if any.
    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: &[Val<'_>],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Starts a transaction. SQLite takes its write lock at once, so that
    /// a transaction that reads before it writes sees what it changes.
    pub(super) fn begin(mut self) -> Result<Tx<'a>, StoreError> {
        let begin = match self {
            Session::Sqlite(_) => "BEGIN IMMEDIATE",
            Session::Postgres(_) => "BEGIN",
        };
        self.batch(begin)?;
        Ok(Tx {
            session: self,
            open: true,
            changed: Vec::new(),
        })
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Session::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Session::Postgres(pg) => pg.batch(sql),
        }
    }
}

/// A transaction: committed by [`Tx::commit`], rolled back when dropped.
pub(super) struct Tx<'a> {
    session: Session<'a>,
    open: bool,
    /// Keys whose cached state other nodes must drop when this commits.
    changed: Vec<String>,
}

impl Tx<'_> {
    pub(super) fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<usize, StoreError> {
        self.session.execute(sql, params)
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>, StoreError> {
        self.session.query(sql, params)
    }

    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: &[Val<'_>],
    ) -> Result<Option<Row>, StoreError> {
        self.session.query_one(sql, params)
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.session.batch(sql)
    }

    /// Notes that this transaction changes key `key_id` (in any of its
    /// Regions): nodes that share the store forget what they cached of it.
    pub(super) fn changes_key(&mut self, key_id: &str) {
        if !self.changed.iter().any(|k| k == key_id) {
            self.changed.push(key_id.to_owned());
        }
    }

    /// Notes that this transaction changes what every node may have cached
    /// (the root key moved).
    pub(super) fn changes_everything(&mut self) {
        self.changes_key(super::postgres::EVERYTHING);
    }

    pub(super) fn commit(mut self) -> Result<(), StoreError> {
        if let Session::Postgres(pg) = &mut self.session {
            pg.announce(&self.changed)?;
        }
        self.open = false;
        self.session.batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves a broken connection, which the pool
            // (PostgreSQL) or the next BEGIN (SQLite) refuses.
            if self.session.batch("ROLLBACK").is_err()
                && let Session::Postgres(pg) = &mut self.session
            {
                pg.discard();
            }
        }
    }
}
