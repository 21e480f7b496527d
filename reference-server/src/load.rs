//! The node's delivery rate, which decides whether publishers write straight into sockets.
//!
//! Writing a frame from the publisher into an idle member's socket saves the member's task a
//! wake-up, but costs a write per frame: below saturation that is the cheaper path (at
//! 100,000 deliveries/s on 2 cores, 5.8 against 7.6 CPU-seconds per million,
//! docs/benchmarks.md); above it every frame should wait in its member's queue so the session
//! writes several in one vectored write, and the node sheds cost as load grows (at
//! 1,000,000/s, publishers writing every frame themselves raised the median from 337 to
//! 593 ms). The gate is the node's own rate over the last 100 ms, against
//! `--direct-write-below` (200,000 by default).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const WINDOW_MS: u64 = 100;

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
    /// Counts `deliveries` now; returns the node's rate over the previous window, in
    /// deliveries a second.
    pub(crate) fn note(&self, deliveries: u64) -> u64 {
        let window =
            u64::try_from(self.start.elapsed().as_millis() / u128::from(WINDOW_MS)).unwrap_or(0);
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
                counted * (1000 / WINDOW_MS)
            } else {
                0
            };
            self.last_rate.store(rate, Ordering::Relaxed);
        }
        self.count.fetch_add(deliveries, Ordering::Relaxed);
        self.last_rate.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gauge whose run began `elapsed_ms` ago, in `window`, having counted `count` there,
    /// and whose previous rate was `last_rate`.
    fn gauge(elapsed_ms: u64, window: u64, count: u64, last_rate: u64) -> Load {
        Load {
            start: Instant::now() - std::time::Duration::from_millis(elapsed_ms),
            window: AtomicU64::new(window),
            count: AtomicU64::new(count),
            last_rate: AtomicU64::new(last_rate),
        }
    }

    #[test]
    fn the_rate_is_the_previous_windows_and_an_idle_gap_resets_it() {
        let load = Load::default();
        assert_eq!(load.note(1), 0);
        // 10,000 in one window is 100,000 a second, seen from the next window.
        assert_eq!(gauge(150, 0, 10_000, 0).note(1), 100_000);
        // A window later with 10 counted: 100 a second.
        assert_eq!(gauge(250, 1, 10, 100_000).note(1), 100);
        // Windows skipped (an idle node): 0.
        assert_eq!(gauge(550, 1, 10_000, 100_000).note(1), 0);
    }
}
