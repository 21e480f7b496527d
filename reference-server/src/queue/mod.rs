//! A member's outgoing queue, bounded in bytes: frames, their charges, the bounds and the
//! session's waker, nothing else. Who writes the frames (the member's session, or for a plain
//! TCP member the publisher, the fan-out helper and the session into its socket) is the
//! member's outlet's (`outlet/`); every writer takes frames off this queue under its
//! lock.
//!
//! Policy: a frame is charged its length plus [`FRAME_OVERHEAD`] from the moment it is queued
//! until it is on the socket (for a TLS member: until the session has flushed its WebSocket
//! codec, so the codec's write buffer is inside the bound too). A frame is refused when the
//! member already holds charges and the frame would take them over `--queue-bytes` (a member
//! with nothing queued always takes one frame, so one large message cannot evict a reader), or
//! when the global [`MemoryBudget`] cannot take it. A refusal evicts the member (the room
//! removes it); it is never a silent skip. A burst of small messages costs little: 1,100
//! messages of 50 bytes are about 140 KiB of charges.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};

use crate::budget::MemoryBudget;

use crate::frame::Frame;

mod state;

pub(crate) use state::State;
use state::charge;

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

#[derive(Debug)]
pub(crate) struct Shared {
    limit: usize,
    budget: Arc<MemoryBudget>,
    /// The refusal that evicted this member, so its close can say why.
    refused: OnceLock<Refused>,
    state: Mutex<State>,
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
    });
    (
        QueueSender {
            shared: Arc::clone(&shared),
        },
        QueueReceiver { shared, taken: 0 },
    )
}

impl QueueSender {
    /// Queues a clone of `frame` (the bytes are shared) and wakes the session, or says why
    /// not: the tests' shorthand for [`Self::lock_open`] and [`Self::push`], which the
    /// member's outlet calls (it may write the frame before queueing it).
    #[cfg(test)]
    fn offer(&self, frame: &Frame) -> Result<(), Refused> {
        let state = self.lock_open()?;
        self.push(state, frame, Wake::Session, 0)
    }

    /// The queue's lock, for a writer that may put the frame on the wire itself before
    /// queueing what the socket did not take ([`Self::push`]); refused once the session has
    /// ended.
    pub(crate) fn lock_open(&self) -> Result<MutexGuard<'_, State>, Refused> {
        let state = self.shared.lock();
        if state.receiver_gone {
            return Err(Refused::Closed);
        }
        Ok(state)
    }

    /// Queues `frame` under `state` (from [`Self::lock_open`]), within the bounds, and wakes
    /// the session as `wake` says. `begun` bytes of it are on the wire already (the queue is
    /// then empty, and the frame becomes its front): it is queued whatever the bounds, since
    /// the rest must go before the close, and a refusal is still returned so that the member
    /// is evicted.
    pub(crate) fn push(
        &self,
        mut state: MutexGuard<'_, State>,
        frame: &Frame,
        wake: Wake,
        begun: usize,
    ) -> Result<(), Refused> {
        let shared = &*self.shared;
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
            if begun == 0 {
                return Err(self.refuse(why));
            }
            shared.budget.charge(cost);
        }
        if begun > 0 {
            debug_assert!(
                state.frames.is_empty(),
                "begun on the wire: the queue was empty"
            );
            state.written = begun;
        }
        state.held += cost;
        state.frames.push_back(frame.clone());
        let waker = match wake {
            Wake::Session if state.frames.len() == 1 => state.waker.take(),
            _ => None,
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        match refused {
            Some(why) => Err(self.refuse(why)),
            None => Ok(()),
        }
    }

    /// The queue, for the member's other writers (`outlet/`).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Records why this member is refused (the first reason stands) and returns it.
    fn refuse(&self, why: Refused) -> Refused {
        let _ = self.shared.refused.set(why);
        why
    }
}

/// Whether queueing a frame wakes the member's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Wake it if it waits for frames: it writes them.
    Session,
    /// Leave it: another writer (the fan-out helper) writes the frame, and wakes the session
    /// if it cannot write it all.
    No,
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

    /// The next frame, for a session that hands frames to its WebSocket codec; `None` once
    /// the room has dropped the sender (an eviction) and the queue is empty. Its charge is
    /// held until [`Self::flushed`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
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
        assert_eq!(tx.offer(&frame(5000)), Ok(()));
        assert_eq!(tx.offer(&frame(1)), Err(Refused::QueueFull));
        assert!(recv(&mut rx).is_some());
        // Taken but not flushed: still held.
        assert_eq!(tx.offer(&frame(1)), Err(Refused::QueueFull));
        rx.flushed();
        assert_eq!(budget.used(), 0);
        // 8 x 116 = 928 bytes fit in 1000 (50 bytes, a 2-byte header, 64); a ninth does not.
        for _ in 0..8 {
            assert_eq!(tx.offer(&frame(50)), Ok(()));
        }
        assert_eq!(tx.offer(&frame(50)), Err(Refused::QueueFull));
        assert_eq!(rx.held(), 8 * (52 + FRAME_OVERHEAD));
    }

    #[test]
    fn a_frame_queued_behind_a_front_begun_on_the_wire_leaves_it_begun() {
        let budget = Arc::new(MemoryBudget::new(usize::MAX));
        let (tx, _rx) = queue(1 << 20, Arc::clone(&budget));
        assert_eq!(tx.offer(&frame(100)), Ok(()));
        // 10 of its 102 bytes (a 2-byte header) are on the socket.
        tx.shared().lock().advance(10, &budget);
        assert_eq!(tx.offer(&frame(5)), Ok(()));
        assert_eq!(tx.shared().lock().front_rest(), 92);
    }

    #[test]
    fn the_budget_refuses_and_dropping_the_receiver_returns_everything() {
        let budget = Arc::new(MemoryBudget::new(300));
        let (tx, rx) = queue(10_000, Arc::clone(&budget));
        assert_eq!(tx.offer(&frame(100)), Ok(()));
        assert_eq!(tx.offer(&frame(100)), Err(Refused::Budget));
        drop(rx);
        assert_eq!(budget.used(), 0);
        assert_eq!(tx.offer(&frame(1)), Err(Refused::Closed));
        assert_eq!(budget.used(), 0);
    }
}
