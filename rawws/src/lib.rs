//! A WebSocket and HTTP client written against RFC 6455 and RFC 9112 directly, byte by byte:
//! the conformance suite's client, and the reference server's raw-frame tests' client.
//!
//! It uses neither the server's WebSocket library nor its protocol crate: a bug they share
//! with the server must not be able to pass.
//!
//! - `frame`: opcodes, frames as read, client frame headers.
//! - `http`: requests sent verbatim, response heads and bodies read.
//! - here: [`Ws`], one connection: handshake, frames out (masked), frames in.

mod frame;
mod http;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// What went wrong talking to the backend; every message is evidence for a verdict.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connect to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the connection ended {0}")]
    Closed(&'static str),
    #[error("malformed response: {0}")]
    Malformed(String),
}

use frame::frame_header;
pub use frame::{Frame, Next, clip, op};
pub use http::{HttpResponse, http_get, http_raw, http_raw_on};
use http::{parse_head, read_head};

type Result<T> = std::result::Result<T, WireError>;

/// What a connection runs over: a `TcpStream`, or TLS over one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A raw WebSocket client connection.
#[derive(Debug)]
pub struct Ws<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
    pub response: HttpResponse,
}

/// The result of a handshake: accepted, or the HTTP answer that refused it.
#[derive(Debug)]
pub enum Handshake<S = TcpStream> {
    Accepted(Ws<S>),
    Refused(HttpResponse),
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

impl Ws {
    /// Sends a handshake for `target` with extra header lines (each ending in `\r\n`).
    pub async fn handshake(
        addr: SocketAddr,
        host: &str,
        target: &str,
        extra: &str,
        wait: Duration,
    ) -> Result<Handshake> {
        let stream = timeout(wait, TcpStream::connect(addr))
            .await
            .map_err(|_| WireError::Timeout(wait, "the TCP connection"))?
            .map_err(|e| WireError::Connect(addr, e))?;
        let _ = stream.set_nodelay(true);
        Self::handshake_on(stream, host, target, extra, wait).await
    }
}

impl<S: Stream> Ws<S> {
    /// The same on a stream the caller connected (with its own socket options, or TLS).
    pub async fn handshake_on(
        mut stream: S,
        host: &str,
        target: &str,
        extra: &str,
        wait: Duration,
    ) -> Result<Handshake<S>> {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        let (head, rest) = read_head(&mut stream, wait).await?;
        let mut response = parse_head(&head)?;
        if response.status != 101 {
            // Read what body there is, briefly, for the evidence.
            let len: usize = response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = rest;
            while body.len() < len {
                let mut chunk = [0u8; 2048];
                match timeout(wait, stream.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            response.body = body;
            return Ok(Handshake::Refused(response));
        }
        if response.header("sec-websocket-accept") != Some(ACCEPT) {
            return Err(WireError::Malformed(format!(
                "101 with Sec-WebSocket-Accept {:?}",
                response.header("sec-websocket-accept")
            )));
        }
        Ok(Handshake::Accepted(Self {
            stream,
            buf: rest,
            response,
        }))
    }

    /// Writes one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> Result<()> {
        let mask: [u8; 4] = rand::random();
        let mut frame = frame_header(fin, opcode, payload.len(), mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Writes only the header of a frame of `len` bytes, with a zero mask key, so the payload
    /// can follow as it is, in pieces, through [`Self::stream_mut`] (a slow sender).
    pub async fn send_header(&mut self, fin: bool, opcode: u8, len: usize) -> Result<()> {
        let header = frame_header(fin, opcode, len, [0; 4]);
        self.stream.write_all(&header).await?;
        self.stream.flush().await?;
        Ok(())
    }

    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_frame(true, op::TEXT, text.as_bytes()).await
    }

    pub async fn send_close(&mut self, code: u16) -> Result<()> {
        self.send_frame(true, op::CLOSE, &code.to_be_bytes()).await
    }

    /// The next frame within `wait`, silence, or the end of the connection. Pings from the
    /// server are answered and skipped.
    pub async fn next(&mut self, wait: Duration) -> Result<Next> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.read_frame()).await {
                Err(_) => return Ok(Next::Silence),
                Ok(Ok(Some(frame))) => frame,
                Ok(Ok(None)) => return Ok(Next::Eof),
                Ok(Err(e)) => return Err(e),
            };
            if frame.opcode == op::PING {
                let payload = frame.payload.clone();
                self.send_frame(true, op::PONG, &payload).await?;
                continue;
            }
            return Ok(Next::Frame(frame));
        }
    }

    /// The next text frame's payload; anything else is an error with evidence.
    pub async fn recv_text(&mut self, wait: Duration) -> std::result::Result<String, String> {
        match self.next(wait).await {
            Ok(Next::Frame(f)) if f.opcode == op::TEXT => {
                String::from_utf8(f.payload).map_err(|_| "a text frame that is not UTF-8".into())
            }
            Ok(Next::Frame(f)) => Err(format!("expected a text frame, got {}", f.describe())),
            Ok(Next::Silence) => Err(format!("nothing within {} ms", wait.as_millis())),
            Ok(Next::Eof) => Err("the connection ended".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn fill(&mut self, want: usize) -> Result<bool> {
        while self.buf.len() < want {
            let mut chunk = vec![0u8; 64 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Ok(false),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                // UnexpectedEof: a TLS peer that closed without close_notify.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// The raw stream, for clients that misbehave below the frame level.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    pub fn into_stream(self) -> S {
        self.stream
    }

    /// The next frame as it comes (pings included, unanswered), or `None` at the end of the
    /// connection. No time limit: wrap it in one.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>> {
        if !self.fill(2).await? {
            return Ok(None);
        }
        let fin = self.buf[0] & 0x80 != 0;
        let opcode = self.buf[0] & 0x0F;
        if self.buf[1] & 0x80 != 0 {
            return Err(WireError::Malformed("the server masked a frame".into()));
        }
        let (len, header) = match self.buf[1] & 0x7F {
            126 => {
                if !self.fill(4).await? {
                    return Err(WireError::Closed("inside a frame header"));
                }
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                if !self.fill(10).await? {
                    return Err(WireError::Closed("inside a frame header"));
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        if !self.fill(header + len).await? {
            return Err(WireError::Closed("inside a frame"));
        }
        let payload = self.buf[header..header + len].to_vec();
        self.buf.drain(..header + len);
        Ok(Some(Frame {
            fin,
            opcode,
            payload,
        }))
    }
}
