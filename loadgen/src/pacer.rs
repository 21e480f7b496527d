//! Sending on time. tokio's timer fires on millisecond ticks, so a send scheduled at `t` left
//! up to a millisecond late (0.5 ms on average), and that lateness was counted as the server's
//! latency. Each worker has a pacer instead: one thread that sleeps with microsecond timeouts
//! (timer slack set to 1 ns) until the earliest due send, then wakes its sender [`EARLY`]
//! ahead (a wake-up across threads takes ~90 µs on the 2-core test machine); the sender's
//! future yields the last stretch. Cost: one thread per worker, asleep between sends, and at
//! most [`EARLY`] of yielding per send, which spins only a worker with nothing else to do.
//!
//! How late sends still leave is measured, not assumed: every measured send records
//! `sent - scheduled` in the result's `send_lateness_us` histogram.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long before its time a sender is woken: enough to cover the wake-up of its worker's
/// runtime (measured: 60 µs left a median lateness of 31-36 µs, 150 µs one of 3 µs).
const EARLY: Duration = Duration::from_micros(100);

/// One worker's pacer. Dropping it stops its thread.
#[derive(Debug)]
pub struct Pacer {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Inner {
    /// The run clock's origin (as `Shared::clock`).
    clock: Instant,
    due: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
    stop: AtomicBool,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    at_us: u64,
    id: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.id) == (other.at_us, other.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at_us, self.id).cmp(&(other.at_us, other.id))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }
}

impl Pacer {
    /// A pacer on the run clock that starts at `clock`; `name` names its thread.
    pub fn start(clock: Instant, name: String) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            clock,
            due: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new().name(name).spawn({
            let inner = Arc::clone(&inner);
            move || run(&inner)
        })?;
        Ok(Self {
            inner,
            thread: Some(thread),
        })
    }

    /// Resolves at `at_us` on the run clock, within a few microseconds.
    pub fn until(&self, at_us: u64) -> Until<'_> {
        Until {
            inner: &self.inner,
            at_us,
        }
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        // Taking the lock orders the store before the thread's next check.
        drop(lock(&self.inner.due));
        self.inner.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// See [`Pacer::until`].
#[derive(Debug)]
pub struct Until<'a> {
    inner: &'a Inner,
    at_us: u64,
}

impl Future for Until<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.inner.now_us();
        if now >= self.at_us {
            return Poll::Ready(());
        }
        if self.at_us - now <= EARLY.as_micros() as u64 {
            // The last stretch: yield until due, rather than sleep past it. The worker's other
            // tasks (receivers) run in between; only an idle worker spins.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // First poll, or woken too early: queue (again; a stale entry only wakes this future
        // once more).
        let entry = Entry {
            at_us: self.at_us,
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            waker: cx.waker().clone(),
        };
        let mut due = lock(&self.inner.due);
        let earliest = due.peek().is_none_or(|Reverse(e)| entry.at_us < e.at_us);
        due.push(Reverse(entry));
        drop(due);
        if earliest {
            self.inner.changed.notify_one();
        }
        Poll::Pending
    }
}

/// The pacer thread: sleeps until the earliest entry is [`EARLY`] from due, wakes it and
/// every other entry due by then.
fn run(inner: &Inner) {
    set_timer_slack();
    let early = EARLY.as_micros() as u64;
    let mut wake = Vec::new();
    loop {
        {
            let mut due = lock(&inner.due);
            loop {
                if inner.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(Reverse(first)) = due.peek() else {
                    due = inner
                        .changed
                        .wait(due)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    continue;
                };
                let now = inner.now_us();
                let wake_at = first.at_us.saturating_sub(early);
                if wake_at <= now {
                    while let Some(Reverse(e)) = due.peek() {
                        if e.at_us.saturating_sub(early) > now {
                            break;
                        }
                        if let Some(Reverse(e)) = due.pop() {
                            wake.push(e.waker);
                        }
                    }
                    break;
                }
                due = inner
                    .changed
                    .wait_timeout(due, Duration::from_micros(wake_at - now))
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
        }
        for w in wake.drain(..) {
            w.wake();
        }
    }
}

/// Timer slack (Linux's default is 50 µs) would make every sleep of this thread that late;
/// a thread may set its own to 1 ns through `/proc/<tid>/timerslack_ns`. Where it cannot,
/// sends are up to ~50 µs later (and the lateness histogram shows it).
fn set_timer_slack() {
    // /proc/thread-self links to "<pid>/task/<tid>".
    let set = std::fs::read_link("/proc/thread-self").and_then(|link| {
        let tid = link.file_name().map(|t| t.to_string_lossy().into_owned());
        std::fs::write(
            format!("/proc/{}/timerslack_ns", tid.unwrap_or_default()),
            "1",
        )
    });
    if let Err(e) = set {
        tracing::debug!(error = %e, "timer slack left as it is");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_in_order_and_on_time() {
        let clock = Instant::now();
        let pacer = Pacer::start(clock, "pacer-test".into()).expect("pacer thread");
        let mut late = Vec::new();
        let mut at = 1_000;
        for _ in 0..200 {
            at += 700;
            tokio::time::timeout(Duration::from_secs(1), pacer.until(at))
                .await
                .expect("the pacer woke us");
            late.push(clock.elapsed().as_micros() as u64 - at);
        }
        late.sort_unstable();
        eprintln!(
            "pacer lateness: median {} µs, p99 {} µs, max {} µs",
            late[late.len() / 2],
            late[late.len() * 99 / 100],
            late[late.len() - 1]
        );
        // Never early, and on a quiet machine the median is a few microseconds late; the bound
        // here is loose because test machines are shared.
        assert!(late.iter().all(|l| *l < 100_000), "{late:?}");
        // (tokio's millisecond timer alone is about 500 µs late at the median.)
        assert!(
            late[late.len() / 2] < 200,
            "median lateness {} µs",
            late[late.len() / 2]
        );
    }
}
