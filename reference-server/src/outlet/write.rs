//! The writes into a member's plain TCP socket: one function for queued frames, used by every
//! writer of them (the session's drain, its codec, the fan-out helper), and the publisher's
//! write of a frame nothing is queued before.

use std::io::{self, IoSlice};
use std::sync::MutexGuard;

use tokio::net::TcpStream;

use super::{MAX_BATCH, Outlet};
use crate::frame::Frame;
use crate::queue::{Shared, State};

/// Frames per write at most (the TLS path's batch too).
pub(super) const MAX_FRAMES: usize = MAX_BATCH as usize;

/// Queued frames smaller than this are copied into one buffer per write; larger ones are
/// written from their own bytes.
const COPY_BELOW: usize = 16 * 1024;

/// The size of that buffer: one per runtime worker thread, not per connection.
const SCRATCH_BYTES: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(SCRATCH_BYTES));
}

/// Who writes queued frames, which says whether the write may let go of the queue's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum By {
    /// The member's session (its drain, its codec): small frames are copied into one buffer
    /// and written after the lock is let go. They stay queued until written, marked in
    /// flight, and no other writer writes the queue meanwhile: the publisher writes only into
    /// an empty queue's socket, the helper not while frames are in flight. For small frames
    /// this costs less than a vectored write of many short slices.
    Session,
    /// The fan-out helper: a vectored write under the lock, since the session does not wait
    /// for another writer's frames in flight. The helper writes members that had nothing
    /// queued a moment before: one frame, or a few.
    Helper,
}

/// One write of what is queued (not empty), up to [`MAX_FRAMES`] frames, by `by`; returns
/// the queue's lock again (what the socket took is off the queue) and whether the socket took
/// anything: `WouldBlock` when it is full. A large front frame is always written from its own
/// bytes, under the lock.
pub(super) fn write_queued<'q>(
    tcp: &TcpStream,
    queue: &'q Shared,
    mut state: MutexGuard<'q, State>,
    by: By,
) -> (MutexGuard<'q, State>, io::Result<()>) {
    let written = if by == By::Helper || state.front_rest() >= COPY_BELOW {
        let mut slices = [IoSlice::new(&[]); MAX_FRAMES];
        let filled = state.slices(&mut slices);
        tcp.try_write_vectored(&slices[..filled])
    } else {
        let written = SCRATCH.with_borrow_mut(|scratch| {
            state.copy_into(scratch, MAX_FRAMES, SCRATCH_BYTES);
            state.in_flight = true;
            drop(state);
            tcp.try_write(scratch)
        });
        state = queue.lock();
        state.in_flight = false;
        written
    };
    let result = match written {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => {
            state.advance(n, queue.budget());
            Ok(())
        }
        Err(e) => Err(e),
    };
    (state, result)
}

/// The publisher's write of `frame` into a socket with nothing queued (under the queue's
/// lock): the bytes the socket took, 0 when it took none. Any error but a full socket is the
/// session's to meet on its next write.
pub(super) fn write_frame(tcp: &TcpStream, frame: &Frame) -> usize {
    tcp.try_write(frame.wire()).unwrap_or(0)
}

/// The fan-out helper's write of what the publisher queued for it: one write, never waiting;
/// wakes the member's session when something is left. A member whose session is writing at
/// that moment is left to it. Returns the messages completed on the socket.
pub(crate) fn write_for_helper(outlet: &Outlet) -> u64 {
    let Some(tcp) = outlet.socket() else {
        return 0;
    };
    let queue = outlet.queue();
    let mut state = queue.lock();
    if !state.is_empty() && !state.in_flight {
        // Any error but a full socket is the session's to meet on its next write.
        (state, _) = write_queued(tcp, queue, state, By::Helper);
    }
    let done = state.take_completed();
    let waker = if state.is_empty() || state.in_flight {
        None
    } else {
        state.take_waker()
    };
    drop(state);
    if let Some(waker) = waker {
        waker.wake();
    }
    done
}
