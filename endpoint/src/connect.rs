//! Opening one WebSocket to a backend, the one way loadgen and journey do it: TCP (from a
//! chosen source address if asked), the TLS handshake for an https/wss endpoint, then the
//! client upgrade with extra headers; each step timed, the whole under one timeout, and every
//! failure one [`ConnectError`] whose text names its kind (loadgen counts errors by that
//! text, so it is stable).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use std::sync::Arc;

use crate::Endpoint;
use crate::throttle::SlowRead;
use crate::tls::{self, Conn, TlsClient};
use crate::wire::{Wire, WireCounters};

/// An open WebSocket to a backend.
pub type Ws = WebSocketStream<Wire<Conn>>;

/// What to open: where, from where, which path and what the upgrade carries.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub endpoint: &'a Endpoint,
    /// The local address to connect from; `None` lets the kernel choose.
    pub source: Option<IpAddr>,
    /// The socket's path (and query), e.g. `/ws/chat/lobby/`.
    pub path: &'a str,
    /// Headers added to the upgrade request.
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// The TLS client; required for an https/wss endpoint.
    pub tls: Option<&'a TlsClient>,
    /// tungstenite's buffers and limits; `None` for its defaults.
    pub config: Option<WebSocketConfig>,
    /// Offer permessage-deflate as Chromium does (`rawws::deflate::OFFER`).
    pub deflate: bool,
    /// Where the socket's bytes are counted; `None`: not counted.
    pub counters: Option<&'a Arc<WireCounters>>,
    /// A slow reader: after the handshake it reads at this pace until it is lifted, with a
    /// receive buffer of [`SLOW_RECEIVE_BUFFER`] bytes.
    pub slow: Option<&'a SlowRead>,
    /// Where TCP goes instead of the endpoint's address (a relay that passes the bytes on);
    /// the upgrade and TLS still name the endpoint. `source` is not used then.
    pub via: Option<&'a Via>,
}

/// A relay in front of the endpoint, and how a socket to it is made.
#[derive(Clone)]
pub struct Via {
    pub addr: SocketAddr,
    /// Makes the socket (e.g. inside a network namespace); `None`: an ordinary one.
    pub socket: Option<Arc<dyn Fn() -> std::io::Result<TcpSocket> + Send + Sync>>,
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Via")
            .field("addr", &self.addr)
            .field("own_socket", &self.socket.is_some())
            .finish()
    }
}

/// A slow reader's receive buffer as asked of the kernel (Linux doubles it and keeps a
/// minimum): small, so that what the reader does not take soon stops the server's sends.
pub const SLOW_RECEIVE_BUFFER: u32 = 4096;

/// How long each step of an open took, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    pub tcp_us: u64,
    /// `None` without TLS.
    pub tls_us: Option<u64>,
    pub upgrade_us: u64,
}

/// Why a WebSocket could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("socket: {0}")]
    Socket(ErrorKind),
    #[error("bind source: {0}")]
    BindSource(ErrorKind),
    #[error("connect: {0}")]
    Connect(ErrorKind),
    /// The TLS handshake failed (its text names the host and the reason).
    #[error("{0}")]
    Tls(String),
    /// Refused: the status and the first line of the body, if any.
    #[error("handshake: HTTP {status}{reason}", status = .0, reason = reason(.1))]
    Status(u16, Option<String>),
    #[error("handshake: {0}")]
    Handshake(WsKind),
    #[error("handshake: timed out")]
    Timeout,
}

impl ConnectError {
    /// The HTTP status of a refused upgrade.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status(status, _) => Some(*status),
            _ => None,
        }
    }

    /// A failed client upgrade.
    pub fn upgrade(e: &WsError) -> Self {
        match e {
            WsError::Http(response) => Self::Status(
                response.status().as_u16(),
                response.body().as_deref().and_then(first_line),
            ),
            other => Self::Handshake(other.into()),
        }
    }
}

/// A WebSocket error, reduced to what tells two apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsKind {
    #[error("io: {0}")]
    Io(ErrorKind),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("capacity: {0}")]
    Capacity(String),
    #[error("invalid UTF-8 from the server")]
    Utf8,
    #[error("{0}")]
    Other(String),
}

impl From<&WsError> for WsKind {
    fn from(e: &WsError) -> Self {
        match e {
            // The socket's own refusals (`wire`: permessage-deflate done wrong) say what.
            WsError::Io(io)
                if io.kind() == ErrorKind::InvalidData
                    && io.to_string().starts_with("permessage-deflate") =>
            {
                Self::Protocol(io.to_string())
            }
            WsError::Io(io) => Self::Io(io.kind()),
            WsError::Protocol(p) => Self::Protocol(p.to_string()),
            WsError::Capacity(c) => Self::Capacity(c.to_string()),
            WsError::Utf8(_) => Self::Utf8,
            other => Self::Other(other.to_string()),
        }
    }
}

/// " (first line of the body)", or nothing.
fn reason(body: &Option<String>) -> String {
    body.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
}

/// The first non-empty line of a refusal's body, at most 120 characters.
fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    (!line.is_empty()).then(|| line.chars().take(120).collect())
}

/// Opens `request` within `timeout`: TCP, TLS for an https/wss endpoint, the upgrade.
pub async fn open(request: Request<'_>, timeout: Duration) -> Result<(Ws, Times), ConnectError> {
    tokio::time::timeout(timeout, steps(request))
        .await
        .unwrap_or(Err(ConnectError::Timeout))
}

async fn steps(request: Request<'_>) -> Result<(Ws, Times), ConnectError> {
    let mut times = Times::default();
    let endpoint = request.endpoint;

    let started = Instant::now();
    let to = request.via.map_or(endpoint.addr, |via| via.addr);
    let socket = match (request.via.and_then(|via| via.socket.as_ref()), to) {
        (Some(make), _) => make(),
        (None, SocketAddr::V4(_)) => TcpSocket::new_v4(),
        (None, SocketAddr::V6(_)) => TcpSocket::new_v6(),
    }
    .map_err(|e| ConnectError::Socket(e.kind()))?;
    if request.slow.is_some() {
        socket
            .set_recv_buffer_size(SLOW_RECEIVE_BUFFER)
            .map_err(|e| ConnectError::Socket(e.kind()))?;
    }
    if let (Some(ip), None) = (request.source, request.via) {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| ConnectError::BindSource(e.kind()))?;
    }
    let tcp = socket
        .connect(to)
        .await
        .map_err(|e| ConnectError::Connect(e.kind()))?;
    let _ = tcp.set_nodelay(true);
    times.tcp_us = micros(started);

    let started = Instant::now();
    let tls_name = endpoint.tls.then_some(endpoint.host.as_str());
    let conn = tls::wrap(tcp, tls_name, request.tls)
        .await
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
    if tls_name.is_some() {
        times.tls_us = Some(micros(started));
    }

    let started = Instant::now();
    let mut upgrade = endpoint
        .ws_url(request.path)
        .into_client_request()
        .map_err(|e| ConnectError::upgrade(&e))?;
    for (name, value) in request.headers {
        upgrade.headers_mut().append(name.clone(), value.clone());
    }
    if request.deflate {
        upgrade.headers_mut().append(
            "sec-websocket-extensions",
            HeaderValue::from_static(rawws::deflate::OFFER),
        );
    }
    let counters = request.counters.cloned().unwrap_or_default();
    let conn = Wire::new(conn, counters, request.deflate).throttled(request.slow);
    let (ws, _) = client_async_with_config(upgrade, conn, request.config)
        .await
        .map_err(|e| ConnectError::upgrade(&e))?;
    times.upgrade_us = micros(started);
    Ok((ws, times))
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_kind_and_stay_stable() {
        // loadgen's result files key `errors` by these texts.
        assert_eq!(
            ConnectError::Connect(ErrorKind::ConnectionRefused).to_string(),
            "connect: connection refused"
        );
        assert_eq!(
            ConnectError::Status(503, None).to_string(),
            "handshake: HTTP 503"
        );
        assert_eq!(
            ConnectError::Status(403, Some("origin refused".into())).to_string(),
            "handshake: HTTP 403 (origin refused)"
        );
        assert_eq!(ConnectError::Timeout.to_string(), "handshake: timed out");
        assert_eq!(ConnectError::Status(403, None).status(), Some(403));
        assert_eq!(ConnectError::Timeout.status(), None);
        assert_eq!(first_line(b"\n  \nrest"), None);
        assert_eq!(
            first_line(b" no such room \nmore").as_deref(),
            Some("no such room")
        );
        assert_eq!(first_line(&[b'a'; 300]).map(|l| l.len()), Some(120));
    }
}
