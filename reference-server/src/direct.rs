//! Plain TCP members: broadcast frames go to the socket as they are, without the WebSocket
//! codec and without a wake-up of the member's task when the socket can take them.
//!
//! The socket is shared by three writers, serialised by the member's queue lock
//! ([`crate::queue`]), so bytes of two frames never interleave (the drain writes its copy of
//! queued frames after letting the lock go, but they stay queued until written, and the
//! publisher writes only while nothing is queued):
//! - the publisher, which writes a frame straight into the socket while nothing is queued
//!   (`QueueSender::offer`);
//! - the session's drain ([`poll_drain`]), which writes what is queued, up to 64 frames in
//!   one write;
//! - the session's WebSocket codec (pongs, pings, the close frame), through
//!   [`DirectSocket`]'s `AsyncWrite`: whatever is queued goes first, then the codec's bytes;
//!   the rest of a codec write the socket did not take is queued in front.
//!
//! Only the session's task waits for the socket (its reads, and writes when the socket is
//! full); the publisher never waits: what the socket does not take is queued, within the
//! queue's bound.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError};

use crate::outbox::{MAX_BATCH, WriteError};
use crate::queue::{QueueReceiver, Shared, State};

/// Frames per write at most (the TLS path's batch, `outbox.rs`).
const MAX_FRAMES: usize = MAX_BATCH as usize;

/// Queued frames smaller than this are copied into one buffer per write; larger ones are
/// written from their own bytes.
const COPY_BELOW: usize = 16 * 1024;

/// The size of that buffer: one per worker thread, not per connection.
const SCRATCH_BYTES: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(SCRATCH_BYTES));
}

/// A plain TCP connection shared by the member's session (reads, and its codec's control
/// frames) and the member's queue (broadcast frames). The bytes the HTTP server read past the
/// upgrade are put in front by wrapping it in `crate::prefixed::Prefixed`.
#[derive(Debug)]
pub(crate) struct DirectSocket {
    tcp: Arc<TcpStream>,
    queue: Arc<Shared>,
}

impl DirectSocket {
    /// Attaches `queue` to `tcp`: from now on its frames are written to it as they are, by
    /// the publisher when its room allows it, by the session otherwise.
    pub(crate) fn new(tcp: TcpStream, queue: &QueueReceiver) -> Self {
        let tcp = Arc::new(tcp);
        let queue = queue.write_to(Arc::clone(&tcp));
        Self { tcp, queue }
    }

    /// Writes what is queued until nothing is; pending while the socket is full.
    fn poll_write_queued(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let state = self.queue.lock();
            if state.is_empty() {
                return Poll::Ready(Ok(()));
            }
            match write_some(&self.tcp, &self.queue, state) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// One write of what is queued (not empty), the one step of both drains; `WouldBlock` when
/// the socket is full. Small frames are copied into one buffer and written after the lock is
/// let go: they stay queued until written, the publisher does not write itself while
/// anything is queued, and the fan-out helper (`spread.rs`) not while they are in flight.
/// For small frames this costs less than a vectored write of many short slices. A large
/// front frame is written from its own bytes, under the lock.
fn write_some(tcp: &TcpStream, queue: &Shared, mut state: MutexGuard<'_, State>) -> io::Result<()> {
    let written = if state.front_rest() >= COPY_BELOW {
        let mut slices = [IoSlice::new(&[]); MAX_FRAMES];
        let filled = state.slices(&mut slices);
        let written = tcp.try_write_vectored(&slices[..filled])?;
        state.advance(written, queue.budget());
        written
    } else {
        let written = SCRATCH.with_borrow_mut(|scratch| {
            state.copy_into(scratch, MAX_FRAMES, SCRATCH_BYTES);
            state.in_flight = true;
            drop(state);
            tcp.try_write(scratch)
        });
        let mut state = queue.lock();
        state.in_flight = false;
        let written = written?;
        state.advance(written, queue.budget());
        written
    };
    if written == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    Ok(())
}

/// The session's drain: one write of what is queued per call. Ready with the messages
/// completed on the socket (by this call or by the codec's writes since the last one);
/// pending while nothing is queued (the queue wakes it) or the socket is full (the socket
/// does); an error once the room has dropped the member (an eviction) or the socket fails.
pub(crate) fn poll_drain(queue: &Shared, cx: &mut Context<'_>) -> Poll<Result<u64, WriteError>> {
    let Some(tcp) = queue.socket() else {
        return Poll::Pending;
    };
    loop {
        let mut state = queue.lock();
        if state.is_empty() {
            let done = state.take_completed();
            if done > 0 {
                return Poll::Ready(Ok(done));
            }
            if state.sender_gone() {
                return Poll::Ready(Err(WriteError::Evicted));
            }
            state.wait_for_frames(cx);
            return Poll::Pending;
        }
        let written = match write_some(tcp, queue, state) {
            Ok(()) => return Poll::Ready(Ok(queue.lock().take_completed())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => tcp.poll_write_ready(cx),
            Err(e) => Poll::Ready(Err(e)),
        };
        match written {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Socket(WsError::Io(e)))),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Writes per [`poll_drain_turn`] at most, each of up to 64 frames: then the session's other
/// work (its reads) gets a turn.
const DRAIN_TURN: usize = 4;

/// The session's drain, several writes in one poll: what [`poll_drain`] does, repeated while
/// the queue has frames and the socket takes them, up to [`DRAIN_TURN`] writes. A frame costs
/// the session one wake-up and one poll of its other branches, not two. Messages completed
/// before the drain turns pending or fails are handed to `count`; ready with the rest once
/// the turn is used up.
pub(crate) fn poll_drain_turn(
    queue: &Shared,
    cx: &mut Context<'_>,
    count: impl Fn(u64),
) -> Poll<Result<u64, WriteError>> {
    let mut done = 0;
    for _ in 0..DRAIN_TURN {
        match poll_drain(queue, cx) {
            Poll::Ready(Ok(n)) => done += n,
            other => {
                if done > 0 {
                    count(done);
                }
                return other;
            }
        }
    }
    Poll::Ready(Ok(done))
}

impl AsyncRead for DirectSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.tcp.poll_read_ready(cx))?;
            match this.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for DirectSocket {
    /// The codec's bytes (control frames): after everything queued; what the socket does not
    /// take is queued in front, so the codec never sees a partial write.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_write_queued(cx))?;
            let mut state = this.queue.lock();
            if !state.is_empty() {
                // The publisher queued a frame meanwhile: it goes first.
                continue;
            }
            match this.tcp.try_write(buf) {
                Ok(n) => {
                    if n < buf.len() {
                        state
                            .push_front_raw(Bytes::copy_from_slice(&buf[n..]), this.queue.budget());
                    }
                    return Poll::Ready(Ok(buf.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drop(state);
                    ready!(this.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Done when nothing is queued (frames and the rest of the codec's writes).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_queued(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when the session and the room have both let go of it.
        self.get_mut().poll_write_queued(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::budget::MemoryBudget;
    use crate::frame::Frame;
    use crate::queue::test_pair::{connected, read_exactly};
    use crate::queue::{Offered, Writer, queue};

    /// A connected pair: the server side attached to a fresh queue, and the client.
    async fn attached(
        queue_bytes: usize,
        client_rcvbuf: Option<u32>,
    ) -> (
        crate::queue::QueueSender,
        crate::queue::QueueReceiver,
        DirectSocket,
        TcpStream,
    ) {
        // Small send buffers so writes end part-way.
        let (server, client) = connected(Some(4096), client_rcvbuf).await;
        let (tx, rx) = queue(queue_bytes, Arc::new(MemoryBudget::new(usize::MAX)));
        let direct = DirectSocket::new(server, &rx);
        (tx, rx, direct, client)
    }

    /// Drains until nothing is queued, as the session's loop does.
    async fn drain(rx: &crate::queue::QueueReceiver) -> u64 {
        let mut messages = 0;
        loop {
            let step = std::future::poll_fn(|cx| match poll_drain(rx.shared(), cx) {
                Poll::Pending => Poll::Ready(None),
                ready => ready.map(Some),
            })
            .await;
            match step {
                Some(Ok(n)) => messages += n,
                Some(Err(_)) => panic!("the drain failed"),
                None if rx.shared().lock().is_empty() => return messages,
                None => tokio::task::yield_now().await,
            }
        }
    }

    #[tokio::test]
    async fn the_publisher_writes_only_where_the_room_lets_it() {
        let frame = Frame::from(r#"{"message": "m"}"#);
        let (tx, _rx, _socket, mut client) = attached(1 << 20, None).await;
        assert_eq!(tx.offer(&frame, true), Ok(Offered::Written));
        assert_eq!(
            read_exactly(&mut client, frame.wire().len()).await,
            frame.wire().to_vec()
        );
        // Not allowed (past the room's share, or a busy node): queued (its session is
        // woken), though the member is idle.
        let (tx, rx, _socket, mut client) = attached(1 << 20, None).await;
        assert_eq!(tx.offer(&frame, false), Ok(Offered::Queued));
        assert_eq!(drain(&rx).await, 1);
        assert_eq!(
            read_exactly(&mut client, frame.wire().len()).await,
            frame.wire().to_vec()
        );
    }

    #[tokio::test]
    async fn an_idle_member_is_written_by_the_publisher_and_a_busy_one_by_its_drain() {
        let (tx, rx, _socket, mut client) = attached(1 << 20, None).await;
        let start = Instant::now();
        let at = |ms: u64| move || start + Duration::from_millis(ms);
        let first = Frame::from(r#"{"message": "1"}"#);
        assert_eq!(
            tx.offer_with(&first, true, Writer::Publisher, at(0)),
            Ok(Offered::Written)
        );
        assert_eq!(
            read_exactly(&mut client, first.wire().len()).await,
            first.wire().to_vec()
        );
        // Within DIRECT_GAP of the previous frame: queued, written by the drain.
        let second = Frame::from(r#"{"message": "2"}"#);
        let gap = crate::queue::DIRECT_GAP.as_millis() as u64;
        assert_eq!(
            tx.offer_with(&second, true, Writer::Publisher, at(gap - 1)),
            Ok(Offered::Queued)
        );
        // Not allowed by the room (a busy node): queued too, also after the gap.
        let third = Frame::from(r#"{"message": "3"}"#);
        assert_eq!(
            tx.offer_with(&third, false, Writer::Publisher, at(3 * gap)),
            Ok(Offered::Queued)
        );
        assert_eq!(drain(&rx).await, 2);
        let expected = [second.wire().as_ref(), third.wire().as_ref()].concat();
        assert_eq!(read_exactly(&mut client, expected.len()).await, expected);
    }

    /// Small socket buffers, large frames and a client that reads a little at a time: the
    /// publisher's writes end in partial writes, frames queue behind them and drains run in
    /// between. The client must read every frame whole, in order.
    #[tokio::test]
    async fn frames_are_never_interleaved_when_the_socket_fills() {
        let (tx, rx, _socket, mut client) = attached(64 << 20, Some(4096)).await;
        let frames: Vec<Frame> = (0..120)
            .map(|i| Frame::from(format!("{i:04}{}", "x".repeat(3_000 + i * 37))))
            .collect();
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.wire().to_vec()).collect();
        let mut got = Vec::new();
        let mut buf = vec![0; 2_000];
        // The offers' clock: every other frame comes DIRECT_GAP after the one before, so the
        // publisher writes it if nothing is queued, into a socket that may take only part.
        let mut now = Instant::now();
        for (i, frame) in frames.iter().enumerate() {
            if i % 2 == 0 {
                now += crate::queue::DIRECT_GAP;
            }
            tx.offer_with(frame, true, Writer::Publisher, || now)
                .expect("queued or written");
            let _ = std::future::poll_fn(|cx| Poll::Ready(poll_drain(rx.shared(), cx))).await;
            if let Ok(n) = client.try_read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        let rest = expected.len() - got.len();
        let (_, tail) = tokio::join!(drain(&rx), read_exactly(&mut client, rest));
        got.extend_from_slice(&tail);
        assert!(got == expected, "the bytes differ from the frames in order");
    }

    /// One poll of the session's drain writes up to DRAIN_TURN batches and counts them: a
    /// frame costs the session one wake-up, and a long queue still gives reading its turn.
    #[tokio::test]
    async fn a_drain_turn_writes_until_idle_or_its_turn_is_used_up() {
        let (tx, rx, _socket, mut client) = attached(64 << 20, None).await;
        let frame = Frame::from(r#"{"message": "x"}"#);
        let offer = |n: usize| {
            for _ in 0..n {
                // No direct write: every frame queued for the drain.
                assert_eq!(tx.offer(&frame, false), Ok(Offered::Queued));
            }
        };
        let counted = std::cell::Cell::new(0);
        let turn = || {
            std::future::poll_fn(|cx| {
                Poll::Ready(poll_drain_turn(rx.shared(), cx, |n| {
                    counted.set(counted.get() + n);
                }))
            })
        };
        // Fewer than a turn's worth: all written, counted, and the drain waits for more.
        offer(10);
        assert!(turn().await.is_pending());
        assert_eq!(counted.get(), 10);
        // More than a turn's worth: DRAIN_TURN batches of MAX_FRAMES, then the rest next time.
        offer(DRAIN_TURN * MAX_FRAMES + 5);
        let full = turn().await;
        assert!(matches!(full, Poll::Ready(Ok(n)) if n == (DRAIN_TURN * MAX_FRAMES) as u64));
        assert!(turn().await.is_pending());
        assert_eq!(counted.get(), 15);
        let total = (10 + DRAIN_TURN * MAX_FRAMES + 5) * frame.wire().len();
        assert_eq!(read_exactly(&mut client, total).await.len(), total);
    }
}
