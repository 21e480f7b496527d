//! Test helpers: a server on port 0, raw HTTP, and a raw WebSocket client that speaks frames
//! byte by byte (`rawws`, shared with the conformance suite), so a codec bug in the server
//! cannot hide behind a client library sharing it.
#![allow(dead_code)] // Each test file uses its own subset.

pub mod interop;
pub mod process;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use std::net::SocketAddr;

use reference_server::{Config, RunningServer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The longest any single network await may take in a test.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn server() -> RunningServer {
    server_with(Config::local()).await
}

pub async fn server_with(config: Config) -> RunningServer {
    reference_server::spawn(config)
        .await
        .expect("server starts")
}

/// A node with `config` (a Redis layer in it), once it has connected to Redis.
pub async fn connected_node(config: Config) -> RunningServer {
    let node = server_with(config).await;
    let metrics = node.metrics.clone();
    eventually("the node connects to Redis", || {
        metrics.redis_connects() > 0
    })
    .await;
    node
}

/// A room name no other test uses.
pub fn room(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A parsed HTTP response, its body as text; headers through rawws's own lookup.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
    head: rawws::HttpResponse,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

impl From<rawws::HttpResponse> for HttpResponse {
    fn from(mut head: rawws::HttpResponse) -> Self {
        let body = String::from_utf8(std::mem::take(&mut head.body)).expect("UTF-8 body");
        Self {
            status: head.status,
            body,
            head,
        }
    }
}

/// Sends `request` verbatim and reads the response head and (Content-Length) body.
pub async fn http_raw(addr: SocketAddr, request: &str) -> HttpResponse {
    rawws::http_raw(addr, request, TIMEOUT)
        .await
        .expect("an HTTP response in time")
        .into()
}

pub async fn get(addr: SocketAddr, target: &str) -> HttpResponse {
    http_raw(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The accept value RFC 6455 gives for [`KEY`] (the key `rawws` sends).
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A handshake request for `target`, with extra header lines (each ending in `\r\n`).
pub fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub use rawws::op;

/// One frame as read off the wire (`rawws`'s), with the asserting accessors these tests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(rawws::Frame);

impl std::ops::Deref for Frame {
    type Target = rawws::Frame;

    fn deref(&self) -> &rawws::Frame {
        &self.0
    }
}

impl Frame {
    pub fn text(&self) -> &str {
        assert_eq!(self.opcode, op::TEXT, "expected a text frame, got {self:?}");
        std::str::from_utf8(&self.payload).expect("text frame is UTF-8")
    }

    /// The close code and reason of a close frame.
    pub fn close(&self) -> (u16, String) {
        assert_eq!(
            self.opcode,
            op::CLOSE,
            "expected a close frame, got {self:?}"
        );
        assert!(self.payload.len() >= 2, "close frame without a code");
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        let reason = String::from_utf8(self.payload[2..].to_vec()).expect("UTF-8 reason");
        (code, reason)
    }
}

/// The shared raw client (`rawws`, which the conformance suite uses too), with the panicking,
/// time-bounded calls these tests want: every await is bounded by [`TIMEOUT`].
#[derive(Debug)]
pub struct RawWs {
    ws: Option<rawws::Ws>,
    pub response: HttpResponse,
}

impl RawWs {
    /// Connects to `/ws/chat/<room>/` and completes the handshake.
    pub async fn join(addr: SocketAddr, room: &str) -> Self {
        Self::connect(addr, &format!("/ws/chat/{room}/"), "").await
    }

    /// Sends a handshake for `target`; panics unless the answer is 101 with the right accept.
    pub async fn connect(addr: SocketAddr, target: &str, extra: &str) -> Self {
        let ws = Self::try_connect(addr, target, extra).await;
        assert_eq!(
            ws.response.status, 101,
            "handshake refused: {:?}",
            ws.response
        );
        assert_eq!(ws.response.header("sec-websocket-accept"), Some(ACCEPT));
        ws
    }

    /// Sends a handshake and returns whatever came back.
    pub async fn try_connect(addr: SocketAddr, target: &str, extra: &str) -> Self {
        let stream = timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Self::handshake_raw(stream, target, extra).await
    }

    /// Completes a handshake on a stream the caller connected (e.g. with socket options).
    pub async fn handshake_on(stream: TcpStream, target: &str) -> Self {
        let ws = Self::handshake_raw(stream, target, "").await;
        assert_eq!(
            ws.response.status, 101,
            "handshake refused: {:?}",
            ws.response
        );
        ws
    }

    async fn handshake_raw(stream: TcpStream, target: &str, extra: &str) -> Self {
        stream.set_nodelay(true).expect("nodelay");
        let handshake = rawws::Ws::handshake_on(stream, "localhost", target, extra, TIMEOUT)
            .await
            .expect("a handshake answer in time");
        match handshake {
            rawws::Handshake::Accepted(ws) => Self {
                response: ws.response.clone().into(),
                ws: Some(ws),
            },
            rawws::Handshake::Refused(response) => Self {
                ws: None,
                response: response.into(),
            },
        }
    }

    fn ws(&mut self) -> &mut rawws::Ws {
        self.ws.as_mut().expect("the handshake was refused")
    }

    /// Writes one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        timeout(TIMEOUT, self.ws().send_frame(fin, opcode, payload))
            .await
            .expect("write in time")
            .expect("write frame");
    }

    /// Writes one frame; false if the write fails or does not finish within a second (the
    /// server stopped reading or closed).
    pub async fn try_send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> bool {
        matches!(
            timeout(
                Duration::from_secs(1),
                self.ws().send_frame(fin, opcode, payload)
            )
            .await,
            Ok(Ok(()))
        )
    }

    /// Writes the header of a frame of `len` bytes whose payload follows in
    /// [`Self::try_send_payload`] calls.
    pub async fn send_frame_header(&mut self, fin: bool, opcode: u8, len: usize) {
        timeout(TIMEOUT, self.ws().send_header(fin, opcode, len))
            .await
            .expect("write in time")
            .expect("write header");
    }

    /// Writes part of a payload announced by [`Self::send_frame_header`]; false as in
    /// [`Self::try_send_frame`].
    pub async fn try_send_payload(&mut self, part: &[u8]) -> bool {
        matches!(
            timeout(Duration::from_secs(1), self.stream_mut().write_all(part)).await,
            Ok(Ok(()))
        )
    }

    /// The raw TCP stream, still owned by this client.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        self.ws().stream_mut()
    }

    /// The raw TCP stream, for clients that misbehave below the frame level.
    pub fn into_stream(self) -> TcpStream {
        self.ws.expect("the handshake was refused").into_stream()
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(true, op::TEXT, text.as_bytes()).await;
    }

    pub async fn send_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.send_frame(true, op::CLOSE, &payload).await;
    }

    /// Reads one frame, or `None` at end of stream (or a reset).
    pub async fn try_read_frame(&mut self) -> Option<Frame> {
        let read = timeout(TIMEOUT, self.ws().read_frame())
            .await
            .expect("a frame (or the end) in time");
        match read {
            Ok(Some(f)) => Some(Frame(f)),
            Ok(None) | Err(rawws::WireError::Io(_)) => None,
            Err(e) => panic!("malformed frame from the server: {e}"),
        }
    }

    pub async fn read_frame(&mut self) -> Frame {
        self.try_read_frame()
            .await
            .expect("a frame, not the end of the connection")
    }

    /// The next text frame's payload.
    pub async fn recv_text(&mut self) -> String {
        self.read_frame().await.text().to_owned()
    }

    /// Reads until a close frame and returns its code and reason; other frames are skipped.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            let frame = self.read_frame().await;
            if frame.opcode == op::CLOSE {
                return frame.close();
            }
        }
    }

    /// True when the server closed the TCP connection with no more frames.
    pub async fn at_eof(&mut self) -> bool {
        self.try_read_frame().await.is_none()
    }
}

/// A sample from the server's `/metrics` (`name` with its labels, e.g.
/// `chat_closes_total{code="1006"}`); 0 when absent.
pub async fn metric(addr: std::net::SocketAddr, name: &str) -> f64 {
    get(addr, "/metrics")
        .await
        .body
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `cond` holds, checking every 10 ms, failing after [`TIMEOUT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the async `cond` holds, checking every 20 ms, failing after [`TIMEOUT`] x 3.
pub async fn eventually_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT * 3;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
