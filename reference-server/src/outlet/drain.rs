//! The session's drain of a plain TCP member's queue into its socket.

use std::io;
use std::task::{Context, Poll};

use tokio_tungstenite::tungstenite::Error as WsError;

use super::write::{By, write_queued};
use super::{Outlet, WriteError};

/// The session's drain: one write of what is queued per call. Ready with the messages
/// completed on the socket (by this call or by the other writers since the last one);
/// pending while nothing is queued (the queue wakes it) or the socket is full (the socket
/// does); an error once the room has dropped the member (an eviction) or the socket fails.
pub(super) fn poll_drain(outlet: &Outlet, cx: &mut Context<'_>) -> Poll<Result<u64, WriteError>> {
    let Some(tcp) = outlet.socket() else {
        return Poll::Pending;
    };
    let queue = outlet.queue();
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
        let (mut state, written) = write_queued(tcp, queue, state, By::Session);
        let written = match written {
            Ok(()) => return Poll::Ready(Ok(state.take_completed())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                drop(state);
                tcp.poll_write_ready(cx)
            }
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
    outlet: &Outlet,
    cx: &mut Context<'_>,
    count: impl Fn(u64),
) -> Poll<Result<u64, WriteError>> {
    let mut done = 0;
    for _ in 0..DRAIN_TURN {
        match poll_drain(outlet, cx) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::attached;
    use super::super::write::MAX_FRAMES;
    use super::super::{Offered, Writer};
    use super::*;
    use crate::frame::Frame;
    use crate::outlet::test_pair::read_exactly;

    /// One poll of the session's drain writes up to DRAIN_TURN batches and counts them: a
    /// frame costs the session one wake-up, and a long queue still gives reading its turn.
    #[tokio::test]
    async fn a_drain_turn_writes_until_idle_or_its_turn_is_used_up() {
        let (tx, rx, _socket, mut client) = attached(64 << 20, None).await;
        let outlet = rx.attached().expect("attached");
        let frame = Frame::from(r#"{"message": "x"}"#);
        let offer = |n: usize| {
            for _ in 0..n {
                // Left to the session: every frame queued for the drain.
                assert_eq!(tx.offer(&frame, Writer::Session), Ok(Offered::Queued));
            }
        };
        let counted = std::cell::Cell::new(0);
        let turn = || {
            std::future::poll_fn(|cx| {
                Poll::Ready(poll_drain_turn(outlet, cx, |n| {
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
