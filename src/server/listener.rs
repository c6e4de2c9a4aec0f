//! Accepting connections with limits, for plain HTTP and TLS alike: a cap
//! on open connections, a TLS handshake timeout, a deadline for each
//! request head (counted from when the connection opens or goes idle, so
//! it also closes idle keep-alive connections) and one for reading the
//! body and answering. A client that opens sockets and sends nothing, or
//! half a request, holds them for seconds, not forever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use tokio::sync::Semaphore;

use super::Secure;

/// Connection limits; every one configurable on `keyward serve`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time for a client to send a complete request head, from when the
    /// connection opened or finished its previous response.
    pub header_timeout: Duration,
    /// Time to read a request body and answer it.
    pub request_timeout: Duration,
    /// Time for a TLS client to complete its handshake.
    pub handshake_timeout: Duration,
    /// Connections open at once; further clients wait in the kernel's
    /// accept queue until one closes.
    pub max_connections: usize,
    /// A request that takes longer is logged (`slow request`).
    pub slow_request: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            slow_request: Duration::from_secs(1),
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves, then lets open
/// requests finish (up to ten seconds).
pub async fn run(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut full_logged = false;
    tokio::pin!(stop);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => {
                full_logged = false;
                p
            }
            Err(_) => {
                if !full_logged {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "connections at the limit (--max-connections); new connections wait until one closes"
                    );
                    full_logged = true;
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = &mut stop => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: say so, and
                    // do not spin.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let tls = tls.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let secure = tls.is_some();
            let svc = tower::ServiceExt::map_request(
                app,
                move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    if secure {
                        req.extensions_mut().insert(Secure);
                    }
                    req
                },
            );
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                            .await
                    else {
                        return;
                    };
                    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
                None => {
                    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

/// The address a listener is bound to, for the start banner.
pub fn local(listener: &tokio::net::TcpListener) -> Result<SocketAddr, miette::Report> {
    listener.local_addr().map_err(|e| miette::miette!("{e}"))
}
