//! The node's delivery rate, which decides whether publishers write straight into sockets.
//!
//! Writing a frame from the publisher into an idle member's socket saves the member's task a
//! wake-up, but costs a write per frame: below saturation that is the cheaper path (at 50,000
//! deliveries/s, 12 against 17 CPU-seconds per million, README), above it every frame should
//! wait in its member's queue so the session writes several in one vectored write, and the
//! node sheds cost as load grows. The gate is the node's own rate over the last 100 ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Publishers write straight into sockets only while the node delivers fewer frames a second
/// than this (measured over the previous 100 ms window).
pub const DIRECT_MAX_RATE: u64 = 60_000;

const WINDOW_MS: u128 = 100;

/// Deliveries counted per 100 ms window; two atomics per broadcast, not per member.
#[derive(Debug)]
pub(crate) struct Load {
    start: Instant,
    window: AtomicU64,
    count: AtomicU64,
    last_rate: AtomicU64,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            window: AtomicU64::new(0),
            count: AtomicU64::new(0),
            last_rate: AtomicU64::new(0),
        }
    }
}

impl Load {
    /// Counts `deliveries` now; true while the node's rate allows direct writes.
    pub(crate) fn note(&self, deliveries: u64) -> bool {
        let window = u64::try_from(self.start.elapsed().as_millis() / WINDOW_MS).unwrap_or(0);
        let current = self.window.load(Ordering::Relaxed);
        if window != current
            && self
                .window
                .compare_exchange(current, window, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let counted = self.count.swap(0, Ordering::AcqRel);
            // A window with nothing counted in between means an idle node.
            let rate = if window == current + 1 {
                counted * 10
            } else {
                0
            };
            self.last_rate.store(rate, Ordering::Relaxed);
        }
        self.count.fetch_add(deliveries, Ordering::Relaxed);
        self.last_rate.load(Ordering::Relaxed) < DIRECT_MAX_RATE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_node_allows_and_a_busy_window_forbids() {
        let load = Load::default();
        assert!(load.note(1));
        // 10,000 in one window is 100,000 a second: the next window forbids direct writes.
        let busy = Load {
            start: Instant::now() - std::time::Duration::from_millis(150),
            window: AtomicU64::new(0),
            count: AtomicU64::new(10_000),
            last_rate: AtomicU64::new(0),
        };
        assert!(!busy.note(1));
        // A window later with little counted: allowed again.
        let quiet = Load {
            start: Instant::now() - std::time::Duration::from_millis(250),
            window: AtomicU64::new(1),
            count: AtomicU64::new(10),
            last_rate: AtomicU64::new(100_000),
        };
        assert!(quiet.note(1));
    }
}
