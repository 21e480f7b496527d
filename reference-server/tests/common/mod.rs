//! Test helpers: a server on port 0, raw HTTP, and a raw WebSocket client that speaks frames
//! byte by byte, so a codec bug in the server cannot hide behind a client library sharing it.
#![allow(dead_code)] // Each test file uses its own subset.

pub mod process;
pub mod redis;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reference_server::{Config, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A room name no other test uses.
pub fn room(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` verbatim and reads the response head and (Content-Length) body.
pub async fn http_raw(addr: std::net::SocketAddr, request: &str) -> HttpResponse {
    let mut stream = timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    timeout(TIMEOUT, stream.write_all(request.as_bytes()))
        .await
        .expect("write in time")
        .expect("write");
    let (head, rest) = read_head(&mut stream).await;
    let mut response = parse_head(&head);
    let len: usize = response
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = rest;
    while body.len() < len {
        let mut buf = [0u8; 4096];
        let n = timeout(TIMEOUT, stream.read(&mut buf))
            .await
            .expect("body in time")
            .expect("read body");
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&buf[..n]);
    }
    response.body = String::from_utf8(body).expect("UTF-8 body");
    response
}

pub async fn get(addr: std::net::SocketAddr, target: &str) -> HttpResponse {
    http_raw(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (String::from_utf8(buf).expect("ASCII head"), rest);
        }
        let mut chunk = [0u8; 1024];
        let n = timeout(TIMEOUT, stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read response");
        assert!(n > 0, "connection closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_head(head: &str) -> HttpResponse {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: String::new(),
    }
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The accept value RFC 6455 gives for [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A handshake request for `target`, with extra header lines (each ending in `\r\n`).
pub fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A client frame's header with `mask` (a zero key leaves the payload unchanged).
fn frame_header(fin: bool, opcode: u8, len: usize, mask: [u8; 4]) -> Vec<u8> {
    let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
    if len < 126 {
        header.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        header.push(0x80 | 126);
        header.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        header.push(0x80 | 127);
        header.extend_from_slice(&(len as u64).to_be_bytes());
    }
    header.extend_from_slice(&mask);
    header
}

/// Frame opcodes (RFC 6455 section 5.2).
pub mod op {
    pub const CONT: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// One frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
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

/// A WebSocket client written against RFC 6455 directly.
#[derive(Debug)]
pub struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
    pub response: HttpResponse,
}

impl RawWs {
    /// Connects to `/ws/chat/<room>/` and completes the handshake.
    pub async fn join(addr: std::net::SocketAddr, room: &str) -> Self {
        Self::connect(addr, &format!("/ws/chat/{room}/"), "").await
    }

    /// Sends a handshake for `target`; panics unless the answer is 101 with the right accept.
    pub async fn connect(addr: std::net::SocketAddr, target: &str, extra: &str) -> Self {
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
    pub async fn try_connect(addr: std::net::SocketAddr, target: &str, extra: &str) -> Self {
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

    async fn handshake_raw(mut stream: TcpStream, target: &str, extra: &str) -> Self {
        stream.set_nodelay(true).expect("nodelay");
        timeout(
            TIMEOUT,
            stream.write_all(upgrade_request(target, extra).as_bytes()),
        )
        .await
        .expect("write in time")
        .expect("write handshake");
        let (head, rest) = read_head(&mut stream).await;
        Self {
            stream,
            buf: rest,
            response: parse_head(&head),
        }
    }

    /// Writes one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut frame = frame_header(fin, opcode, payload.len(), mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        timeout(TIMEOUT, self.stream.write_all(&frame))
            .await
            .expect("write in time")
            .expect("write frame");
    }

    /// Writes one frame; false if the write fails or does not finish within a second (the
    /// server stopped reading or closed).
    pub async fn try_send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> bool {
        let mut frame = frame_header(fin, opcode, payload.len(), [0; 4]);
        frame.extend_from_slice(payload);
        matches!(
            timeout(Duration::from_secs(1), self.stream.write_all(&frame)).await,
            Ok(Ok(()))
        )
    }

    /// Writes the header of a frame of `len` bytes whose payload follows in
    /// [`Self::try_send_payload`] calls (the mask key is zero, so the payload goes as is).
    pub async fn send_frame_header(&mut self, fin: bool, opcode: u8, len: usize) {
        let header = frame_header(fin, opcode, len, [0; 4]);
        timeout(TIMEOUT, self.stream.write_all(&header))
            .await
            .expect("write in time")
            .expect("write header");
    }

    /// Writes part of a payload announced by [`Self::send_frame_header`]; false as in
    /// [`Self::try_send_frame`].
    pub async fn try_send_payload(&mut self, part: &[u8]) -> bool {
        matches!(
            timeout(Duration::from_secs(1), self.stream.write_all(part)).await,
            Ok(Ok(()))
        )
    }

    /// The raw TCP stream, still owned by this client.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The raw TCP stream, for clients that misbehave below the frame level.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(true, op::TEXT, text.as_bytes()).await;
    }

    pub async fn send_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.send_frame(true, op::CLOSE, &payload).await;
    }

    /// Reads one frame, or `None` at end of stream.
    pub async fn try_read_frame(&mut self) -> Option<Frame> {
        timeout(TIMEOUT, self.read_frame_inner())
            .await
            .expect("a frame (or the end) in time")
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

    async fn fill(&mut self, want: usize) -> bool {
        while self.buf.len() < want {
            let mut chunk = vec![0u8; 64 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    async fn read_frame_inner(&mut self) -> Option<Frame> {
        if !self.fill(2).await {
            return None;
        }
        let fin = self.buf[0] & 0x80 != 0;
        let opcode = self.buf[0] & 0x0F;
        assert_eq!(self.buf[1] & 0x80, 0, "server frames must not be masked");
        let (len, header) = match self.buf[1] & 0x7F {
            126 => {
                assert!(self.fill(4).await, "truncated frame header");
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                assert!(self.fill(10).await, "truncated frame header");
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        assert!(self.fill(header + len).await, "truncated frame payload");
        let payload = self.buf[header..header + len].to_vec();
        self.buf.drain(..header + len);
        Some(Frame {
            fin,
            opcode,
            payload,
        })
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
