//! A member's outlet: its queue (`queue/`) and, for a plain TCP member, its socket,
//! with every write of broadcast frames into that socket. The one owner of a member's socket
//! on the write side.
//!
//! The room says who should write each frame ([`Writer`], decided in `rooms.rs` from
//! `--direct-write-below` and `--direct-write-members`); the outlet adds its own conditions
//! (a plain TCP socket attached, nothing queued, the member quiet for [`DIRECT_GAP`]) and
//! otherwise queues the frame for the member's session. Writers of a plain TCP socket, all
//! serialised by the queue's lock, so bytes of two frames never interleave:
//! - the publisher, which writes a frame straight into the socket while nothing is queued
//!   ([`OutletSender::offer`], `write::write_frame`): no wake-up of the member's task, nothing
//!   charged when the socket takes it whole; the rest of a frame it began is queued first;
//! - the fan-out helper (`spread.rs`), which writes what the publisher queued for it
//!   (`write::write_for_helper`) and wakes the session only when the socket did not take all;
//! - the session's drain (`drain.rs`), which writes what is queued;
//! - the session's WebSocket codec (pongs, pings, the close frame), through `DirectSocket`'s
//!   `AsyncWrite` (`socket.rs`): whatever is queued goes first, then the codec's bytes; the
//!   rest of a codec write the socket did not take is queued in front.
//!
//! The helper, the drain and the codec write queued frames with one function
//! (`write::write_queued`); only the session's task waits for the socket, the publisher and
//! the helper never do. A TLS member has no socket here: its session takes frames off the
//! queue ([`OutletReceiver::poll_recv`]) and writes them through its codec (`outbox.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::budget::MemoryBudget;
use crate::frame::Frame;
use crate::queue::{QueueReceiver, QueueSender, Refused, Shared, Wake, queue};

mod drain;
mod socket;
#[cfg(test)]
pub(crate) mod test_pair;
mod write;

pub(crate) use drain::poll_drain_turn;
pub(crate) use socket::DirectSocket;
pub(crate) use write::write_for_helper;

/// Frames written per flush or `write` at most, on both paths (the TLS session's codec,
/// `outbox.rs`, and the writes here), so the session gets back to its other branches.
pub(crate) const MAX_BATCH: u64 = 64;

/// Why a session's writing stopped.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The room dropped this member's queue: it was evicted.
    Evicted,
    /// The socket failed.
    Socket(WsError),
}

/// A frame offered sooner than this after the previous one is queued for the session even
/// when the socket could take it: a member that receives often (or a burst) is written in
/// batches, one `write` for up to 64 frames, by its session; the publisher writes
/// straight into the socket only for members that receive at most about 100 frames a second,
/// where every frame would cost a write of its own anyway and the wake-up is what is saved.
pub const DIRECT_GAP: Duration = Duration::from_millis(10);

/// Who the room wants to write a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The publisher, now, straight into the socket.
    Publisher,
    /// The fan-out helper (`spread.rs`), as soon as the publisher hands it the room's
    /// share: the frame is queued without waking the member's session.
    Helper,
    /// The member's session: the frame is queued and the session woken.
    Session,
}

/// What became of an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// The socket took it whole, from the publisher: delivered.
    Written,
    /// Queued for the member's session.
    Queued,
    /// Queued for the fan-out helper, the session not woken: the helper must be handed
    /// this member ([`OutletSender::outlet`]).
    ForHelper,
}

/// What the room's side and the session's side of a member share: the queue, the socket once
/// attached, and when the last frame was offered.
#[derive(Debug)]
pub(crate) struct Outlet {
    queue: Arc<Shared>,
    /// Set once, when the session's connection turns out to be plain TCP.
    socket: OnceLock<Arc<TcpStream>>,
    /// When the last frame was offered to the attached socket, in nanoseconds since `born`,
    /// plus one (0: never). Read and written under the queue's lock only.
    last_offer: AtomicU64,
    born: Instant,
}

impl Outlet {
    pub(crate) fn queue(&self) -> &Shared {
        &self.queue
    }

    pub(crate) fn socket(&self) -> Option<&Arc<TcpStream>> {
        self.socket.get()
    }

    /// True when the previous frame was offered [`DIRECT_GAP`] ago or more (and notes this
    /// offer). Called under the queue's lock.
    fn quiet_since_last_offer(&self, now: Instant) -> bool {
        let at = u64::try_from(now.saturating_duration_since(self.born).as_nanos())
            .unwrap_or(u64::MAX - 1)
            + 1;
        let last = self.last_offer.swap(at, Ordering::Relaxed);
        let gap = u64::try_from(DIRECT_GAP.as_nanos()).unwrap_or(u64::MAX);
        last == 0 || at.saturating_sub(last) >= gap
    }
}

/// The room's side of a member's outlet.
#[derive(Debug)]
pub struct OutletSender {
    tx: QueueSender,
    outlet: Arc<Outlet>,
}

/// The session's side of a member's outlet.
#[derive(Debug)]
pub struct OutletReceiver {
    rx: QueueReceiver,
    outlet: Arc<Outlet>,
}

/// A member's outlet with a queue of at most `limit` bytes of charges, within `budget`.
pub fn outlet(limit: usize, budget: Arc<MemoryBudget>) -> (OutletSender, OutletReceiver) {
    let (tx, rx) = queue(limit, budget);
    let outlet = Arc::new(Outlet {
        queue: Arc::clone(tx.shared()),
        socket: OnceLock::new(),
        last_offer: AtomicU64::new(0),
        born: Instant::now(),
    });
    (
        OutletSender {
            tx,
            outlet: Arc::clone(&outlet),
        },
        OutletReceiver { rx, outlet },
    )
}

impl OutletSender {
    /// Puts `frame` on the wire or queues a clone of it (the bytes are shared), as `writer`
    /// and the outlet's conditions allow, or says why not. Never waits.
    pub fn offer(&self, frame: &Frame, writer: Writer) -> Result<Offered, Refused> {
        self.offer_at(frame, writer, Instant::now)
    }

    /// [`Self::offer`] on the clock `now`, read only when the room lets the publisher or the
    /// helper write (tests give a clock of their own).
    pub(crate) fn offer_at(
        &self,
        frame: &Frame,
        writer: Writer,
        now: impl FnOnce() -> Instant,
    ) -> Result<Offered, Refused> {
        let state = self.tx.lock_open()?;
        let outlet = &*self.outlet;
        let socket = match writer {
            Writer::Session => None,
            Writer::Publisher | Writer::Helper => outlet.socket.get().filter(|_| {
                // No clock read where the room lets nobody else write (a busy node).
                outlet.quiet_since_last_offer(now()) && state.is_empty()
            }),
        };
        let Some(socket) = socket else {
            return self
                .tx
                .push(state, frame, Wake::Session, 0)
                .map(|()| Offered::Queued);
        };
        if writer == Writer::Helper {
            // Within the bounds: the queue is empty.
            return self
                .tx
                .push(state, frame, Wake::No, 0)
                .map(|()| Offered::ForHelper);
        }
        let begun = write::write_frame(socket, frame);
        if begun == frame.wire().len() {
            return Ok(Offered::Written);
        }
        self.tx
            .push(state, frame, Wake::Session, begun)
            .map(|()| Offered::Queued)
    }

    /// The outlet, for the fan-out helper to write.
    pub(crate) fn outlet(&self) -> Arc<Outlet> {
        Arc::clone(&self.outlet)
    }
}

impl OutletReceiver {
    /// Why the room refused this member a frame (and evicted it), if it did.
    pub fn refused(&self) -> Option<Refused> {
        self.rx.refused()
    }

    /// The bound of this member's queue, in bytes of charges.
    pub fn limit(&self) -> usize {
        self.rx.limit()
    }

    /// From now on frames go to `tcp` as they are: the publisher and the helper write into it
    /// while nothing is queued and the room allows it, and the session drains the rest
    /// ([`poll_drain_turn`]); [`Self::poll_recv`] yields nothing more.
    pub(crate) fn attach(&self, tcp: TcpStream) -> DirectSocket {
        let tcp = Arc::new(tcp);
        let _ = self.outlet.socket.set(Arc::clone(&tcp));
        DirectSocket::new(tcp, Arc::clone(&self.outlet))
    }

    /// The outlet, once a socket is attached: the session drains it.
    pub(crate) fn attached(&self) -> Option<&Arc<Outlet>> {
        self.outlet.socket.get().map(|_| &self.outlet)
    }

    /// The next frame, for a session that hands frames to its WebSocket codec; `None` once
    /// the room has dropped the sender (an eviction) and the queue is empty. Its charge is
    /// held until [`Self::flushed`]. Never ready once a socket is attached.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        if self.outlet.socket.get().is_some() {
            return Poll::Pending;
        }
        self.rx.poll_recv(cx)
    }

    /// Everything taken so far has reached the socket: release its charges.
    pub fn flushed(&mut self) {
        self.rx.flushed();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::outlet::test_pair::{connected, read_exactly};

    /// A connected pair: the server side attached to a fresh outlet, and the client.
    pub(super) async fn attached(
        queue_bytes: usize,
        client_rcvbuf: Option<u32>,
    ) -> (OutletSender, OutletReceiver, DirectSocket, TcpStream) {
        // Small send buffers so writes end part-way.
        let (server, client) = connected(Some(4096), client_rcvbuf).await;
        let (tx, rx) = outlet(queue_bytes, Arc::new(MemoryBudget::new(usize::MAX)));
        let direct = rx.attach(server);
        (tx, rx, direct, client)
    }

    /// Drains until nothing is queued, as the session's loop does.
    pub(super) async fn drain(rx: &OutletReceiver) -> u64 {
        let outlet = rx.attached().expect("attached");
        let mut messages = 0;
        loop {
            let step = std::future::poll_fn(|cx| match drain::poll_drain(outlet, cx) {
                Poll::Pending => Poll::Ready(None),
                ready => ready.map(Some),
            })
            .await;
            match step {
                Some(Ok(n)) => messages += n,
                Some(Err(_)) => panic!("the drain failed"),
                None if outlet.queue().lock().is_empty() => return messages,
                None => tokio::task::yield_now().await,
            }
        }
    }

    #[tokio::test]
    async fn the_publisher_writes_only_where_the_room_lets_it() {
        let frame = Frame::from(r#"{"message": "m"}"#);
        let (tx, _rx, _socket, mut client) = attached(1 << 20, None).await;
        assert_eq!(tx.offer(&frame, Writer::Publisher), Ok(Offered::Written));
        assert_eq!(
            read_exactly(&mut client, frame.wire().len()).await,
            frame.wire().to_vec()
        );
        // Left to the session (past the room's share, or a busy node): queued (its session
        // is woken), though the member is idle.
        let (tx, rx, _socket, mut client) = attached(1 << 20, None).await;
        assert_eq!(tx.offer(&frame, Writer::Session), Ok(Offered::Queued));
        assert_eq!(drain(&rx).await, 1);
        assert_eq!(
            read_exactly(&mut client, frame.wire().len()).await,
            frame.wire().to_vec()
        );
    }

    #[tokio::test]
    async fn without_a_socket_every_frame_is_queued_for_the_session() {
        let frame = Frame::from(r#"{"message": "m"}"#);
        let (tx, mut rx) = outlet(1 << 20, Arc::new(MemoryBudget::new(usize::MAX)));
        for writer in [Writer::Publisher, Writer::Helper, Writer::Session] {
            assert_eq!(tx.offer(&frame, writer), Ok(Offered::Queued));
        }
        let mut got = 0;
        while let Poll::Ready(Some(_)) =
            rx.poll_recv(&mut Context::from_waker(std::task::Waker::noop()))
        {
            got += 1;
        }
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn an_idle_member_is_written_by_the_publisher_and_a_busy_one_by_its_drain() {
        let (tx, rx, _socket, mut client) = attached(1 << 20, None).await;
        let start = Instant::now();
        let at = |ms: u64| move || start + Duration::from_millis(ms);
        let first = Frame::from(r#"{"message": "1"}"#);
        assert_eq!(
            tx.offer_at(&first, Writer::Publisher, at(0)),
            Ok(Offered::Written)
        );
        assert_eq!(
            read_exactly(&mut client, first.wire().len()).await,
            first.wire().to_vec()
        );
        // Within DIRECT_GAP of the previous frame: queued, written by the drain.
        let second = Frame::from(r#"{"message": "2"}"#);
        let gap = DIRECT_GAP.as_millis() as u64;
        assert_eq!(
            tx.offer_at(&second, Writer::Publisher, at(gap - 1)),
            Ok(Offered::Queued)
        );
        // Left to the session by the room (a busy node): queued too, also after the gap.
        let third = Frame::from(r#"{"message": "3"}"#);
        assert_eq!(
            tx.offer_at(&third, Writer::Session, at(3 * gap)),
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
        let outlet = Arc::clone(rx.attached().expect("attached"));
        // The offers' clock: every other frame comes DIRECT_GAP after the one before, so the
        // publisher writes it if nothing is queued, into a socket that may take only part.
        let mut now = Instant::now();
        for (i, frame) in frames.iter().enumerate() {
            if i % 2 == 0 {
                now += DIRECT_GAP;
            }
            tx.offer_at(frame, Writer::Publisher, || now)
                .expect("queued or written");
            let _ = std::future::poll_fn(|cx| Poll::Ready(drain::poll_drain(&outlet, cx))).await;
            if let Ok(n) = client.try_read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        let rest = expected.len() - got.len();
        let (_, tail) = tokio::join!(drain(&rx), read_exactly(&mut client, rest));
        got.extend_from_slice(&tail);
        assert!(got == expected, "the bytes differ from the frames in order");
    }
}
