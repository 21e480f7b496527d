//! What a member's queue holds under its lock: the frames, how much of the front is on the
//! socket, the charges held, and the session's waker; and the byte-level steps of writing
//! them (slices, copies, advancing past what the socket took). The bounds are the queue's
//! (`mod.rs`); who writes when is the member's outlet's (`outlet/`). Every step is
//! `#[inline]`: they run under the queue's lock on every delivery, and a module of its own may
//! land in another codegen unit, where a plain function could not be inlined.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::task::{Context, Waker};

use tokio_tungstenite::tungstenite::Bytes;

use super::FRAME_OVERHEAD;
use crate::budget::MemoryBudget;
use crate::frame::Frame;

/// What a frame is charged while queued: its bytes and [`FRAME_OVERHEAD`].
#[inline]
pub(super) fn charge(frame: &Frame) -> usize {
    frame.wire().len() + FRAME_OVERHEAD
}

/// The queue itself, under its lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(super) frames: VecDeque<Frame>,
    /// Bytes of the front frame already on the socket.
    pub(super) written: usize,
    /// Charges held: queued frames and, for a TLS member, taken-but-unflushed ones.
    pub(super) held: usize,
    /// The session, waiting for a frame.
    pub(super) waker: Option<Waker>,
    pub(super) receiver_gone: bool,
    pub(super) sender_gone: bool,
    /// Messages the session's writes completed, not yet counted as delivered.
    pub(super) completed: u64,
    /// The session has copied queued bytes and writes them outside the lock: nobody else
    /// writes this queue until it has advanced past them (`outlet/`).
    pub(crate) in_flight: bool,
}

impl State {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The queued bytes not yet on the socket, frame by frame, front first (the front from
    /// its first unwritten byte).
    #[inline]
    fn unwritten(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().enumerate().map(|(i, frame)| {
            let skip = if i == 0 { self.written } else { 0 };
            &frame.wire()[skip..]
        })
    }

    /// Fills `out` with [`Self::unwritten`]; returns how many slices it filled.
    #[inline]
    pub(crate) fn slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (slot, bytes) in out.iter_mut().zip(self.unwritten()) {
            *slot = IoSlice::new(bytes);
            filled += 1;
        }
        filled
    }

    /// Copies [`Self::unwritten`] into `out`, whole frames up to `max_frames` frames and
    /// `max_bytes` bytes (the front always, whatever its size): written after the lock is let
    /// go, while the frames stay queued (and the publisher queues behind them) until
    /// [`Self::advance`].
    #[inline]
    pub(crate) fn copy_into(&self, out: &mut Vec<u8>, max_frames: usize, max_bytes: usize) {
        out.clear();
        for bytes in self.unwritten().take(max_frames) {
            if !out.is_empty() && out.len() + bytes.len() > max_bytes {
                break;
            }
            out.extend_from_slice(bytes);
        }
    }

    /// The size of the front frame's unwritten rest (0 when nothing is queued).
    #[inline]
    pub(crate) fn front_rest(&self) -> usize {
        self.unwritten().next().map_or(0, <[u8]>::len)
    }

    /// `n` more queued bytes are on the socket: the frames now complete leave the queue and
    /// their charges are released; the messages among them are counted for
    /// [`Self::take_completed`].
    #[inline]
    pub(crate) fn advance(&mut self, mut n: usize, budget: &MemoryBudget) {
        while let Some(front) = self.frames.front() {
            let rest = front.wire().len() - self.written;
            if n < rest {
                self.written += n;
                break;
            }
            n -= rest;
            self.written = 0;
            let cost = charge(front);
            self.completed += u64::from(front.is_message());
            self.frames.pop_front();
            self.held -= cost;
            budget.release(cost);
        }
    }

    /// Messages completed on the socket since the last call.
    #[inline]
    pub(crate) fn take_completed(&mut self) -> u64 {
        std::mem::take(&mut self.completed)
    }

    /// The front must stay when the session ends: it is begun on the wire, or it is the
    /// codec's own bytes (a close frame's rest).
    #[inline]
    pub(super) fn keeps_front(&self) -> bool {
        self.written > 0 || self.frames.front().is_some_and(|f| !f.is_message())
    }

    /// Queues the unwritten rest of bytes the WebSocket codec wrote (a control frame) in
    /// front of everything, charged whatever the bounds: they are part of a frame already
    /// begun on the wire.
    #[inline]
    pub(crate) fn push_front_raw(&mut self, rest: Bytes, budget: &MemoryBudget) {
        let frame = Frame::raw(rest);
        let cost = charge(&frame);
        budget.charge(cost);
        self.held += cost;
        self.frames.push_front(frame);
    }

    /// The session waits for frames: wake it when one is queued.
    #[inline]
    pub(crate) fn wait_for_frames(&mut self, cx: &Context<'_>) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
    }

    /// The session's waker, taken: whoever takes it wakes the session.
    #[inline]
    pub(crate) fn take_waker(&mut self) -> Option<Waker> {
        self.waker.take()
    }

    /// The room dropped this member's sending side: it was evicted.
    #[inline]
    pub(crate) fn sender_gone(&self) -> bool {
        self.sender_gone
    }
}
