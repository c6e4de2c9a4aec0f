//! `keyward serve`: the AWS KMS JSON 1.1 protocol over HTTP, a thin adapter
//! over [`crate::service`]. Every request is authenticated with SigV4
//! against the identities file before the service sees it.

pub mod identities;
mod listener;
mod metrics;
mod prepare;
pub mod sigv4;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::eval::Caller;
use crate::scope::Region;
use crate::service::{ErrorKind, Identity, KeyService, KmsError, Refusal};
use identities::Identities;
pub use listener::Limits;
use metrics::{Metrics, UNAUTHENTICATED};
pub use prepare::{Startup, prepare};

/// Request bodies larger than this are refused (KMS requests are small:
/// 4 KB of plaintext, 32 KB of policy).
pub const MAX_BODY: usize = 1024 * 1024;

/// The header a service identity names its principal in.
pub const ON_BEHALF_OF: &str = "x-keyward-on-behalf-of";

pub struct Config {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub identities: Option<PathBuf>,
    /// The Regions this server answers for (the first is the CLI's default);
    /// a request signed for any other is refused.
    pub regions: Vec<Region>,
    /// Serve HTTPS with this certificate chain and private key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Serve `/metrics` here (never on the API address).
    pub metrics_listen: Option<SocketAddr>,
    pub limits: Limits,
    /// The PKCS#11 tokens custom key stores may use.
    pub clusters: Vec<crate::service::Cluster>,
    /// When a call's audit record must be on disk.
    pub audit_sync: crate::service::AuditSync,
    /// A PostgreSQL store shared with other nodes, instead of the embedded
    /// one in the data directory.
    pub store: Option<String>,
    /// This node's name in a shared store.
    pub node: Option<String>,
}

/// Who a refused request came from, as far as the server got.
struct Edge<'a> {
    peer: std::net::IpAddr,
    access_key: Option<&'a str>,
    principal: Option<&'a str>,
}

/// Marks a request that arrived over TLS (`aws:SecureTransport`).
#[derive(Debug, Clone, Copy)]
struct Secure;

struct AppState {
    service: KeyService,
    identities: Identities,
    regions: Vec<Region>,
    metrics: Metrics,
    slow_request: std::time::Duration,
    signing_keys: sigv4::SigningKeys,
}

impl AppState {
    /// A request refused before it reached the service (400 with the AWS
    /// error type), counted under its operation.
    fn reject(
        &self,
        edge: &Edge<'_>,
        operation: &'static str,
        started: Instant,
        aws_type: &'static str,
        message: &str,
    ) -> Response {
        self.metrics
            .record(operation, aws_type, None, started.elapsed().as_secs_f64());
        // Who and what, never the request's body or signature.
        tracing::info!(
            operation,
            error = aws_type,
            peer = %edge.peer,
            access_key = edge.access_key.unwrap_or("-"),
            principal = edge.principal.unwrap_or("-"),
            "refused at the edge"
        );
        let request_id = uuid::Uuid::new_v4().to_string();
        let refusal = Refusal {
            request_id: &request_id,
            operation: crate::service::OPERATIONS
                .contains(&operation)
                .then_some(operation),
            principal: edge.principal,
            access_key_id: edge.access_key,
            source_ip: Some(edge.peer),
            error_code: aws_type,
            message,
        };
        if let Err(e) = self.service.record_refusal(&refusal) {
            return kms_error(&e, &request_id);
        }
        error_response_with_id(400, aws_type, message, &request_id)
    }
}

fn error_response(status: u16, aws_type: &str, message: &str) -> Response {
    error_response_with_id(status, aws_type, message, &uuid::Uuid::new_v4().to_string())
}

/// An error response carrying `request_id`: the `requestID` of the call's
/// audit record, as AWS's `x-amzn-RequestId` is CloudTrail's.
fn error_response_with_id(
    status: u16,
    aws_type: &str,
    message: &str,
    request_id: &str,
) -> Response {
    // AWS spells the member `Message` in the validation errors its request
    // framework raises and `message` in the exceptions KMS models.
    let member = if aws_type == "ValidationException" {
        "Message"
    } else {
        "message"
    };
    let body = json!({"__type": aws_type, member: message}).to_string();
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, "application/x-amz-json-1.1")
        .header("x-amzn-requestid", request_id)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn kms_error(e: &KmsError, request_id: &str) -> Response {
    error_response_with_id(
        e.kind.http_status(),
        e.kind.aws_type(),
        &e.message,
        request_id,
    )
}

/// The Region a verified request was signed for, if its credential scope is
/// one this server answers for: service `kms` and a served Region. The
/// messages are AWS's (several faults are reported together, Region first).
fn credential_region(verified: &sigv4::Verified, served: &[Region]) -> Result<Region, String> {
    let region = Region::parse(&verified.region).filter(|r| served.contains(r));
    let mut faults = String::new();
    if region.is_none() {
        faults.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            verified.region
        ));
    }
    if verified.service != "kms" {
        faults.push_str("Credential should be scoped to correct service: 'kms'. ");
    }
    match region {
        Some(r) if faults.is_empty() => Ok(r),
        _ => Err(faults),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn kms(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    secure: Option<axum::Extension<Secure>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let Ok(body) = body else {
        return error_response(
            413,
            "ValidationException",
            &format!("the request body exceeds {MAX_BODY} bytes"),
        );
    };
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let operation = target
        .strip_prefix("TrentService.")
        .unwrap_or("")
        .to_owned();
    let op_label = metrics::operation_label(&operation);
    let signed = sigv4::SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        body: &body,
    };
    let verified = sigv4::verify_cached(
        &signed,
        |key| state.identities.by_access_key(key).map(|e| e.secret()),
        now(),
        &state.signing_keys,
    );
    let verified = match verified {
        Ok(v) => v,
        Err(e) => {
            let anonymous = Edge {
                peer: peer.ip(),
                access_key: None,
                principal: None,
            };
            return state.reject(
                &anonymous,
                UNAUTHENTICATED,
                started,
                e.aws_type(),
                &e.to_string(),
            );
        }
    };
    let Some(entry) = state
        .identities
        .by_access_key(&verified.access_key_id)
        .cloned()
    else {
        return error_response(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    };
    let edge = Edge {
        peer: peer.ip(),
        access_key: Some(&verified.access_key_id),
        principal: Some(&entry.identity.caller.arn),
    };
    let region = match credential_region(&verified, &state.regions) {
        Ok(r) => r,
        Err(message) => {
            return state.reject(
                &edge,
                UNAUTHENTICATED,
                started,
                "InvalidSignatureException",
                &message,
            );
        }
    };
    if operation.is_empty() || !crate::service::OPERATIONS.contains(&operation.as_str()) {
        return state.reject(
            &edge,
            op_label,
            started,
            "UnknownOperationException",
            &format!("unknown operation `{target}`"),
        );
    }
    let mut identity = entry.identity.clone();
    if let Some(behalf) = headers.get(ON_BEHALF_OF).and_then(|v| v.to_str().ok()) {
        match (
            &entry.service,
            entry.may_act_for.iter().any(|p| p == behalf),
        ) {
            (Some(service), true) => {
                identity = match state.identities.by_principal(behalf) {
                    Some(e) => e.identity.clone(),
                    None => match Caller::parse(behalf) {
                        Ok(c) => Identity::new(c),
                        Err(e) => {
                            return error_response(400, "ValidationException", &e.to_string());
                        }
                    },
                };
                identity.via_service = Some(service.clone());
            }
            _ => {
                return state.reject(
                    &edge,
                    op_label,
                    started,
                    "AccessDeniedException",
                    &format!(
                        "{} may not act on behalf of {behalf}",
                        entry.identity.caller.arn
                    ),
                );
            }
        }
    }
    identity.source_ip = Some(peer.ip());
    identity.region = Some(region);
    identity.secure_transport = secure.is_some();
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return state.reject(
                    &edge,
                    op_label,
                    started,
                    "SerializationException",
                    &format!("the request body is not JSON: {e}"),
                );
            }
        }
    };
    let Some((result, request_id, identity)) =
        workers::run_call(&state, identity, operation, input).await
    else {
        return state.reject(
            &edge,
            op_label,
            started,
            "KMSInternalException",
            "the call did not complete",
        );
    };
    let seconds = started.elapsed().as_secs_f64();
    if started.elapsed() > state.slow_request {
        tracing::warn!(
            operation = op_label,
            ms = (seconds * 1000.0) as u64,
            outcome = result.as_ref().map_or_else(|e| e.kind.aws_type(), |_| "ok"),
            principal = %identity.caller.arn,
            "slow request"
        );
    }
    if matches!(op_label, "Decrypt" | "ReEncrypt") {
        let refused = result.as_ref().err().map(|e| match e.kind {
            ErrorKind::AccessDenied if e.context_mismatch => "context_mismatch",
            ErrorKind::AccessDenied => "no_permission",
            ErrorKind::Disabled | ErrorKind::KmsInvalidState => "disabled_key",
            ErrorKind::IncorrectKey => "wrong_key",
            ErrorKind::InvalidCiphertext => "invalid_ciphertext",
            _ => "other",
        });
        state.metrics.record_unwrap(&identity.caller.arn, refused);
    }
    match result {
        Ok(v) => {
            state.metrics.record(op_label, "ok", None, seconds);
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/x-amz-json-1.1")
                .header("x-amzn-requestid", request_id)
                .body(Body::from(v.to_string()))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Err(e) => {
            let denied =
                (e.kind == ErrorKind::AccessDenied).then_some(identity.caller.arn.as_str());
            state
                .metrics
                .record(op_label, e.kind.aws_type(), denied, seconds);
            kms_error(&e, &request_id)
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(
            state.metrics.render() + &state.service.quota_metrics(),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn too_large_or_other(method: Method) -> Response {
    if method == Method::POST {
        error_response(400, "ValidationException", "unsupported path")
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// How often the audit log's head is synced and anchored in the store.
pub const AUDIT_ANCHOR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the server until SIGINT or SIGTERM; in-flight requests finish and
/// the audit log is synced before it returns. `ready` gets the API address
/// and, with `--metrics-listen`, the metrics address.
pub async fn serve(
    config: Config,
    service: KeyService,
    identities: Identities,
    ready: impl FnOnce(SocketAddr, Option<SocketAddr>),
) -> Result<(), miette::Report> {
    let state = Arc::new(AppState {
        service,
        identities,
        regions: config.regions.clone(),
        metrics: Metrics::default(),
        slow_request: config.limits.slow_request,
        signing_keys: sigv4::SigningKeys::default(),
    });
    let deadline = config.limits.request_timeout;
    let app = Router::new()
        .route("/", post(kms))
        .route("/healthz", get(healthz))
        .fallback(too_large_or_other)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(deadline, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => error_response(
                        408,
                        "RequestTimeoutException",
                        "the request was not received and answered in time",
                    ),
                }
            },
        ))
        .with_state(state.clone());
    let metrics_app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state.clone());
    let acceptor = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| miette::miette!("cannot listen on {addr}: {e}"))
    };
    let api = bind(config.listen).await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    ready(
        listener::local(&api)?,
        metrics_listener.as_ref().map(listener::local).transpose()?,
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // Records of calls that change nothing are anchored every second (a
    // change's record is anchored as it commits).
    let anchoring = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(AUDIT_ANCHOR_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let state = state.clone();
                let anchored =
                    tokio::task::spawn_blocking(move || state.service.anchor_audit()).await;
                if let Ok(Err(e)) = anchored {
                    tracing::error!(error = %e, "cannot anchor the audit log");
                }
            }
        })
    };
    let limits = config.limits;
    tokio::join!(
        listener::run(api, acceptor, app, limits, stopped(stop_rx.clone())),
        async {
            if let Some(l) = metrics_listener {
                listener::run(l, None, metrics_app, limits, stopped(stop_rx.clone())).await;
            }
        }
    );
    anchoring.abort();
    state.service.sync().map_err(|e| miette::miette!("{e}"))?;
    Ok(())
}

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, miette::Report> {
    use std::io::BufReader;
    let open = |p: &std::path::Path| {
        std::fs::File::open(p)
            .map(BufReader::new)
            .map_err(|e| miette::miette!("{}: {e}", p.display()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| miette::miette!("{}: {e}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| miette::miette!("{}: {e}", key.display()))?
        .ok_or_else(|| miette::miette!("{}: no private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| miette::miette!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| miette::miette!("TLS certificate: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// HTTPS: each connection's requests carry the peer address and the
/// [`Secure`] mark. On shutdown, stop accepting and let open connections
/// finish their requests.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
