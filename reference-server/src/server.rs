//! Binding, routing, and shutdown.
//!
//! [`Server::run`] serves until its shutdown token is cancelled, then closes every WebSocket
//! with 1001 (axum's graceful shutdown does not reach upgraded connections, so the sessions
//! are tracked here) and returns when they are all gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::channels_layer::ChannelsLayer;
use crate::config::{Config, LayerFormat};
use crate::fanout::{ChannelLayer, LocalLayer};
use crate::metrics::Metrics;
use crate::redis_layer::RedisLayer;
use crate::session::SessionContext;
use crate::{pages, upgrade};

/// Per-connection read buffer. tungstenite's default is 128 KiB, which alone would be eight
/// times the memory budget of an idle connection; chat frames are small and a larger message
/// just takes more reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Frames are buffered up to this size before a write; every batch is flushed anyway.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// How long shutdown waits for sessions to finish their close handshakes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) layer: Arc<dyn ChannelLayer>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) ws_config: WebSocketConfig,
}

impl AppState {
    pub(crate) fn origin_allowed(&self, origin: Option<&HeaderValue>) -> bool {
        if self.config.allowed_origins.is_empty() {
            return true;
        }
        origin.and_then(|o| o.to_str().ok()).is_some_and(|o| {
            self.config
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(o))
        })
    }

    pub(crate) fn session_context(&self) -> SessionContext {
        SessionContext {
            layer: Arc::clone(&self.layer),
            metrics: Arc::clone(&self.metrics),
            limits: self.config.limits(),
            queue_len: self.config.queue_len as usize,
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
            shutdown: self.shutdown.clone(),
        }
    }
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
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
        let metrics = Arc::new(Metrics::default());
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let layer: Arc<dyn ChannelLayer> = match &config.layer {
            None => Arc::new(LocalLayer::new(Arc::clone(&metrics))),
            Some(urls) if urls.starts_with("redis://") => match config.layer_format {
                LayerFormat::Native if urls.contains(',') => {
                    anyhow::bail!("--layer: several Redis hosts need --layer-format channels")
                }
                LayerFormat::Native => Arc::new(RedisLayer::start(
                    urls,
                    config.redis_prefix.clone(),
                    Arc::clone(&metrics),
                    &tracker,
                    shutdown.clone(),
                )?),
                LayerFormat::Channels => Arc::new(ChannelsLayer::start(
                    &urls.split(',').map(str::trim).collect::<Vec<_>>(),
                    Arc::clone(&metrics),
                    &tracker,
                    shutdown.clone(),
                )?),
            },
            Some(other) => anyhow::bail!("--layer {other}: only redis://host:port is supported"),
        };
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BUFFER_BYTES)
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let state = AppState {
            permits: Arc::new(Semaphore::new(config.max_connections)),
            config: Arc::new(config),
            layer,
            metrics,
            shutdown,
            tracker,
            ws_config,
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.state.metrics)
    }

    /// Serves until `shutdown` is cancelled; then every WebSocket is closed with 1001.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "listening");
        let sessions = state.tracker.clone();
        let session_shutdown = state.shutdown.clone();
        let app = router(state);
        let listener = listener.tap_io(|tcp| {
            // Chat frames are small and latency is the point.
            let _ = tcp.set_nodelay(true);
        });
        let http_shutdown = shutdown.clone();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
        .await
        .context("HTTP server failed")?;

        tracing::info!(
            open = sessions.len(),
            "shutting down: closing WebSockets with 1001"
        );
        session_shutdown.cancel();
        sessions.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = sessions.len(),
                "sessions still open after the grace period"
            );
        }
        Ok(())
    }
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
