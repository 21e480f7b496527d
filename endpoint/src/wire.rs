//! The socket under a tool's WebSocket, as the tool's WebSocket library sees it: bytes read
//! and written are counted (the WebSocket stream as it crosses the socket: frames, compressed
//! when permessage-deflate is on; inside TLS), and, when the server agreed to
//! permessage-deflate, its compressed messages are inflated here, below tungstenite (which
//! has no permessage-deflate): each compressed message, however it was fragmented, reaches
//! tungstenite as one plain frame. Control frames go through as they are; the rules of
//! RFC 6455 and 7692 on frames and messages are rawws's ([`rawws::Assembler`]), so a plain
//! fragmented message reaches tungstenite whole too.
//!
//! Only the server's side is compressed: this client's messages go out plain, which RFC 7692
//! allows (RSV1 is per message). The response head is read here too, to see what the
//! server agreed to before any frame is passed up. Bounds: a message (compressed or
//! fragmented) is held until its last frame (at most [`MAX_MESSAGE`] bytes as they came), and
//! inflated to at most as many; past either the connection fails with an error that says so.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use rawws::deflate::{self, Inflater};
use rawws::{Assembler, Inflated, Step};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::throttle::{SlowRead, Throttle};

/// A message's largest size, compressed or inflated (tungstenite's own default bound).
pub const MAX_MESSAGE: usize = 64 << 20;

/// Counters one run shares over all its sockets.
#[derive(Debug, Default)]
pub struct WireCounters {
    /// Bytes read from the socket after the response head (frames as they came).
    pub read: AtomicU64,
    /// Bytes written to the socket after the request.
    pub written: AtomicU64,
    /// Compressed messages inflated, their bytes as they came and inflated.
    pub inflated_messages: AtomicU64,
    pub inflated_from: AtomicU64,
    pub inflated_to: AtomicU64,
    /// Connections on which the server agreed to permessage-deflate.
    pub deflate_agreed: AtomicU64,
}

impl WireCounters {
    /// Each counter, in the order of the fields.
    pub fn snapshot(&self) -> [u64; 6] {
        [
            &self.read,
            &self.written,
            &self.inflated_messages,
            &self.inflated_from,
            &self.inflated_to,
            &self.deflate_agreed,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

enum Phase {
    /// The response head, up to its blank line.
    Head(Vec<u8>),
    /// Frames, passed through as they come (no deflate agreed).
    Through,
    /// Frames made into messages, compressed ones inflated; what inflating had given by
    /// the last frame.
    Inflating(Box<Assembler>, Inflated),
}

/// A socket with its bytes counted and the server's compressed messages inflated.
pub struct Wire<S> {
    inner: S,
    offered: bool,
    phase: Phase,
    counters: Arc<WireCounters>,
    /// Read from the socket, not yet made into frames (while inflating).
    raw: Vec<u8>,
    /// Ready for the reader.
    out: Vec<u8>,
    /// A slow reader's pace after the response head, until it is lifted.
    throttle: Option<Throttle>,
}

impl<S> std::fmt::Debug for Wire<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").finish_non_exhaustive()
    }
}

impl<S> Wire<S> {
    /// `inner`, counted into `counters`; `offered`: the request offers permessage-deflate (if
    /// not, an answer that agrees to it fails the connection, as RFC 6455 4.1 says).
    pub fn new(inner: S, counters: Arc<WireCounters>, offered: bool) -> Self {
        Self {
            inner,
            offered,
            phase: Phase::Head(Vec::new()),
            counters,
            raw: Vec::new(),
            out: Vec::new(),
            throttle: None,
        }
    }

    /// Reads at `slow`'s pace once the response head is in, until it is lifted.
    pub fn throttled(mut self, slow: Option<&SlowRead>) -> Self {
        self.throttle = slow.map(Throttle::new);
        self
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Bytes read from the socket: passed up, or taken as frames.
    fn took(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.phase {
            Phase::Head(head) => {
                head.extend_from_slice(bytes);
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    if head.len() > 64 << 10 {
                        return Err(invalid("a response head over 64 KiB".into()));
                    }
                    return Ok(());
                };
                let mut head = std::mem::take(head);
                let rest = head.split_off(end + 4);
                self.phase = match agreed(&head)? {
                    Some(_) if !self.offered => {
                        return Err(invalid(
                            "the server agreed to it, and it was not offered".into(),
                        ));
                    }
                    Some(params) => {
                        self.counters.deflate_agreed.fetch_add(1, Ordering::Relaxed);
                        let assembler =
                            Assembler::new(MAX_MESSAGE).with_inflater(Inflater::new(&params));
                        Phase::Inflating(Box::new(assembler), Inflated::default())
                    }
                    None => Phase::Through,
                };
                self.out.extend_from_slice(&head);
                self.counters
                    .read
                    .fetch_add(rest.len() as u64, Ordering::Relaxed);
                self.frames(&rest)
            }
            _ => {
                self.counters
                    .read
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.frames(bytes)
            }
        }
    }

    /// Frames' bytes: through as they are, or with compressed messages inflated.
    fn frames(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Phase::Through = self.phase {
            self.out.extend_from_slice(bytes);
            return Ok(());
        }
        self.raw.extend_from_slice(bytes);
        let mut used = 0;
        while let rawws::Parsed::Frame(frame, n) =
            rawws::parse_frame(&self.raw[used..], MAX_MESSAGE).map_err(invalid)?
        {
            used += n;
            self.frame(frame)?;
        }
        self.raw.drain(..used);
        Ok(())
    }

    /// One frame of a connection with deflate agreed: a whole message or a control frame
    /// goes up as one plain frame, a fragment waits for the rest.
    fn frame(&mut self, frame: rawws::Frame) -> io::Result<()> {
        let Phase::Inflating(assembler, counted) = &mut self.phase else {
            unreachable!("frames are parsed only while inflating");
        };
        let Step::Deliver(message) = assembler.push(frame).map_err(invalid)? else {
            return Ok(());
        };
        let now = assembler.inflated();
        let c = &self.counters;
        c.inflated_messages
            .fetch_add(now.messages - counted.messages, Ordering::Relaxed);
        c.inflated_from
            .fetch_add(now.from_bytes - counted.from_bytes, Ordering::Relaxed);
        c.inflated_to
            .fetch_add(now.to_bytes - counted.to_bytes, Ordering::Relaxed);
        *counted = now;
        self.out
            .extend(rawws::server_frame(true, message.opcode, &message.payload));
        Ok(())
    }
}

/// What the response head agreed to: `Some` when it answers with permessage-deflate.
fn agreed(head: &[u8]) -> io::Result<Option<deflate::Params>> {
    let head = String::from_utf8_lossy(head);
    let answers: Vec<&str> = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|(_, v)| v.trim())
        .collect();
    match answers.as_slice() {
        [] => Ok(None),
        [one] => deflate::negotiated(one).map(Some).map_err(invalid),
        _ => Err(invalid("several Sec-WebSocket-Extensions answers".into())),
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("permessage-deflate: {what}"),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.out.is_empty() {
                let n = this.out.len().min(buf.remaining());
                buf.put_slice(&this.out[..n]);
                this.out.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let paced = match (&mut this.throttle, &this.phase) {
                (Some(throttle), Phase::Through | Phase::Inflating(..)) => {
                    match throttle.poll_allowed(cx) {
                        Poll::Ready(Some(n)) => Some(n),
                        Poll::Ready(None) => {
                            this.throttle = None;
                            None
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                _ => None,
            };
            if let (Phase::Through, None) = (&this.phase, paced) {
                // Straight into the reader's buffer: only counted.
                let before = buf.filled().len();
                let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
                let n = buf.filled().len() - before;
                this.counters.read.fetch_add(n as u64, Ordering::Relaxed);
                return polled;
            }
            let mut chunk = [0u8; 16 << 10];
            let cap = paced.unwrap_or(chunk.len()).min(chunk.len());
            let mut read = ReadBuf::new(&mut chunk[..cap]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(throttle) = &mut this.throttle {
                        throttle.spent(n);
                    }
                    this.took(&chunk[..n])?;
                }
                other => return other,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), false) = (&written, matches!(this.phase, Phase::Head(_))) {
            this.counters
                .written
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HEAD_DEFLATE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n";

    fn compressed(text: &str) -> Vec<u8> {
        let params = deflate::negotiated("permessage-deflate").expect("valid");
        deflate::Deflater::new(&params)
            .expect("15 bits")
            .deflate(text.as_bytes())
    }

    /// Everything `server` writes, as read through a [`Wire`].
    async fn through(server: Vec<u8>) -> (io::Result<Vec<u8>>, Arc<WireCounters>) {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(&server).await.expect("write");
        drop(a);
        let counters = Arc::new(WireCounters::default());
        let mut wire = Wire::new(b, Arc::clone(&counters), true);
        let mut got = Vec::new();
        let result = wire.read_to_end(&mut got).await.map(|_| got);
        (result, counters)
    }

    #[tokio::test]
    async fn compressed_messages_reach_the_reader_as_plain_frames() {
        let wire = compressed("hello hello hello");
        let (head, tail) = wire.split_at(3);
        let mut server = HEAD_DEFLATE.to_vec();
        // One compressed message in two frames, a ping between them, then a plain one.
        server.push(0x40 | 0x01);
        server.push(head.len() as u8);
        server.extend_from_slice(head);
        server.extend_from_slice(&[0x89, 0x01, b'p']);
        server.push(0x80);
        server.push(tail.len() as u8);
        server.extend_from_slice(tail);
        server.extend(rawws::server_frame(true, 0x1, b"plain"));
        let (got, counters) = through(server).await;
        let mut want = HEAD_DEFLATE.to_vec();
        want.extend_from_slice(&[0x89, 0x01, b'p']);
        want.extend(rawws::server_frame(true, 0x1, b"hello hello hello"));
        want.extend(rawws::server_frame(true, 0x1, b"plain"));
        assert_eq!(got.expect("valid"), want);
        assert_eq!(counters.deflate_agreed.load(Ordering::Relaxed), 1);
        assert_eq!(counters.inflated_messages.load(Ordering::Relaxed), 1);
        assert_eq!(counters.inflated_to.load(Ordering::Relaxed), 17);
    }

    #[tokio::test]
    async fn without_deflate_bytes_pass_untouched_and_rsv1_is_left_to_the_reader() {
        let mut server = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
        server.extend_from_slice(&[0xC1, 0x01, b'x']);
        let (got, counters) = through(server.clone()).await;
        assert_eq!(got.expect("passed"), server);
        assert_eq!(counters.read.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn rsv1_on_a_continuation_fails_the_connection() {
        let wire = compressed("hello");
        let mut server = HEAD_DEFLATE.to_vec();
        server.extend_from_slice(&[0x41, 1, wire[0], 0xC0, (wire.len() - 1) as u8]);
        server.extend_from_slice(&wire[1..]);
        let (got, _) = through(server).await;
        let err = got.expect_err("RSV1 on a continuation");
        assert!(err.to_string().contains("RSV1"), "{err}");
    }
}
