//! The global memory budget: bytes held for all connections together in outgoing queues
//! (the member queues) and in messages still being received (`Metered`).
//!
//! Per connection the rest is fixed (about 6 KiB idle, docs/benchmarks.md), so
//! `--max-connections` x that + `--memory-budget` bounds what clients can make the server hold.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A half-received message may always grow to this size; beyond it, it needs room in the
/// budget. Small messages therefore never fail, whatever the budget's state.
pub const INBOUND_FREE_BYTES: usize = 64 * 1024;

/// Bytes held, against a limit. Cheap to share: one atomic.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes `bytes` if they fit under the limit.
    pub fn try_charge(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit; true while the total stays under it.
    pub(crate) fn charge(&self, bytes: usize) -> bool {
        self.used.fetch_add(bytes, Ordering::AcqRel) + bytes <= self.limit
    }

    pub fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What a session knows of its [`Metered`] socket.
#[derive(Debug)]
pub(crate) struct InboundMeter {
    budget: Arc<MemoryBudget>,
    /// Bytes read since the last whole message came out of the WebSocket codec.
    partial: AtomicUsize,
    over: AtomicBool,
}

impl InboundMeter {
    pub(crate) fn new(budget: Arc<MemoryBudget>) -> Arc<Self> {
        Arc::new(Self {
            budget,
            partial: AtomicUsize::new(0),
            over: AtomicBool::new(false),
        })
    }

    /// A whole message (or control frame) came out: what was read for it is no longer held.
    pub(crate) fn message_done(&self) {
        let partial = self.partial.swap(0, Ordering::AcqRel);
        self.budget.release(partial);
    }

    /// True when a read failed because the budget was exhausted.
    pub(crate) fn over_budget(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }
}

impl Drop for InboundMeter {
    fn drop(&mut self) {
        self.budget.release(*self.partial.get_mut());
    }
}

/// A socket whose reads are charged to the budget until the message they belong to is whole.
/// The count is approximate by at most one read buffer (the codec may read ahead into the
/// next message), which is what [`INBOUND_FREE_BYTES`] absorbs.
#[derive(Debug)]
pub(crate) struct Metered<S> {
    inner: S,
    meter: Arc<InboundMeter>,
}

impl<S> Metered<S> {
    pub(crate) fn new(inner: S, meter: Arc<InboundMeter>) -> Self {
        Self { inner, meter }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        let meter = &self.meter;
        let partial = meter.partial.fetch_add(read, Ordering::AcqRel) + read;
        if !meter.budget.charge(read) && partial > INBOUND_FREE_BYTES {
            meter.over.store(true, Ordering::Release);
            return Poll::Ready(Err(io::Error::other("server memory budget exhausted")));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_release_frees() {
        let budget = MemoryBudget::new(100);
        assert!(budget.try_charge(60));
        assert!(!budget.try_charge(41));
        assert!(budget.try_charge(40));
        budget.release(100);
        assert_eq!(budget.used(), 0);
    }
}
