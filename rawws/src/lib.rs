//! A WebSocket and HTTP client written against RFC 6455 and RFC 9112 directly, byte by byte:
//! the conformance suite's client, and the reference server's raw-frame tests' client.
//!
//! It uses neither the server's WebSocket library nor its protocol crate: a bug they share
//! with the server must not be able to pass.
//!
//! - `frame`: opcodes, the parser of a server's frames, client frame headers.
//! - `message`: messages assembled from fragments, control frames between them.
//! - `deflate`: permessage-deflate (RFC 7692): the offer, the answer checked, inflating and
//!   deflating messages.
//! - `trace`: a wire log of every head and frame, for evidence.
//! - `http`: requests sent verbatim, response heads and bodies read.
//! - `handshake`: the opening handshake and the checks of its 101.
//! - here: [`Ws`], one connection: handshake, frames out (masked), messages and frames in.

pub mod deflate;
mod frame;
mod handshake;
mod http;
mod message;
pub mod trace;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

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
pub use frame::{Frame, Next, Parsed, clip, op, parse as parse_frame, server_frame};

pub use handshake::offered;
pub use http::{
    HttpResponse, MAX_BODY, MAX_HEAD, head_end, http_get, http_raw, http_raw_on, parse_head,
};
pub use message::{Assembler, Inflated, RSV1, Step};

/// The largest message (and frame) a connection reads unless told otherwise: above what any
/// conformance case sends back (1 MiB escaped up to six times), far below what would strain
/// the machine.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

type Result<T> = std::result::Result<T, WireError>;

/// What a connection runs over: a `TcpStream`, or TLS over one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A raw WebSocket client connection.
#[derive(Debug)]
pub struct Ws<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
    assembler: Assembler,
    /// A close frame was sent: pings are no longer answered (the peer may already have
    /// closed the TCP connection after its own close).
    closing: bool,
    pub response: HttpResponse,
    /// permessage-deflate, when it was offered and the server accepted it.
    pub deflate: Option<deflate::Params>,
    /// Compresses what [`Self::send_text`] sends, when deflate was agreed (and the window
    /// the server allows is one zlib can keep to).
    deflater: Option<Box<deflate::Deflater>>,
    /// Where heads and frames are logged, when traced.
    recorder: Option<trace::Recorder>,
}

/// The result of a handshake: accepted, or the HTTP answer that refused it.
#[derive(Debug)]
pub enum Handshake<S = TcpStream> {
    Accepted(Ws<S>),
    Refused(HttpResponse),
}

impl<S: Stream> Ws<S> {
    /// Writes one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> Result<()> {
        self.send_frame_rsv(fin, 0, opcode, payload).await
    }

    /// Writes one masked frame with reserved bits `rsv` (RSV1 to RSV3, high to low: [`RSV1`]
    /// marks a compressed message's first frame).
    pub async fn send_frame_rsv(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
    ) -> Result<()> {
        let mask: [u8; 4] = rand::random();
        self.closing |= opcode == op::CLOSE;
        if let Some(r) = &self.recorder {
            r.frame(
                true,
                &Frame {
                    fin,
                    rsv,
                    opcode,
                    payload: payload.to_vec(),
                },
            );
        }
        let mut frame = frame_header(fin, rsv, opcode, payload.len(), mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Writes only the header of a frame of `len` bytes, with a zero mask key, so the payload
    /// can follow as it is, in pieces, through [`Self::stream_mut`] (a slow sender).
    pub async fn send_header(&mut self, fin: bool, opcode: u8, len: usize) -> Result<()> {
        if let Some(r) = &self.recorder {
            r.note(&format!(
                "> the header of a frame of {len} bytes (opcode {opcode}); its payload follows raw"
            ));
        }
        let header = frame_header(fin, 0, opcode, len, [0; 4]);
        self.stream.write_all(&header).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// One text message: compressed when permessage-deflate was agreed (as browsers send).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        match self.deflater.as_mut() {
            Some(deflater) => {
                let payload = deflater.deflate(text.as_bytes());
                self.send_frame_rsv(true, RSV1, op::TEXT, &payload).await
            }
            None => self.send_frame(true, op::TEXT, text.as_bytes()).await,
        }
    }

    pub async fn send_close(&mut self, code: u16) -> Result<()> {
        self.send_frame(true, op::CLOSE, &code.to_be_bytes()).await
    }

    /// Sets the bound on a message's (and a frame's) payload; a larger one is an error.
    pub fn set_max_message(&mut self, bytes: usize) {
        self.assembler.set_max_message(bytes);
    }

    /// The next message within `wait`, silence, or the end of the connection. A message is
    /// a whole text or binary message however the server fragmented it (as a [`Frame`] with
    /// `fin` set and the first frame's opcode), or a close frame. Pings are answered and
    /// pongs (a heartbeat needs no answer, RFC 6455 5.5.3) skipped, between fragments too.
    pub async fn next(&mut self, wait: Duration) -> Result<Next> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match self.next_frame_until(deadline).await? {
                Next::Frame(frame) => frame,
                other => return Ok(other),
            };
            if frame.opcode == op::PONG {
                continue;
            }
            match self.assembler.push(frame).map_err(WireError::Malformed)? {
                Step::Deliver(message) => return Ok(Next::Frame(message)),
                Step::Partial => continue,
            }
        }
    }

    /// The next frame within `wait`, as it came (a fragment is a frame), silence, or the end
    /// of the connection: for the cases about framing itself. Pings are answered and skipped.
    pub async fn next_frame(&mut self, wait: Duration) -> Result<Next> {
        self.next_frame_until(tokio::time::Instant::now() + wait)
            .await
    }

    async fn next_frame_until(&mut self, deadline: tokio::time::Instant) -> Result<Next> {
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.read_frame()).await {
                Err(_) => return Ok(Next::Silence),
                Ok(Ok(Some(frame))) => frame,
                Ok(Ok(None)) => {
                    // The peer closed TCP: so does this side, as any client would.
                    let _ = self.stream.shutdown().await;
                    return Ok(Next::Eof);
                }
                Ok(Err(e)) => return Err(e),
            };
            if frame.opcode == op::CLOSE {
                self.close_handshake(&frame).await;
            }
            if frame.opcode == op::PING {
                if frame.payload.len() > 125 || !frame.fin {
                    return Err(WireError::Malformed(format!(
                        "a ping of {} bytes{} (control frames are whole and hold at most 125)",
                        frame.payload.len(),
                        if frame.fin { "" } else { " without FIN" }
                    )));
                }
                if self.closing {
                    continue;
                }
                match self.send_frame(true, op::PONG, &frame.payload).await {
                    // The peer is gone; what it sent before may still be read.
                    Err(WireError::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                        ) => {}
                    other => other?,
                }
                continue;
            }
            return Ok(Next::Frame(frame));
        }
    }

    /// A close frame came: the close handshake is completed as RFC 6455 5.5.1 and 7.1.1 say
    /// (a close sent back, echoing the code, unless this side closed first; then this side's
    /// TCP closed), as browsers do. A server may hold its resources until the client's side
    /// of TCP ends. Failures mean the peer is gone already, which is the aim.
    async fn close_handshake(&mut self, close: &Frame) {
        if !self.closing {
            let code = close.payload.get(..2).unwrap_or_default().to_vec();
            let _ = self.send_frame(true, op::CLOSE, &code).await;
        }
        let _ = self.stream.shutdown().await;
    }

    /// The next text message's payload; anything else is an error with evidence.
    pub async fn recv_text(&mut self, wait: Duration) -> std::result::Result<String, String> {
        match self.next(wait).await {
            Ok(Next::Frame(f)) if f.opcode == op::TEXT => {
                // The assembler checked UTF-8 over the whole message.
                String::from_utf8(f.payload).map_err(|_| "a text message that is not UTF-8".into())
            }
            Ok(Next::Frame(f)) => Err(format!("expected a text message, got {}", f.describe())),
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

    /// The stream the socket runs on.
    pub fn stream(&self) -> &S {
        &self.stream
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
        let mut want = 2;
        loop {
            if !self.fill(want).await? {
                if let Some(r) = &self.recorder {
                    r.note("< TCP ended");
                }
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(WireError::Closed("inside a frame"))
                };
            }
            let parsed = frame::parse(&self.buf, self.assembler.max_message());
            if let (Err(e), Some(r)) = (&parsed, &self.recorder) {
                r.note(&format!("< malformed: {e}"));
            }
            match parsed.map_err(WireError::Malformed)? {
                Parsed::Frame(frame, used) => {
                    self.buf.drain(..used);
                    if let Some(r) = &self.recorder {
                        r.frame(false, &frame);
                    }
                    return Ok(Some(frame));
                }
                Parsed::Need(n) => want = n,
            }
        }
    }
}
