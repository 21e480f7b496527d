//! Plain TCP members: broadcast frames go to the socket as they are, without the WebSocket
//! codec and without a wake-up of the member's task when the socket can take them.
//!
//! The socket is shared by three writers, all under the member's queue lock
//! ([`crate::queue`]), so bytes of two frames never interleave:
//! - the publisher, which writes a frame straight into the socket while nothing is queued
//!   (`QueueSender::offer`);
//! - the session's drain ([`poll_drain`]), which writes what is queued, up to [`MAX_SLICES`]
//!   frames in one write;
//! - the session's WebSocket codec (pongs, pings, the close frame), through
//!   [`DirectSocket`]'s `AsyncWrite`: whatever is queued goes first, then the codec's bytes;
//!   the rest of a codec write the socket did not take is queued in front.
//!
//! Only the session's task waits for the socket (its reads, and writes when the socket is
//! full); the publisher never waits: what the socket does not take is queued, within the
//! queue's bound.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError};

use crate::outbox::WriteError;
use crate::queue::{QueueReceiver, Shared, State};

/// Frames per write at most.
pub(crate) const MAX_SLICES: usize = 64;

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
/// frames) and the member's queue (broadcast frames).
#[derive(Debug)]
pub(crate) struct DirectSocket {
    tcp: Arc<TcpStream>,
    /// Bytes the HTTP server read past the upgrade request: read before the socket.
    prefix: Bytes,
    queue: Arc<Shared>,
}

impl DirectSocket {
    /// Attaches `queue` to `tcp`: from now on its frames are written to it as they are.
    pub(crate) fn new(tcp: TcpStream, prefix: Bytes, queue: &QueueReceiver) -> Self {
        let tcp = Arc::new(tcp);
        let queue = queue.write_to(Arc::clone(&tcp));
        Self { tcp, prefix, queue }
    }

    /// Writes what is queued until nothing is; pending while the socket is full.
    fn poll_write_queued(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut state = self.queue.lock();
            if state.is_empty() {
                return Poll::Ready(Ok(()));
            }
            match write_queued(&self.tcp, &mut state, &self.queue) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drop(state);
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// One vectored write of the queued frames; `WouldBlock` when the socket is full.
fn write_queued(tcp: &TcpStream, state: &mut State, queue: &Shared) -> io::Result<()> {
    let written = {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let filled = state.slices(&mut slices);
        tcp.try_write_vectored(&slices[..filled])?
    };
    if written == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    state.advance(written, queue.budget());
    Ok(())
}

/// The session's drain: one vectored write of what is queued per call. Ready with the
/// messages completed on the socket (by this call or by the codec's writes since the last
/// one); pending while nothing is queued (the queue wakes it) or the socket is full (the
/// socket does); an error once the room has dropped the member (an eviction) or the socket
/// fails.
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
        let written = if state.front_rest() >= COPY_BELOW {
            // A large frame: written from its own bytes, under the lock (the publisher queues
            // behind it anyway).
            let written = write_queued(tcp, &mut state, queue).map(|()| None);
            drop(state);
            written
        } else {
            // Small frames: copied into one buffer and written in one `write`, without the
            // lock (the publisher does not write itself while they are still queued). For
            // small frames this costs less than a vectored write of many short slices.
            SCRATCH.with_borrow_mut(|scratch| {
                state.copy_into(scratch, MAX_SLICES, SCRATCH_BYTES);
                drop(state);
                tcp.try_write(scratch).map(Some)
            })
        };
        match written {
            Ok(Some(0)) => {
                let e = io::Error::from(io::ErrorKind::WriteZero);
                return Poll::Ready(Err(WriteError::Socket(WsError::Io(e))));
            }
            Ok(Some(n)) => {
                let mut state = queue.lock();
                state.advance(n, queue.budget());
                return Poll::Ready(Ok(state.take_completed()));
            }
            Ok(None) => return Poll::Ready(Ok(queue.lock().take_completed())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match tcp.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(WriteError::Socket(WsError::Io(e))));
                }
                Poll::Pending => return Poll::Pending,
            },
            Err(e) => return Poll::Ready(Err(WriteError::Socket(WsError::Io(e)))),
        }
    }
}

impl AsyncRead for DirectSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
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
