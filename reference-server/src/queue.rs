//! A member's outgoing queue, bounded in bytes.
//!
//! Policy: a frame is charged its length plus [`FRAME_OVERHEAD`] from the moment it is queued
//! until the session has flushed it to the socket (so the WebSocket codec's write buffer is
//! inside the bound too). A frame is refused when the member already holds charges and the
//! frame would take them over `--queue-bytes` (a member with nothing queued always takes one
//! frame, so one large message cannot evict a reader), or when the global
//! [`MemoryBudget`] cannot take it. A refusal evicts the member (the room removes it); it is
//! never a silent skip. A burst of small messages costs little: 1,100 messages of 50 bytes are
//! about 140 KiB of charges.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::budget::MemoryBudget;

/// One encoded broadcast frame. Cloning shares the bytes: a message is encoded once.
pub type Frame = Utf8Bytes;

/// What a queued frame costs beyond its bytes: the channel slot, the shared-bytes handle and
/// the write codec's frame header, rounded up.
pub const FRAME_OVERHEAD: usize = 64;

fn charge(frame: &Frame) -> usize {
    frame.len() + FRAME_OVERHEAD
}

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

/// The sending side, held by the room.
#[derive(Debug)]
pub struct QueueSender {
    tx: mpsc::UnboundedSender<Frame>,
    shared: Arc<Shared>,
}

/// The receiving side, drained by the member's session.
#[derive(Debug)]
pub struct QueueReceiver {
    rx: mpsc::UnboundedReceiver<Frame>,
    shared: Arc<Shared>,
    /// Charges of frames taken off the queue and not yet flushed.
    taken: usize,
}

#[derive(Debug)]
struct Shared {
    limit: usize,
    /// Charges held: queued frames and taken-but-unflushed ones.
    held: AtomicUsize,
    budget: Arc<MemoryBudget>,
    /// The refusal that evicted this member, so its close can say why.
    refused: OnceLock<Refused>,
}

impl Shared {
    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            self.budget.release(bytes);
        }
    }
}

/// A queue of at most `limit` bytes of charges, within `budget`.
pub fn queue(limit: usize, budget: Arc<MemoryBudget>) -> (QueueSender, QueueReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        limit,
        held: AtomicUsize::new(0),
        budget,
        refused: OnceLock::new(),
    });
    (
        QueueSender {
            tx,
            shared: Arc::clone(&shared),
        },
        QueueReceiver {
            rx,
            shared,
            taken: 0,
        },
    )
}

impl QueueSender {
    /// Queues a clone of `frame` (the bytes are shared), or says why not. Never waits.
    pub fn offer(&self, frame: &Frame) -> Result<(), Refused> {
        let shared = &self.shared;
        let cost = charge(frame);
        let held = shared.held.load(Ordering::Acquire);
        if held > 0 && held + cost > shared.limit {
            return Err(self.refuse(Refused::QueueFull));
        }
        if !shared.budget.try_charge(cost) {
            return Err(self.refuse(Refused::Budget));
        }
        shared.held.fetch_add(cost, Ordering::AcqRel);
        if self.tx.send(frame.clone()).is_err() {
            shared.release(cost);
            return Err(Refused::Closed);
        }
        Ok(())
    }

    /// Records why this member is refused (the first reason stands) and returns it.
    fn refuse(&self, why: Refused) -> Refused {
        let _ = self.shared.refused.set(why);
        why
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

    /// The next frame; `None` once the room has dropped the sender (an eviction) and the
    /// queue is empty. Its charge is held until [`Self::flushed`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(frame)) = &polled {
            self.taken += charge(frame);
        }
        polled
    }

    /// Everything taken so far has reached the socket: release its charges.
    pub fn flushed(&mut self) {
        self.shared.release(std::mem::take(&mut self.taken));
    }

    /// Charges this member holds now (queued and unflushed).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.shared.held.load(Ordering::Acquire)
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        // Closed first, so no offer can slip in after the drain below.
        self.rx.close();
        let mut bytes = std::mem::take(&mut self.taken);
        while let Ok(frame) = self.rx.try_recv() {
            bytes += charge(&frame);
        }
        self.shared.release(bytes);
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
        // 8 x 114 = 912 bytes fit in 1000; a ninth does not.
        for _ in 0..8 {
            assert_eq!(tx.offer(&frame(50)), Ok(()));
        }
        assert_eq!(tx.offer(&frame(50)), Err(Refused::QueueFull));
        assert_eq!(rx.held(), 8 * (50 + FRAME_OVERHEAD));
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
