//! loadgen's own load: each worker thread's time on a CPU and waiting for one, read from the
//! kernel's scheduler statistics (`/proc/self/task/<tid>/schedstat`: nanoseconds running,
//! nanoseconds runnable but waiting, time slices), sampled when sending starts and when the
//! measured window ends. `run_result::client::ClientLoad::judge` says whether the client was
//! the bottleneck. Where the file does not exist (not Linux, or a kernel without
//! schedstats), nothing is recorded.

use std::collections::HashMap;
use std::time::Instant;

use run_result::client::{ClientLoad, ThreadTime};

/// Worker threads are named `loadgen-<n>` (`run.rs`).
const PREFIX: &str = "loadgen-";

/// The cumulative scheduler times of this process's threads whose name starts with `prefix`,
/// by thread id; `None` where a thread's statistics cannot be read.
pub fn thread_times(prefix: &str) -> Option<HashMap<String, ThreadTime>> {
    let mut threads = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("schedstat")).ok()?;
        let mut fields = stat.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(running_ns)), Some(Ok(waiting_ns))) = (fields.next(), fields.next()) else {
            return None;
        };
        let id = task.file_name().to_string_lossy().into_owned();
        threads.insert(
            id,
            ThreadTime {
                running_ns,
                waiting_ns,
            },
        );
    }
    Some(threads)
}

/// The worker threads' cumulative times at one instant, by thread id.
#[derive(Debug)]
pub struct Sample {
    at: Instant,
    threads: HashMap<String, ThreadTime>,
}

impl Sample {
    /// Now; `None` where the scheduler statistics cannot be read.
    pub fn take() -> Option<Self> {
        let at = Instant::now();
        Some(Self {
            at,
            threads: thread_times(PREFIX)?,
        })
    }

    /// The load between `self` and the later `end`, judged with the run's send lateness
    /// p99 and fan-out p99 (microseconds).
    pub fn load_until(
        &self,
        end: &Sample,
        lateness_p99_us: u64,
        latency_p99_us: u64,
    ) -> ClientLoad {
        let window_ns = end.at.duration_since(self.at).as_nanos() as u64;
        let threads: Vec<ThreadTime> = end
            .threads
            .iter()
            .map(|(id, last)| {
                let first = self.threads.get(id).copied().unwrap_or_default();
                ThreadTime {
                    running_ns: last.running_ns.saturating_sub(first.running_ns),
                    waiting_ns: last.waiting_ns.saturating_sub(first.waiting_ns),
                }
            })
            .collect();
        ClientLoad::judge(&threads, window_ns, lateness_p99_us, latency_p99_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A named worker that spins is seen running for most of the window.
    #[test]
    fn a_spinning_worker_is_seen_running() {
        let Some(before) = Sample::take() else {
            panic!("/proc/self/task/*/schedstat is not readable on this machine");
        };
        let spinner = std::thread::Builder::new()
            .name(format!("{PREFIX}test"))
            .spawn(|| {
                let start = Instant::now();
                let mut x = 0u64;
                while start.elapsed().as_millis() < 300 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                // Sampled while still alive: a thread's statistics go with it.
                Sample::take().expect("readable")
            })
            .expect("thread");
        let after = spinner.join().expect("no panic");
        let load = before.load_until(&after, 0, 1_000);
        // Other tests' workers may be sampled too; the spinner is the busiest.
        assert!(load.workers >= 1, "{load:?}");
        assert!(load.running + load.waiting > 0.5, "{load:?}");
        assert!(load.cpu_s > 0.05, "{load:?}");
    }
}
