//! Binding, routing, and shutdown.
//!
//! [`Server::run`] serves until its shutdown token is cancelled, then closes every WebSocket
//! with 1001 and drops every HTTP connection that is not one (the sessions and connections are
//! tracked here), and returns when they are all gone or `--shutdown-grace` has passed,
//! whatever the clients do.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::layer;
use crate::listener::{HttpContext, PendingSet, accept_loop};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::tls::ServerTls;
use crate::{pages, upgrade};

/// Per-connection read buffer. tungstenite's default is 128 KiB, which alone would be eight
/// times the memory budget of an idle connection; chat frames are small and a larger message
/// just takes more reads.
const READ_BUFFER_BYTES: usize = 2 * 1024;
/// Frames are buffered up to this size before a write; every batch is flushed anyway.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// The codec's write buffer never holds more than a batch being written plus one frame and a
/// pong (the outbox waits for a flush before feeding more); this makes that a hard bound.
const WRITE_BUFFER_SLACK: usize = 1024;

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<ServerTls>>,
}

impl Server {
    /// Binds `config.bind`, with the channel layer `config.layer` names.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let listener =
            listen(config.bind).with_context(|| format!("cannot listen on {}", config.bind))?;
        Self::from_listener(listener, config)
    }

    /// Serves on an already bound listener.
    pub fn from_listener(listener: TcpListener, config: Config) -> anyhow::Result<Self> {
        let origins = config.origins()?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(ServerTls::load(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let metrics = Arc::new(Metrics::default());
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let layer = layer::start(&config, &metrics, &tracker, &shutdown)?;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BUFFER_BYTES)
            .max_write_buffer_size(
                WRITE_BUFFER_BYTES + config.max_message_bytes + WRITE_BUFFER_SLACK,
            )
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let state = AppState {
            budget: Arc::new(MemoryBudget::new(config.memory_budget)),
            origins: Arc::new(origins),
            permits: Arc::new(Semaphore::new(config.max_connections)),
            config: Arc::new(config),
            layer,
            metrics,
            shutdown,
            tracker,
            ws_config,
        };
        Ok(Self {
            listener,
            state,
            tls,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.state.metrics)
    }

    /// Serves until `shutdown` is cancelled; then every WebSocket is closed with 1001, every
    /// other connection is dropped, and this returns within `--shutdown-grace`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            tls,
        } = self;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, "listening");
        if let Some(tls) = &tls {
            reload_on_sighup(
                Arc::clone(tls),
                Arc::clone(&state.metrics),
                shutdown.clone(),
            )?;
        }
        let tracker = state.tracker.clone();
        let connections_shutdown = state.shutdown.clone();
        let grace = state.config.shutdown_grace;
        let ctx = HttpContext {
            metrics: Arc::clone(&state.metrics),
            pending: PendingSet::new(state.config.max_pending, Arc::clone(&state.metrics)),
            handshake_timeout: state.config.handshake_timeout,
            tracker: tracker.clone(),
            shutdown: connections_shutdown.clone(),
            router: router(state),
            tls,
        };
        accept_loop(listener, ctx, shutdown).await;

        tracing::info!(
            open = tracker.len(),
            "shutting down: closing WebSockets with 1001, dropping other connections"
        );
        connections_shutdown.cancel();
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                left = tracker.len(),
                "connections still open after the grace period; exiting anyway"
            );
        }
        Ok(())
    }
}

/// Reads the certificate and key again on every SIGHUP until `stop`; a failed reload keeps
/// the pair in use.
fn reload_on_sighup(
    tls: Arc<ServerTls>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            match tls.reload() {
                Ok(()) => {
                    metrics.tls_reloaded(true);
                    tracing::info!("SIGHUP: TLS certificate reloaded");
                }
                Err(e) => {
                    metrics.tls_reloaded(false);
                    tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the previous one stays");
                }
            }
        }
    });
    Ok(())
}

/// Pending connections the kernel may queue: thousands of clients connect at once in a load
/// test, and a short queue turns a burst into SYN retransmits (seconds of delay).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(dispatch)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Everything but the two fixed routes: WebSocket handshakes by their headers (so a
/// handshake on a wrong path gets a reason, not a page), pages by their path.
async fn dispatch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    if upgrade::is_upgrade(req.headers()) {
        return upgrade::handshake(&state, peer, req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/ws/") {
        return pages::not_found("this is a WebSocket endpoint: open it with a WebSocket client");
    }
    pages::respond(pages::resolve(path), path, req.uri().query())
}

/// 200 `ok`; 503 `degraded` while the channel layer cannot reach the other nodes.
async fn healthz(State(state): State<AppState>) -> Response {
    let healthy = state.layer.healthy();
    let body = format!(
        "{{\"status\": \"{}\", \"layer\": \"{}\", \"connections\": {}, \"rooms\": {}}}\n",
        if healthy { "ok" } else { "degraded" },
        if state.config.layer.is_some() {
            "redis"
        } else {
            "memory"
        },
        state.metrics.open_connections(),
        state.metrics.rooms()
    );
    let status = if healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.memory_used.set(state.budget.used() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Django's default security headers, on every response.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}
