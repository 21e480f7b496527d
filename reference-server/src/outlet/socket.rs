//! A plain TCP member's connection as its session's WebSocket codec sees it: reads go to the
//! socket, and the codec's writes (control frames) go after whatever is queued.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Bytes;

use super::Outlet;
use super::write::{By, write_queued};

/// A plain TCP connection shared by the member's session (reads, and its codec's control
/// frames) and the member's outlet (broadcast frames). The bytes the HTTP server read past the
/// upgrade are put in front by wrapping it in `crate::prefixed::Prefixed`.
#[derive(Debug)]
pub(crate) struct DirectSocket {
    tcp: Arc<TcpStream>,
    outlet: Arc<Outlet>,
}

impl DirectSocket {
    /// `tcp`, attached to `outlet` (`OutletReceiver::attach`).
    pub(super) fn new(tcp: Arc<TcpStream>, outlet: Arc<Outlet>) -> Self {
        Self { tcp, outlet }
    }

    /// Writes what is queued until nothing is; pending while the socket is full.
    fn poll_write_queued(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let queue = self.outlet.queue();
        loop {
            let state = queue.lock();
            if state.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let (state, written) = write_queued(&self.tcp, queue, state, By::Session);
            drop(state);
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
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
        let queue = this.outlet.queue();
        loop {
            ready!(this.poll_write_queued(cx))?;
            let mut state = queue.lock();
            if !state.is_empty() {
                // The publisher queued a frame meanwhile: it goes first.
                continue;
            }
            match this.tcp.try_write(buf) {
                Ok(n) => {
                    if n < buf.len() {
                        state.push_front_raw(Bytes::copy_from_slice(&buf[n..]), queue.budget());
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
