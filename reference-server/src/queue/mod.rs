//! A member's outgoing queue, bounded in bytes.
//!
//! Policy: a frame is charged its length plus [`FRAME_OVERHEAD`] from the moment it is queued
//! until it is on the socket (for a TLS member: until the session has flushed its WebSocket
//! codec, so the codec's write buffer is inside the bound too). A frame is refused when the
//! member already holds charges and the frame would take them over `--queue-bytes` (a member
//! with nothing queued always takes one frame, so one large message cannot evict a reader), or
//! when the global [`MemoryBudget`] cannot take it. A refusal evicts the member (the room
//! removes it); it is never a silent skip. A burst of small messages costs little: 1,100
//! messages of 50 bytes are about 140 KiB of charges.
//!
//! A plain TCP member's queue is attached to its socket ([`QueueReceiver::write_to`]): a frame
//! offered while nothing is queued, [`DIRECT_GAP`] or more after the previous one, is written
//! straight into the socket by the publisher (no wake-up of the member's task, nothing charged
//! when the socket takes it whole); the rest is queued and the session writes it in batches
//! (`direct.rs`). Frames go to the socket whole and in queue order: the publisher writes only
//! into an empty queue's socket, under the queue's lock, and the rest of a frame it began is
//! queued first; the session writes only what is queued, and takes it off only once written.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::budget::MemoryBudget;

use crate::frame::Frame;

mod state;
#[cfg(test)]
pub(crate) mod test_pair;

pub(crate) use state::State;
use state::charge;

/// A frame offered sooner than this after the previous one is queued for the session even
/// when the socket could take it: a member that receives often (or a burst) is written in
/// batches, one `write` for up to 64 frames, by its session; the publisher writes
/// straight into the socket only for members that receive at most about 100 frames a second,
/// where every frame would cost a write of its own anyway and the wake-up is what is saved.
pub const DIRECT_GAP: Duration = Duration::from_millis(10);

/// What a queued frame costs beyond its bytes: the queue slot, the shared-bytes handle and
/// the write codec's frame header, rounded up.
pub const FRAME_OVERHEAD: usize = 64;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The member's own queue is full: it reads too slowly.
    QueueFull,
    /// The server's memory budget is exhausted.
    Budget,
    /// The session has ended; the member will leave on its own.
    Closed,
}

/// Who writes a frame the publisher could write straight into the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The publisher, now.
    Publisher,
    /// The fan-out helper (`spread.rs`), as soon as the publisher hands it the room's share:
    /// the frame is queued without waking the member's session.
    Helper,
}

/// What became of an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// The socket took it whole, from the publisher: delivered.
    Written,
    /// Queued for the member's session.
    Queued,
    /// Queued for the fan-out helper, the session not woken: the helper must be handed
    /// this member ([`QueueSender::for_helper`]).
    ForHelper,
}

#[derive(Debug)]
pub(crate) struct Shared {
    limit: usize,
    budget: Arc<MemoryBudget>,
    /// The refusal that evicted this member, so its close can say why.
    refused: OnceLock<Refused>,
    state: Mutex<State>,
    /// Set once the session writes frames to a plain TCP socket as they are.
    socket: OnceLock<Arc<TcpStream>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// The socket frames are written to, once attached.
    pub(crate) fn socket(&self) -> Option<&Arc<TcpStream>> {
        self.socket.get()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.budget.release(std::mem::take(&mut state.held));
    }
}

/// The sending side, held by the room.
#[derive(Debug)]
pub struct QueueSender {
    shared: Arc<Shared>,
}

/// The receiving side, drained by the member's session.
#[derive(Debug)]
pub struct QueueReceiver {
    shared: Arc<Shared>,
    /// Charges of frames taken off the queue and not yet flushed.
    taken: usize,
}

/// A queue of at most `limit` bytes of charges, within `budget`.
pub fn queue(limit: usize, budget: Arc<MemoryBudget>) -> (QueueSender, QueueReceiver) {
    let shared = Arc::new(Shared {
        limit,
        budget,
        refused: OnceLock::new(),
        state: Mutex::new(State::default()),
        socket: OnceLock::new(),
    });
    (
        QueueSender {
            shared: Arc::clone(&shared),
        },
        QueueReceiver { shared, taken: 0 },
    )
}

impl QueueSender {
    /// Writes `frame` to the member's socket or queues a clone of it (the bytes are shared),
    /// or says why not. Never waits. The publisher writes only when the room allows it
    /// (`may_write`: the room's decision from the node's rate and the member's place,
    /// `DirectWrite` in rooms.rs), the queue is empty and the member quiet ([`DIRECT_GAP`]).
    pub fn offer(&self, frame: &Frame, may_write: bool) -> Result<Offered, Refused> {
        self.offer_with(frame, may_write, Writer::Publisher, Instant::now)
    }

    /// [`Self::offer`], but a frame the publisher could write itself is queued for the
    /// fan-out helper instead ([`Offered::ForHelper`]).
    pub fn offer_for_helper(&self, frame: &Frame, may_write: bool) -> Result<Offered, Refused> {
        self.offer_with(frame, may_write, Writer::Helper, Instant::now)
    }

    /// What the fan-out helper needs to write this member's queue.
    pub(crate) fn for_helper(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// [`Self::offer`] by `writer` on the clock `now`, read only when the room allows a
    /// direct write (tests give a clock of their own).
    pub(crate) fn offer_with(
        &self,
        frame: &Frame,
        may_write: bool,
        writer: Writer,
        now: impl FnOnce() -> Instant,
    ) -> Result<Offered, Refused> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.receiver_gone {
            return Err(Refused::Closed);
        }
        let direct = shared.socket.get().filter(|_| {
            // No clock read where the room allows no direct write (a busy node).
            may_write && state.quiet_since_last_offer(now()) && state.frames.is_empty()
        });
        if direct.is_some() && writer == Writer::Helper {
            // Within the bounds: the queue is empty.
            let cost = charge(frame);
            if !shared.budget.try_charge(cost) {
                return Err(self.refuse(Refused::Budget));
            }
            state.held += cost;
            state.frames.push_back(frame.clone());
            return Ok(Offered::ForHelper);
        }
        // Any error but a full socket is the session's to meet on its next write.
        let mut begun = false;
        if let Some(socket) = direct
            && let Ok(n) = socket.try_write(frame.wire())
        {
            if n == frame.wire().len() {
                return Ok(Offered::Written);
            }
            // The queue was empty: its front will be this frame.
            state.written = n;
            begun = n > 0;
        }
        let cost = charge(frame);
        let held = state.held;
        let refused = if held > 0 && held + cost > shared.limit {
            Some(Refused::QueueFull)
        } else if !shared.budget.try_charge(cost) {
            Some(Refused::Budget)
        } else {
            None
        };
        if let Some(why) = refused {
            if !begun {
                return Err(self.refuse(why));
            }
            // Begun on the wire: the rest goes before the close, whatever the bounds.
            shared.budget.charge(cost);
        }
        state.held += cost;
        state.frames.push_back(frame.clone());
        let waker = if state.frames.len() == 1 {
            state.waker.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        match refused {
            Some(why) => Err(self.refuse(why)),
            None => Ok(Offered::Queued),
        }
    }

    /// Records why this member is refused (the first reason stands) and returns it.
    fn refuse(&self, why: Refused) -> Refused {
        let _ = self.shared.refused.set(why);
        why
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.sender_gone = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl QueueReceiver {
    /// Why the room refused this member a frame (and evicted it), if it did.
    pub fn refused(&self) -> Option<Refused> {
        self.shared.refused.get().copied()
    }

    /// The bound of this queue, in bytes of charges.
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    /// From now on frames go to `socket` as they are (a plain TCP connection): the publisher
    /// writes into it while nothing is queued and its room allows it, and the session drains
    /// the rest (`direct.rs`); [`Self::poll_recv`] yields nothing more.
    pub(crate) fn write_to(&self, socket: Arc<TcpStream>) -> Arc<Shared> {
        let _ = self.shared.socket.set(socket);
        Arc::clone(&self.shared)
    }

    /// True once [`Self::write_to`] has attached a socket.
    pub(crate) fn is_direct(&self) -> bool {
        self.shared.socket.get().is_some()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The next frame, for a session that hands frames to its WebSocket codec; `None` once
    /// the room has dropped the sender (an eviction) and the queue is empty. Its charge is
    /// held until [`Self::flushed`]. Never ready for a queue attached to its socket.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        if self.is_direct() {
            return Poll::Pending;
        }
        let mut state = self.shared.lock();
        if let Some(frame) = state.frames.pop_front() {
            self.taken += charge(&frame);
            return Poll::Ready(Some(frame));
        }
        if state.sender_gone {
            return Poll::Ready(None);
        }
        state.wait_for_frames(cx);
        Poll::Pending
    }

    /// Everything taken so far has reached the socket: release its charges.
    pub fn flushed(&mut self) {
        let taken = std::mem::take(&mut self.taken);
        if taken > 0 {
            self.shared.lock().held -= taken;
            self.shared.budget.release(taken);
        }
    }

    /// Charges this member holds now (queued and unflushed).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.shared.lock().held
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        // Closed first, so no offer can slip in after the drain below.
        state.receiver_gone = true;
        // A frame begun on the wire stays, so the close frame can follow it.
        let keep = usize::from(state.keeps_front());
        let mut bytes = std::mem::take(&mut self.taken);
        while state.frames.len() > keep {
            if let Some(frame) = state.frames.pop_back() {
                bytes += charge(&frame);
            }
        }
        state.held -= bytes;
        drop(state);
        self.shared.budget.release(bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn frame(len: usize) -> Frame {
        Frame::from("x".repeat(len))
    }

    fn recv(rx: &mut QueueReceiver) -> Option<Frame> {
        match rx.poll_recv(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(f) => f,
            Poll::Pending => None,
        }
    }

    #[test]
    fn bound_is_in_bytes_and_an_empty_queue_takes_one_large_frame() {
        let budget = Arc::new(MemoryBudget::new(usize::MAX));
        let (tx, mut rx) = queue(1000, Arc::clone(&budget));
        assert_eq!(tx.offer(&frame(5000), true), Ok(Offered::Queued));
        assert_eq!(tx.offer(&frame(1), true), Err(Refused::QueueFull));
        assert!(recv(&mut rx).is_some());
        // Taken but not flushed: still held.
        assert_eq!(tx.offer(&frame(1), true), Err(Refused::QueueFull));
        rx.flushed();
        assert_eq!(budget.used(), 0);
        // 8 x 116 = 928 bytes fit in 1000 (50 bytes, a 2-byte header, 64); a ninth does not.
        for _ in 0..8 {
            assert_eq!(tx.offer(&frame(50), true), Ok(Offered::Queued));
        }
        assert_eq!(tx.offer(&frame(50), true), Err(Refused::QueueFull));
        assert_eq!(rx.held(), 8 * (52 + FRAME_OVERHEAD));
    }

    #[test]
    fn the_budget_refuses_and_dropping_the_receiver_returns_everything() {
        let budget = Arc::new(MemoryBudget::new(300));
        let (tx, rx) = queue(10_000, Arc::clone(&budget));
        assert_eq!(tx.offer(&frame(100), true), Ok(Offered::Queued));
        assert_eq!(tx.offer(&frame(100), true), Err(Refused::Budget));
        drop(rx);
        assert_eq!(budget.used(), 0);
        assert_eq!(tx.offer(&frame(1), true), Err(Refused::Closed));
        assert_eq!(budget.used(), 0);
    }
}
