//! The store on PostgreSQL, shared by several keyward nodes.
//!
//! Statements run on a pool of connections (deadpool-postgres over
//! tokio-postgres), driven by a small runtime of the store's own so that a
//! call blocks only its own thread, whichever runtime it comes from. A
//! transaction that changes a key writes a row to `changes` and sends a
//! notification with it (`NOTIFY`, delivered at commit); every node listens
//! and forgets what it cached of the key. A node that was not listening
//! (its listening connection broke) forgets everything when it listens
//! again, and a check every second of the newest change against the
//! newest notification catches notifications missed otherwise.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::StoreError;
use super::sql::{Cell, Row, Val, postgres_placeholders};

/// The notification channel.
const CHANNEL: &str = "keyward";

/// The key id that stands for every key.
pub(super) const EVERYTHING: &str = "*";

/// How long a connection, a statement or a wait for a free connection
/// may take before the call fails.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How often a node checks for changes it was not told about.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Who is told what changed: a key id, or [`EVERYTHING`].
pub type Subscriber = Arc<dyn Fn(&str) + Send + Sync>;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::new(format!(
                "postgresql: {} ({})",
                db.message(),
                db.code().code()
            )),
            None => StoreError::new(format!("postgresql: {}", with_causes(&e))),
        }
    }
}

impl ToSql for Val<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Val::Text(s) => s.to_sql(ty, out),
            Val::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// An error and the errors that caused it ("error connecting to server:
/// Connection refused").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

fn row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let cell = match *c.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Int(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Int(v.into())),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Cell::Int(v.into())),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Blob),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
            }
            ref t => return Err(StoreError::new(format!("unexpected column type {t}"))),
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row(cells))
}

/// What the listener and the check share with the store.
struct Shared {
    node: String,
    subscribers: Mutex<Vec<Subscriber>>,
    /// The newest change a notification told of.
    notified: AtomicI64,
    /// Whether the database delivers notifications (PostgreSQL does; some
    /// engines that speak its protocol do not, and then the check every
    /// second is how nodes learn of changes).
    notify: bool,
}

impl Shared {
    fn tell(&self, key_id: &str) {
        let subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for s in subscribers {
            s(key_id);
        }
    }

    /// A notification: `SEQ NODE KEY_ID`. A node's own changes are in its
    /// caches already.
    fn received(&self, payload: &str) {
        let mut parts = payload.splitn(3, ' ');
        let (Some(seq), Some(node), Some(key_id)) = (parts.next(), parts.next(), parts.next())
        else {
            self.tell(EVERYTHING);
            return;
        };
        if let Ok(seq) = seq.parse::<i64>() {
            self.notified.fetch_max(seq, Ordering::AcqRel);
        }
        if node != self.node {
            self.tell(key_id);
        }
    }
}

pub(super) struct Postgres {
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    shared: Arc<Shared>,
}

impl Postgres {
    /// Connects to `url` (a `postgresql://` URL or `key=value` settings;
    /// what it leaves out comes from the `PG*` environment variables),
    /// creates or migrates the schema, and starts listening for other
    /// nodes' changes.
    pub(super) fn connect(url: &str, node: &str) -> Result<Postgres, StoreError> {
        let config = config(url)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keyward-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(format!("postgresql runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .recycle_timeout(Some(TIMEOUT))
            .build()
            .map_err(|e| StoreError::new(format!("postgresql pool: {e}")))?;
        let shared = Arc::new(Shared {
            node: node.to_owned(),
            subscribers: Mutex::new(Vec::new()),
            notified: AtomicI64::new(0),
            notify: true,
        });
        let mut pg = Postgres {
            rt: Some(rt),
            pool,
            shared,
        };
        // The probe runs in a transaction that rolls back, so that no
        // node hears it.
        let delivers = {
            let mut probe = pg.session()?;
            probe.batch("BEGIN")?;
            let ok = probe
                .execute("SELECT pg_notify(?1, '')", &[Val::Text(CHANNEL)])
                .is_ok();
            probe.batch("ROLLBACK")?;
            ok
        };
        if !delivers && let Some(shared) = Arc::get_mut(&mut pg.shared) {
            shared.notify = false;
        }
        super::pg_schema::migrate(&pg)?;
        let newest = pg
            .session()?
            .query("SELECT coalesce(max(seq), 0) FROM changes", &[])?
            .first()
            .map(|r| r.get::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        pg.shared.notified.store(newest, Ordering::Release);
        if let Some(rt) = &pg.rt {
            if pg.shared.notify {
                rt.spawn(listen(config, Arc::clone(&pg.shared)));
            }
            rt.spawn(check(pg.pool.clone(), Arc::clone(&pg.shared), newest));
        }
        Ok(pg)
    }

    /// Runs `f` to completion on this thread, with the store's runtime
    /// driving the connections.
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        let _entered = self.rt.as_ref().map(tokio::runtime::Runtime::enter);
        futures_executor::block_on(f)
    }

    pub(super) fn session(&self) -> Result<PgSession<'_>, StoreError> {
        let client = self.block_on(self.pool.get()).map_err(|e| match e {
            deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::timeout(format!("postgresql: no connection in time ({e})"))
            }
            deadpool_postgres::PoolError::Backend(e) => StoreError::from(e),
            e => StoreError::new(format!("postgresql: {}", with_causes(&e))),
        })?;
        Ok(PgSession {
            pg: self,
            client: Some(client),
        })
    }

    pub(super) fn subscribe(&self, s: Subscriber) {
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropped from anywhere, also from inside another runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// One pooled connection.
pub(super) struct PgSession<'a> {
    pg: &'a Postgres,
    /// `None` once discarded.
    client: Option<deadpool_postgres::Object>,
}

impl PgSession<'_> {
    fn client(&self) -> Result<&deadpool_postgres::Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::new("postgresql: connection discarded"))
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<usize, StoreError> {
        let client = self.client()?;
        let sql = postgres_placeholders(sql);
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let n = self.pg.block_on(async {
            let stmt = in_time(client.prepare_cached(&sql)).await?;
            in_time(client.execute(&stmt, &params)).await
        })?;
        usize::try_from(n).map_err(|_| StoreError::new("row count"))
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>, StoreError> {
        let client = self.client()?;
        let sql = postgres_placeholders(sql);
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.pg.block_on(async {
            let stmt = in_time(client.prepare_cached(&sql)).await?;
            in_time(client.query(&stmt, &params)).await
        })?;
        rows.iter().map(row).collect()
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let client = self.client()?;
        self.pg.block_on(in_time(client.batch_execute(sql)))
    }

    /// Records the keys a transaction changed and notifies the nodes; both
    /// take effect when the transaction commits.
    pub(super) fn announce(&mut self, key_ids: &[String]) -> Result<(), StoreError> {
        let notify = self.pg.shared.notify;
        for key_id in key_ids {
            let node = self.pg.shared.node.clone();
            let seq: i64 = self
                .query(
                    "INSERT INTO changes (node, key_id) VALUES (?1, ?2) RETURNING seq",
                    &[Val::Text(&node), Val::Text(key_id)],
                )?
                .first()
                .ok_or_else(|| StoreError::new("postgresql: no change number"))?
                .get(0)?;
            if !notify {
                continue;
            }
            let payload = format!("{seq} {node} {key_id}");
            self.execute(
                "SELECT pg_notify(?1, ?2)",
                &[Val::Text(CHANNEL), Val::Text(&payload)],
            )?;
        }
        Ok(())
    }

    /// Drops the connection instead of returning it to the pool.
    pub(super) fn discard(&mut self) {
        if let Some(c) = self.client.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

/// `f`, given up after [`TIMEOUT`] (the server gives up too: its
/// `statement_timeout` is the same).
async fn in_time<T>(
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .map_err(|_| StoreError::timeout("postgresql: statement timed out"))?
        .map_err(StoreError::from)
}

/// The connection settings: `url`, then the `PG*` environment variables
/// for what it leaves out (as libpq does).
fn config(url: &str) -> Result<Config, StoreError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    // The driver reads a URL host without a port as port 5432: PGPORT goes
    // into the text first.
    let url = match env("PGPORT") {
        Some(port) => with_port(url, &port),
        None => url.to_owned(),
    };
    let mut c: Config = url.parse().map_err(|e| {
        StoreError::new(format!(
            "--store: {e}: expected postgresql://USER@HOST:PORT/DATABASE or key=value settings"
        ))
    })?;
    if c.get_hosts().is_empty() {
        c.host(env("PGHOST").as_deref().unwrap_or("localhost"));
    }
    if c.get_ports().is_empty()
        && let Some(p) = env("PGPORT")
    {
        c.port(
            p.parse()
                .map_err(|_| StoreError::new(format!("PGPORT={p}: not a port")))?,
        );
    }
    if c.get_user().is_none()
        && let Some(u) = env("PGUSER")
    {
        c.user(&u);
    }
    if c.get_password().is_none()
        && let Some(p) = env("PGPASSWORD")
    {
        c.password(p);
    }
    if c.get_dbname().is_none()
        && let Some(d) = env("PGDATABASE")
    {
        c.dbname(&d);
    }
    if c.get_connect_timeout().is_none() {
        c.connect_timeout(TIMEOUT);
    }
    c.application_name("keyward");
    if c.get_options().is_none() {
        // The server gives up on a statement when the client would.
        c.options(format!("-c statement_timeout={}", TIMEOUT.as_millis()));
    }
    Ok(c)
}

/// `url` with `port` where it names a host but no port.
fn with_port(url: &str, port: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // key=value settings
        return if url.split_whitespace().any(|kv| kv.starts_with("port=")) {
            url.to_owned()
        } else {
            format!("{url} port={port}")
        };
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let has_port = match hosts.rfind(']') {
        Some(close) => hosts[close..].contains(':'),
        None => hosts.contains(':'),
    };
    if hosts.is_empty() || hosts.contains(',') || has_port {
        return url.to_owned();
    }
    format!("{scheme}://{userinfo}{hosts}:{port}{tail}")
}

/// Listens for notifications, reconnecting while the database is away;
/// after every (re)connection everything cached is forgotten, as changes
/// may have been missed meanwhile.
async fn listen(config: Config, shared: Arc<Shared>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let driver = tokio::spawn(async move {
                let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
                while let Some(Ok(m)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = m
                        && tx.send(n.payload().to_owned()).is_err()
                    {
                        break;
                    }
                }
            });
            if client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .is_ok()
            {
                shared.tell(EVERYTHING);
                while let Some(payload) = rx.recv().await {
                    shared.received(&payload);
                }
            }
            driver.abort();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every [`CHECK_EVERY`]: if the newest change seen at the previous check
/// has still not been notified, notifications were lost: forget
/// everything. Once a minute, changes older than an hour are removed.
async fn check(pool: Pool, shared: Arc<Shared>, mut previous: i64) {
    let mut ticks: u64 = 0;
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        ticks += 1;
        let Ok(client) = pool.get().await else {
            continue;
        };
        if let Ok(r) = client
            .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
            .await
        {
            let newest: i64 = r.try_get(0).unwrap_or(previous);
            // Without notifications every change is news; with them, a
            // change is missed if a whole check later it is still unheard of.
            let unheard = if shared.notify { previous } else { newest };
            if unheard > shared.notified.load(Ordering::Acquire) {
                shared.notified.fetch_max(unheard, Ordering::AcqRel);
                shared.tell(EVERYTHING);
            }
            previous = newest;
        }
        if ticks.is_multiple_of(60) {
            let _ = client
                .execute(
                    "DELETE FROM changes WHERE at < now() - interval '1 hour'",
                    &[],
                )
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(node: &str) -> (Arc<Shared>, Arc<Mutex<Vec<String>>>) {
        let told = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&told);
        let s = Arc::new(Shared {
            node: node.to_owned(),
            subscribers: Mutex::new(vec![Arc::new(move |k: &str| {
                into.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(k.to_owned());
            })]),
            notified: AtomicI64::new(0),
            notify: true,
        });
        (s, told)
    }

    #[test]
    fn notifications_tell_other_nodes_changes_and_count_every_change() {
        let (s, told) = shared("a");
        s.received("7 b 1234abcd-key");
        s.received("9 a mine");
        s.received("8 b custom-key-store/cks-1");
        s.received("garbled");
        let told = told.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // A node's own change is in its cache already; a payload that does
        // not parse may have been anything.
        assert_eq!(told, ["1234abcd-key", "custom-key-store/cks-1", EVERYTHING]);
        assert_eq!(s.notified.load(Ordering::Acquire), 9);
    }

    #[test]
    fn pgport_fills_a_port_the_url_leaves_out_and_nothing_else() {
        let cases = [
            (
                "postgresql://127.0.0.1/keyward",
                "postgresql://127.0.0.1:6000/keyward",
            ),
            (
                "postgresql://u:p@db/keyward?sslmode=disable",
                "postgresql://u:p@db:6000/keyward?sslmode=disable",
            ),
            ("postgresql://db", "postgresql://db:6000"),
            ("postgresql://[::1]/k", "postgresql://[::1]:6000/k"),
            ("postgresql://db:5433/k", "postgresql://db:5433/k"),
            ("postgresql://[::1]:5433/k", "postgresql://[::1]:5433/k"),
            ("postgresql:///k", "postgresql:///k"),
            ("postgresql://a,b/k", "postgresql://a,b/k"),
            ("host=db dbname=k", "host=db dbname=k port=6000"),
            ("host=db port=5433", "host=db port=5433"),
        ];
        for (url, want) in cases {
            assert_eq!(with_port(url, "6000"), want, "{url}");
        }
    }
}
