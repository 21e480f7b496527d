//! The WebSocket handshake on `/ws/chat/<room>/`: every refusal is an immediate HTTP answer
//! with a one-line reason (404 for a refused room; 400 for what RFC 6455 4.2.1 requires: GET,
//! HTTP/1.1 or later, a base64 key of 16 bytes; 426 for another version than 13; 403 for a
//! refused Origin; 503 when full or shutting down), never a 500, and an accepted one becomes a
//! tracked session task.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use protocol::{RoomName, parse_ws_path};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::either::Either;

use crate::budget::{InboundMeter, Metered};
use crate::deflate::{self, Inflating};
use crate::listener::Connection;
use crate::outlet::DirectSocket;
use crate::pages;
use crate::prefixed::Prefixed;
use crate::rooms::FrameReceiver;
use crate::session;
use crate::state::AppState;

/// True when the request asks for a WebSocket (`Connection: upgrade` + `Upgrade: websocket`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

fn refuse(state: &AppState, status: StatusCode, reason: &str) -> Response {
    state.metrics.refused(status.as_u16());
    tracing::debug!(status = status.as_u16(), reason, "handshake refused");
    (status, format!("{reason}\n")).into_response()
}

/// An upgrade request that passed every check, holding its connection permit.
struct Admitted {
    room: RoomName,
    /// The `Sec-WebSocket-Accept` value.
    accept: String,
    /// permessage-deflate was offered and is accepted (`crate::deflate`).
    deflate: bool,
    permit: OwnedSemaphorePermit,
    on_upgrade: OnUpgrade,
}

/// Answers an upgrade request: a refusal, or 101 with the session spawned.
pub(crate) async fn handshake(state: &AppState, peer: SocketAddr, req: Request<Body>) -> Response {
    let Admitted {
        room,
        accept,
        deflate,
        permit,
        on_upgrade,
    } = match admit(state, req) {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let ctx = state.session_context();
    let joined = session::Joined::new(&ctx, &room, permit, deflate);
    // A layer spanning processes subscribes first: once the client holds its 101, a message
    // sent from any node reaches it, and none sent before it joined.
    state.layer.ready(joined.membership()).await;
    let ws_config = state.ws_config;
    let inbound = Inbound {
        deflate,
        max_message: state.config.max_message_bytes,
    };
    // No tracing span around the session: entering one on every poll costs more than the
    // room and peer fields that the session's own log lines carry.
    state.tracker.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let meter = InboundMeter::new(std::sync::Arc::clone(&ctx.budget));
        // Chosen in a plain function: the TLS state is large, and a value held across an
        // `.await` keeps its room in every session's future (several KiB per connection,
        // TLS or not).
        match Socket::of(upgraded, joined.queue()) {
            Socket::Direct(socket) => {
                serve(socket, joined, meter, peer, ctx, ws_config, inbound).await
            }
            Socket::Tls(socket) => {
                serve(socket, joined, meter, peer, ctx, ws_config, inbound).await
            }
            Socket::Other(socket) => {
                serve(socket, joined, meter, peer, ctx, ws_config, inbound).await
            }
        }
    });

    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if deflate {
        response = response.header(header::SEC_WEBSOCKET_EXTENSIONS, deflate::ANSWER);
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// How a session's incoming frames are read.
#[derive(Debug, Clone, Copy)]
struct Inbound {
    /// permessage-deflate agreed: compressed messages are inflated under the codec.
    deflate: bool,
    /// `--max-message-bytes`, which bounds a compressed message and its inflated size too.
    max_message: usize,
}

/// The request's checks, in the order their refusals take precedence.
#[allow(
    clippy::result_large_err,
    reason = "a refusal is the response itself, built once per refused handshake"
)]
fn admit(state: &AppState, mut req: Request<Body>) -> Result<Admitted, Response> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let room = match parse_ws_path(&target) {
        Ok(room) => room,
        Err(e) => {
            state.metrics.refused(404);
            return Err(pages::not_found(&e.to_string()));
        }
    };
    if req.method() != Method::GET {
        return Err(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake must be a GET request",
        ));
    }
    if req.version() < Version::HTTP_11 {
        return Err(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake needs HTTP/1.1 or later",
        ));
    }
    let headers = req.headers();
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        let mut response = refuse(
            state,
            StatusCode::UPGRADE_REQUIRED,
            "Sec-WebSocket-Version must be 13",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(response);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "missing Sec-WebSocket-Key",
        ));
    };
    if !is_valid_key(key) {
        return Err(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key must be 16 bytes in base64",
        ));
    }
    let accept = derive_accept_key(key.as_bytes());
    if !state.origin_allowed(headers.get(header::ORIGIN)) {
        return Err(refuse(state, StatusCode::FORBIDDEN, "Origin not allowed"));
    }
    if state.shutdown.is_cancelled() {
        return Err(refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "server shutting down",
        ));
    }
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        return Err(refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections; try again later",
        ));
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded",
        ));
    };

    let deflate = !state.config.no_deflate && deflate::accept(req.headers());
    Ok(Admitted {
        room,
        accept,
        deflate,
        permit,
        on_upgrade,
    })
}

/// An upgraded connection, as its session reads and writes it.
enum Socket {
    /// Plain TCP: broadcast frames go to the socket as they are (`crate::outlet`).
    Direct(Prefixed<DirectSocket>),
    /// TLS, boxed: its state is kilobytes, and only TLS sessions should carry it.
    Tls(Prefixed<Box<TlsStream<TcpStream>>>),
    /// Not what the listener serves (not expected): the upgraded connection as hyper gives it.
    Other(TokioIo<Upgraded>),
}

impl Socket {
    fn of(upgraded: Upgraded, queue: &FrameReceiver) -> Self {
        match upgraded.downcast::<TokioIo<Connection>>() {
            Ok(parts) => match parts.io.into_inner() {
                Either::Left(tcp) => {
                    let direct = queue.attach(tcp);
                    Self::Direct(Prefixed::new(parts.read_buf, direct))
                }
                Either::Right(tls) => Self::Tls(Prefixed::new(parts.read_buf, Box::new(tls))),
            },
            Err(upgraded) => Self::Other(TokioIo::new(upgraded)),
        }
    }
}

/// The WebSocket session over `socket`, its reads metered against the memory budget (the
/// bytes as they came, compressed or not) and inflated where permessage-deflate was agreed.
async fn serve<S>(
    socket: S,
    joined: session::Joined,
    meter: std::sync::Arc<InboundMeter>,
    peer: SocketAddr,
    ctx: session::SessionContext,
    ws_config: WebSocketConfig,
    inbound: Inbound,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let socket = Inflating::new(
        Metered::new(socket, std::sync::Arc::clone(&meter)),
        inbound.deflate,
        inbound.max_message,
    );
    let ws = WebSocketStream::from_raw_socket(socket, Role::Server, Some(ws_config)).await;
    session::run(ws, joined, meter, peer, ctx).await;
}

/// RFC 6455 4.2.1: the key is base64 of 16 bytes (24 characters with padding).
fn is_valid_key(key: &HeaderValue) -> bool {
    let key = key.as_bytes();
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|bytes| bytes.len() == 16)
}
