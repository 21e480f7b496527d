//! Whether loadgen itself limited a run: its worker threads' time on a CPU and waiting for
//! one during the measured window, and its own send lateness against the latency it measured.
//! A run whose client was the bottleneck measures the machine's client as much as the server.

use serde::{Deserialize, Serialize};

/// A worker thread busy (running, or runnable and waiting for a CPU) for at least this
/// share of the window had no spare time: the client could not have gone faster.
pub const BUSY: f64 = 0.9;
/// A worker thread runnable but waiting for a CPU for at least this share of the window was
/// starved: what it timed includes its own wait.
pub const STARVED: f64 = 0.25;
/// Send lateness p99 at least this share of the fan-out p99 (and at least [`LATE_MIN_US`]):
/// most of what was measured is the client's own delay.
pub const LATE_SHARE: f64 = 0.5;
pub const LATE_MIN_US: u64 = 1_000;

/// How loaded loadgen's worker threads were during the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientLoad {
    /// Worker threads measured.
    pub workers: usize,
    /// CPU seconds all of them used in the window.
    pub cpu_s: f64,
    /// The busiest worker's share of the window on a CPU (0 to 1).
    pub running: f64,
    /// The same worker's share of the window runnable but waiting for a CPU.
    pub waiting: f64,
    /// The client, not the server, limited the run.
    pub bound: bool,
    /// Why, when `bound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One worker thread's time over the window, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadTime {
    pub running_ns: u64,
    pub waiting_ns: u64,
}

impl ClientLoad {
    /// The verdict from each worker's time over a window of `window_ns`, and the run's send
    /// lateness p99 and fan-out latency p99 (from the scheduled time), in microseconds.
    pub fn judge(
        threads: &[ThreadTime],
        window_ns: u64,
        lateness_p99_us: u64,
        latency_p99_us: u64,
    ) -> Self {
        let share = |ns: u64| ns as f64 / window_ns.max(1) as f64;
        let busiest = threads
            .iter()
            .copied()
            .max_by_key(|t| t.running_ns + t.waiting_ns)
            .unwrap_or_default();
        let (running, waiting) = (share(busiest.running_ns), share(busiest.waiting_ns));
        let late = lateness_p99_us >= LATE_MIN_US
            && lateness_p99_us as f64 >= LATE_SHARE * latency_p99_us as f64;
        let reason = if running + waiting >= BUSY || waiting >= STARVED {
            Some(format!(
                "a loadgen worker was running {:.0} % and waiting for a CPU {:.0} % of the measured window",
                running * 100.0,
                waiting * 100.0
            ))
        } else if late {
            Some(format!(
                "loadgen's own send lateness p99 ({:.1} ms) is {:.0} % of the fan-out p99 ({:.1} ms)",
                lateness_p99_us as f64 / 1000.0,
                lateness_p99_us as f64 * 100.0 / latency_p99_us.max(1) as f64,
                latency_p99_us as f64 / 1000.0
            ))
        } else {
            None
        };
        Self {
            workers: threads.len(),
            cpu_s: threads.iter().map(|t| t.running_ns).sum::<u64>() as f64 / 1e9,
            running,
            waiting,
            bound: reason.is_some(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn thread(running: f64, waiting: f64) -> ThreadTime {
        ThreadTime {
            running_ns: (running * S as f64) as u64,
            waiting_ns: (waiting * S as f64) as u64,
        }
    }

    #[test]
    fn busy_or_late_is_client_bound_and_idle_is_not() {
        let idle = ClientLoad::judge(&[thread(0.2, 0.01), thread(0.3, 0.0)], S, 100, 2_000);
        assert!(!idle.bound, "{idle:?}");
        assert_eq!((idle.workers, idle.running), (2, 0.3));
        assert!((idle.cpu_s - 0.5).abs() < 1e-9);

        // Starved: half running, half waiting for the CPU.
        let starved = ClientLoad::judge(&[thread(0.5, 0.45), thread(0.1, 0.0)], S, 100, 2_000);
        assert!(starved.bound, "{starved:?}");
        assert!(
            starved
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("waiting for a CPU 45 %"))
        );

        // Not busy, but starved: a third of the window waiting for a CPU.
        let waiting = ClientLoad::judge(&[thread(0.05, 0.33)], S, 100, 2_000);
        assert!(waiting.bound, "{waiting:?}");
        // Not busy, but most of the latency is the client's own lateness.
        let late = ClientLoad::judge(&[thread(0.3, 0.1)], S, 3_000, 5_000);
        assert!(late.bound, "{late:?}");
        // Sub-millisecond lateness is never called a bottleneck, whatever its share.
        assert!(!ClientLoad::judge(&[thread(0.3, 0.1)], S, 600, 700).bound);
    }
}
