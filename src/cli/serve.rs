//! `keyward serve`: its flags and start banner; the server itself is
//! `keyward::server`.

use std::io::Write;
use std::path::PathBuf;

use keyward::scope::Region;

use super::{DEFAULT_DATA, ExitCode};

#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4599")]
    listen: std::net::SocketAddr,
    /// The data directory (created on first start).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The identities file (default: DATA/identities.json, created with a
    /// development administrator on first start).
    #[arg(long)]
    identities: Option<PathBuf>,
    /// A Region to serve (repeatable); requests signed for any other are
    /// refused. Default: every standard AWS Region.
    #[arg(long = "region", value_parser = parse_region)]
    regions: Vec<Region>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus `/metrics` on this address (never on --listen).
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Seconds a client has to send a request head, from connecting or from
    /// its previous response (idle keep-alive connections close after it).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds to receive a request body and answer it.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// Seconds a TLS client has to complete its handshake.
    #[arg(long, default_value_t = 10)]
    tls_handshake_timeout: u64,
    /// Connections open at once; more wait until one closes.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Request quotas per account and Region: `aws` (AWS KMS's default
    /// rates), `off`, or a TOML file whose `[rates]` table sets families'
    /// requests per second (the others keep AWS's rates).
    #[arg(long, default_value = "aws")]
    quotas: String,
    /// Multiplies AWS's default rates (0.01 to try throttling locally).
    #[arg(long, default_value_t = 1.0)]
    quota_scale: f64,
    /// Operational log lines on standard error: `text` or `json` (one
    /// object per line). `RUST_LOG` filters them (default `info`; e.g.
    /// `RUST_LOG=keyward=debug`, `RUST_LOG=off`). Separate from the audit
    /// log; never holds secrets, plaintext or request bodies.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log requests that take longer than this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    slow_request_ms: u64,
    /// For tests only: the key service's clock (key material expiry,
    /// deletion, rotation; not request signatures) runs this many seconds,
    /// read from FILE on every use, ahead of the system clock.
    #[arg(long, hide = true, value_name = "FILE")]
    test_clock_offset: Option<std::path::PathBuf>,
    /// A "CloudHSM cluster" for custom key stores (repeatable):
    /// `CLUSTER-ID=PKCS11-URI`, e.g.
    /// `cluster-1a23b4cdefg=pkcs11:token=cks1?module-path=/usr/lib/softhsm/libsofthsm2.so`.
    /// The token's user PIN is the custom key store's KeyStorePassword.
    #[arg(long = "cloudhsm-cluster", value_name = "ID=PKCS11-URI")]
    clusters: Vec<String>,
    /// The trust anchor certificate (PEM file) a custom key store must give
    /// for a cluster (repeatable): `CLUSTER-ID=PATH`. A cluster without one
    /// takes any PEM certificate.
    #[arg(long = "cloudhsm-trust-anchor", value_name = "ID=PATH")]
    trust_anchors: Vec<String>,
    /// When the audit record of a call that changes nothing is on disk:
    /// `flush` (written before the response, synced every second and on
    /// shutdown) or `group` (synced before the response, one fsync shared
    /// by the calls that arrive while the previous one runs). A change's
    /// record is always synced before the change commits.
    #[arg(long, value_enum, default_value_t = AuditSyncArg::Flush)]
    audit_sync: AuditSyncArg,
    /// Keep keys, aliases, grants and policies in a PostgreSQL database
    /// shared with other keyward nodes, instead of the embedded database in
    /// DATA: `postgresql://USER@HOST:PORT/DB` (what it leaves out comes from
    /// PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Every node needs the
    /// same root key and identities; each keeps its audit log in its DATA.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// This node's name in a shared store, in each of its audit records
    /// (default: made once and kept in DATA/node-id).
    #[arg(long, requires = "store")]
    node_id: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum AuditSyncArg {
    Flush,
    Group,
}

/// The clusters `--cloudhsm-cluster` and `--cloudhsm-trust-anchor` name.
fn clusters(a: &ServeArgs) -> miette::Result<Vec<keyward::service::Cluster>> {
    let mut clusters = Vec::new();
    for arg in &a.clusters {
        let c = keyward::service::Cluster::parse(arg)
            .map_err(|e| miette::miette!("--cloudhsm-cluster {e}"))?;
        if clusters
            .iter()
            .any(|k: &keyward::service::Cluster| k.id == c.id)
        {
            miette::bail!("--cloudhsm-cluster {} is given twice", c.id);
        }
        clusters.push(c);
    }
    for arg in &a.trust_anchors {
        let (id, path) = arg
            .split_once('=')
            .ok_or_else(|| miette::miette!("--cloudhsm-trust-anchor `{arg}`: expected ID=PATH"))?;
        let c = clusters.iter_mut().find(|c| c.id == id).ok_or_else(|| {
            miette::miette!("--cloudhsm-trust-anchor {id}: no --cloudhsm-cluster {id}")
        })?;
        c.trust_anchor = Some(
            std::fs::read_to_string(path)
                .map_err(|e| miette::miette!("--cloudhsm-trust-anchor {path}: {e}"))?,
        );
    }
    Ok(clusters)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum LogFormat {
    Text,
    Json,
}

/// Sends operational logs to standard error, filtered by `RUST_LOG`.
fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second subscriber (tests that start servers in one process) keeps
    // the first.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// The system clock plus the seconds written in `file` (0 when it is
/// missing or unreadable).
fn offset_clock(file: std::path::PathBuf) -> keyward::service::Clock {
    std::sync::Arc::new(move || {
        let offset = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        now.saturating_add(offset)
    })
}

/// The quota limits `--quotas` and `--quota-scale` ask for.
fn quota_limits(a: &ServeArgs) -> miette::Result<Option<keyward::service::quota::Limits>> {
    use keyward::service::quota::Limits;
    if !(a.quota_scale.is_finite() && a.quota_scale > 0.0) {
        miette::bail!("--quota-scale must be a positive number");
    }
    let mut limits = Limits::scaled(a.quota_scale);
    match a.quotas.as_str() {
        "off" => return Ok(None),
        "aws" => {}
        path => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| miette::miette!("--quotas {path}: {e}"))?;
            let doc: toml::Table =
                toml::from_str(&text).map_err(|e| miette::miette!("--quotas {path}: {e}"))?;
            for key in doc.keys() {
                if key != "rates" {
                    miette::bail!(
                        "--quotas {path}: unknown table `{key}`; the file has one table, [rates]"
                    );
                }
            }
            let rates = doc
                .get("rates")
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default();
            for (family, rate) in rates {
                let rate = rate
                    .as_float()
                    .or_else(|| rate.as_integer().map(|n| n as f64))
                    .ok_or_else(|| {
                        miette::miette!("--quotas {path}: the rate of `{family}` must be a number")
                    })?;
                limits
                    .set(&family, rate)
                    .map_err(|e| miette::miette!("--quotas {path}: {e}"))?;
            }
        }
    }
    Ok(Some(limits))
}

pub(super) fn serve_cmd(a: ServeArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    use keyward::server;
    let config = server::Config {
        listen: a.listen,
        data: a.data.clone(),
        identities: a.identities.clone(),
        regions: if a.regions.is_empty() {
            Region::commercial()
        } else {
            a.regions.clone()
        },
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        metrics_listen: a.metrics_listen,
        limits: server::Limits {
            header_timeout: std::time::Duration::from_secs(a.header_timeout.max(1)),
            request_timeout: std::time::Duration::from_secs(a.request_timeout.max(1)),
            handshake_timeout: std::time::Duration::from_secs(a.tls_handshake_timeout.max(1)),
            max_connections: a.max_connections.max(1),
            slow_request: std::time::Duration::from_millis(a.slow_request_ms),
        },
        clusters: clusters(&a)?,
        audit_sync: match a.audit_sync {
            AuditSyncArg::Flush => keyward::service::AuditSync::Flush,
            AuditSyncArg::Group => keyward::service::AuditSync::Group,
        },
        store: a.store.clone(),
        node: a.node_id.clone(),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let example_region = config
        .regions
        .iter()
        .find(|r| r.as_str() == "us-east-1")
        .or(config.regions.first())
        .map(|r| r.to_string())
        .unwrap_or_default();
    let limits = quota_limits(&a)?;
    init_logs(a.log_format);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        regions = config.regions.len(),
        tls = config.tls.is_some(),
        quotas = %a.quotas,
        max_connections = config.limits.max_connections,
        "keyward serve starting"
    );
    let (service, identities, startup) = server::prepare(&config)?;
    tracing::info!(
        identities = identities.len(),
        file = %startup.identities.display(),
        "identities loaded"
    );
    let mut service = service.with_quotas(keyward::service::quota::Quotas::new(limits));
    if let Some(file) = a.test_clock_offset.clone() {
        service = service.with_clock(offset_clock(file));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the runtime: {e}"))?;
    let node_banner = match &a.store {
        Some(_) => format!(" (node {} of a shared PostgreSQL store)", service.node()),
        None => String::new(),
    };
    let mut banner = String::new();
    let served = runtime.block_on(server::serve(config, service, identities, |addr, metrics| {
        tracing::info!(
            api = %addr,
            metrics = %metrics.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
            scheme,
            "listening"
        );
        let metrics = metrics
            .map(|m| format!(" (metrics on http://{m}/metrics)"))
            .unwrap_or_default();
        banner.push_str(&format!(
            "keyward serve: listening on {scheme}://{addr}{metrics}\n  data: {}{} (identities: {})\n",
            a.data.display(),
            node_banner,
            startup.identities.display()
        ));
        // A secret is printed once, when it was just created; after that it
        // lives only in the identities file (mode 0600).
        match &startup.credentials {
            Some((key, secret)) => banner.push_str(&format!(
                "  created a development identity: arn:aws:iam::111122223333:user/keyward-admin, allowed kms:*\n\nTry it:\n  export AWS_ACCESS_KEY_ID={key}\n  export AWS_SECRET_ACCESS_KEY={secret}\n  export AWS_DEFAULT_REGION={example_region}\n  aws kms create-key --endpoint-url {scheme}://{addr}\n"
            )),
            None => banner.push_str(&format!(
                "\nTry it (credentials from the identities file):\n  aws kms create-key --endpoint-url {scheme}://{addr}\n"
            )),
        }
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
    }));
    match &served {
        Ok(()) => tracing::info!("stopped; the audit log is synced"),
        Err(e) => tracing::error!(error = %e, "stopped"),
    }
    served?;
    Ok(ExitCode::Ok)
}

fn parse_region(s: &str) -> Result<Region, String> {
    Region::parse(s).ok_or_else(|| {
        format!("`{s}` is not a Region name (lowercase, like us-east-1 or ap-southeast-7)")
    })
}
