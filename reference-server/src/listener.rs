//! Accepting TCP connections and serving HTTP/1.1 on them until they end or become
//! WebSockets, with the limits a hostile client must not cross:
//!
//! - with TLS, the TLS handshake must complete within `--handshake-timeout`, and then every
//!   request head within it again (so at most twice that before a request is read);
//! - every request head must arrive within `--handshake-timeout` (hyper's header-read timeout,
//!   which also bounds an idle keep-alive), else the connection is dropped and counted;
//! - request heads are at most [`MAX_HEAD_BYTES`];
//! - at most `--max-pending` connections are in this state at once; one more drops the oldest
//!   (counted), so thousands of half-requests cannot lock out `/healthz` or real clients, and
//!   descriptors stay at `--max-connections` + `--max-pending` + a few;
//! - on shutdown, idle and half-sent connections are dropped at once, a response being written
//!   gets [`HTTP_SHUTDOWN_WAIT`].
//!
//! axum's own `serve` has none of these bounds, so the loop is written here over hyper.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

use crate::metrics::Metrics;
use crate::tls::ServerTls;

/// Largest request head (request line and headers) read; more gets 431.
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;
/// On shutdown, how long a response already being written may take.
const HTTP_SHUTDOWN_WAIT: Duration = Duration::from_millis(500);
/// After a failed `accept` (out of descriptors), wait before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What the accept loop and each connection need.
#[derive(Debug, Clone)]
pub(crate) struct HttpContext {
    pub(crate) router: Router,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) pending: Arc<PendingSet>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) tracker: TaskTracker,
    /// Cancelled when the server shuts down.
    pub(crate) shutdown: CancellationToken,
    /// `--tls-cert`/`--tls-key`: every connection starts with a TLS handshake.
    pub(crate) tls: Option<Arc<ServerTls>>,
}

/// Accepts until `stop` is cancelled; each connection is served in its own tracked task.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: HttpContext, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Chat frames are small and latency is the point.
                let _ = tcp.set_nodelay(true);
                let slot = ctx.pending.admit();
                ctx.tracker.spawn(serve(tcp, peer, slot, ctx.clone()));
            }
            Err(e) if is_per_connection(&e) => {}
            Err(e) => {
                // EMFILE and the like: the backlog keeps the clients waiting meanwhile.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}

fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}

/// An accepted connection, after TLS when the server has it. The WebSocket upgrade finds the
/// plain TCP socket in it again (`upgrade.rs`).
pub(crate) type Connection = Either<TcpStream, TlsStream<TcpStream>>;

/// The TLS handshake when the server has TLS, within the handshake timeout, while the
/// connection still holds its pending slot (a flood of half-handshakes evicts its oldest).
async fn secure(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: &PendingSlot,
    ctx: &HttpContext,
) -> Option<Connection> {
    let Some(tls) = &ctx.tls else {
        return Some(Either::Left(tcp));
    };
    let accept = tls.acceptor().accept(tcp);
    tokio::select! {
        accepted = timeout(ctx.handshake_timeout, accept) => match accepted {
            Ok(Ok(stream)) => Some(Either::Right(stream)),
            Ok(Err(e)) => {
                ctx.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                ctx.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, "TLS handshake not complete in time: dropped");
                None
            }
        },
        () = slot.token.cancelled() => None,
        () = ctx.shutdown.cancelled() => None,
    }
}

async fn serve(tcp: TcpStream, peer: SocketAddr, slot: PendingSlot, ctx: HttpContext) {
    let Some(io) = secure(tcp, peer, &slot, &ctx).await else {
        return;
    };
    let router = ctx.router;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.handshake_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                if e.is_timeout() {
                    ctx.metrics.handshake_timeouts.inc();
                    tracing::debug!(%peer, "request head not complete in time: dropped");
                } else {
                    tracing::debug!(%peer, error = %e, "HTTP connection failed");
                }
            }
        }
        () = slot.token.cancelled() => {
            tracing::debug!(%peer, "dropped for a newer connection (--max-pending reached)");
        }
        () = ctx.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = timeout(HTTP_SHUTDOWN_WAIT, conn).await;
        }
    }
}

/// The HTTP connections that are not WebSockets, oldest first.
#[derive(Debug)]
pub(crate) struct PendingSet {
    max: usize,
    metrics: Arc<Metrics>,
    /// A std `Mutex`: nothing awaits while it is held, and each use is one map operation.
    open: Mutex<(u64, BTreeMap<u64, CancellationToken>)>,
}

/// A connection's place in the [`PendingSet`]; leaving it when dropped.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    set: Arc<PendingSet>,
    id: u64,
    token: CancellationToken,
}

impl PendingSet {
    pub(crate) fn new(max: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            max,
            metrics,
            open: Mutex::new((0, BTreeMap::new())),
        })
    }

    /// Admits a new connection, dropping the oldest ones over the limit.
    fn admit(self: &Arc<Self>) -> PendingSlot {
        let token = CancellationToken::new();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let id = open.0;
        open.0 += 1;
        open.1.insert(id, token.clone());
        while open.1.len() > self.max {
            if let Some((_, oldest)) = open.1.pop_first() {
                oldest.cancel();
                self.metrics.pending_evictions.inc();
            }
        }
        self.metrics.pending_connections.set(open.1.len() as i64);
        PendingSlot {
            set: Arc::clone(self),
            id,
            token,
        }
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut open = self.set.open.lock().unwrap_or_else(|p| p.into_inner());
        open.1.remove(&self.id);
        self.set
            .metrics
            .pending_connections
            .set(open.1.len() as i64);
    }
}
