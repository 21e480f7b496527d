//! The writing half of a session, as a state machine polled from the session's `select!`, so
//! a socket that does not drain never blocks the session's other duties (reading, eviction,
//! shutdown, keepalive), and a member that reads a flood still writes its own queue.
//!
//! Frames are fed to the WebSocket codec up to [`MAX_BATCH`] at a time and flushed once; their
//! queue charges are released only after the flush, so the codec's write buffer counts against
//! `--queue-bytes`. A pong owed to the peer pauses reading while it cannot be written: pings are
//! answered only as fast as the peer reads the pongs, and a ping flood that never reads costs
//! one buffered pong, not an ever-growing buffer.

use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::outlet::{MAX_BATCH, OutletReceiver, WriteError};

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// A message taken and not yet accepted by the codec (the codec was not ready).
    pending: Option<Message>,
    ping_wanted: bool,
    pong_owed: bool,
    unflushed: bool,
    /// The last attempt to write could not complete: the socket is full.
    blocked: bool,
    /// Frames fed since the last flush.
    batch: u64,
}

impl Outbox {
    /// The keepalive wants a ping sent.
    pub(crate) fn send_ping(&mut self) {
        self.ping_wanted = true;
    }

    /// The peer pinged: the codec has queued a pong, which a flush writes.
    pub(crate) fn owe_pong(&mut self) {
        self.pong_owed = true;
        self.unflushed = true;
    }

    /// True while a pong is owed and the socket will not take it: stop reading.
    pub(crate) fn reads_paused(&self) -> bool {
        self.pong_owed && self.blocked
    }

    /// Feeds queued frames (and a wanted ping) to the codec and flushes. Ready with the number
    /// of frames flushed each time a flush completes; pending while there is nothing to do or
    /// the socket is full. Cancel-safe: all state lives in `self`.
    pub(crate) fn poll_write<Si>(
        &mut self,
        cx: &mut Context<'_>,
        sink: &mut Si,
        queue: &mut OutletReceiver,
    ) -> Poll<Result<u64, WriteError>>
    where
        Si: Sink<Message, Error = WsError> + Unpin,
    {
        loop {
            if self.pending.is_none() {
                if self.ping_wanted {
                    self.ping_wanted = false;
                    self.pending = Some(Message::Ping(Default::default()));
                } else if self.batch < MAX_BATCH {
                    match queue.poll_recv(cx) {
                        Poll::Ready(Some(frame)) => {
                            self.pending = Some(frame.message());
                        }
                        Poll::Ready(None) => return Poll::Ready(Err(WriteError::Evicted)),
                        Poll::Pending => {}
                    }
                }
            }
            let Some(message) = self.pending.take() else {
                break;
            };
            match sink.poll_ready_unpin(cx) {
                Poll::Pending => {
                    self.pending = Some(message);
                    self.blocked = true;
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Socket(e))),
                Poll::Ready(Ok(())) => {}
            }
            if matches!(message, Message::Text(_) | Message::Frame(_)) {
                self.batch += 1;
            }
            sink.start_send_unpin(message).map_err(WriteError::Socket)?;
            self.unflushed = true;
        }
        if !self.unflushed {
            // Nothing to write: the queue's waker is registered.
            self.blocked = false;
            return Poll::Pending;
        }
        match sink.poll_flush_unpin(cx) {
            Poll::Pending => {
                self.blocked = true;
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(WriteError::Socket(e))),
            Poll::Ready(Ok(())) => {
                self.unflushed = false;
                self.blocked = false;
                self.pong_owed = false;
                queue.flushed();
                Poll::Ready(Ok(std::mem::take(&mut self.batch)))
            }
        }
    }
}
