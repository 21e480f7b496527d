//! Sending on time. tokio's timer fires on millisecond ticks, so a send scheduled at `t` would
//! leave up to a millisecond late (0.5 ms on average), and that lateness would be counted as
//! the server's latency. A worker with senders has a pacer instead: one `timerfd` (Linux),
//! registered with the worker's own runtime and armed, to the nanosecond, [`EARLY_US`] before
//! the earliest due send. When it fires, the runtime's poll returns, the pacer's task wakes
//! the senders due by then, and each yields the last stretch until its time. No other thread
//! is in between: a pacer thread waking the worker across threads would leave the sender
//! waiting behind the worker's receiving connections.
//!
//! Senders run on workers of their own (`plan/workers.rs`), so a due send waits for a few other
//! senders at most, not for thousands of receiving connections. How late sends still leave is
//! measured, not assumed: every measured send records `sent - scheduled` in the result's
//! `send_lateness_us` histogram.
//!
//! Cost: one descriptor and one task per worker with senders; a `timerfd_settime` when the
//! earliest due time changes; one wake-up per due time, and at most [`EARLY_US`] of yielding
//! per send, which spins only a worker with nothing else to do.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rustix::time::{
    ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, clock_gettime,
    timerfd_create, timerfd_settime,
};
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

/// How long before a send is due the timer fires: a sleeping thread on this kind of machine
/// (a VM's idle vCPU) takes ~60 µs to run again after its timer fires (the unit test below
/// measured a median lateness of 59 µs without this). The sender then yields the last
/// stretch, so only a worker with nothing else to do spins, for at most this long per send.
const EARLY_US: u64 = 100;

/// One worker's pacer: lives on that worker's `LocalSet`. Dropping it stops its task.
#[derive(Debug)]
pub struct Pacer {
    inner: Rc<Inner>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    /// The run clock's origin (as `Shared::clock`).
    clock: Instant,
    /// The same origin on `CLOCK_MONOTONIC` (which `Instant` reads on Linux).
    origin: Duration,
    timer: AsyncFd<OwnedFd>,
    due: RefCell<BinaryHeap<Reverse<Entry>>>,
    /// The run-clock time the timer fires at, if armed.
    armed: Cell<Option<u64>>,
    /// The timer could not be armed: waiters yield until due instead (see [`Inner::arm`]).
    failed: Cell<bool>,
    /// Tests: arming fails from now on.
    #[cfg(test)]
    refuse: Cell<bool>,
}

#[derive(Debug)]
struct Entry {
    at_us: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at_us == other.at_us
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
        self.at_us.cmp(&other.at_us)
    }
}

impl Pacer {
    /// A pacer on the run clock that starts at `clock`. Call it inside the worker's `LocalSet`.
    pub fn start(clock: Instant) -> std::io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // The clock's age first, then the monotonic time: the origin comes out no earlier than
        // the clock's, so the timer never fires before a send is due.
        let age = clock.elapsed();
        let now = Duration::try_from(clock_gettime(ClockId::Monotonic))
            .map_err(|_| std::io::Error::other("CLOCK_MONOTONIC before its epoch"))?;
        // tokio 1.54 deprecates `AsyncFd::new` for any `T: AsRawFd` (a `T` could return
        // another descriptor later) in favour of an `unsafe` constructor, which this workspace
        // forbids. An `OwnedFd` is the case that is sound: open, one descriptor, for its life.
        #[allow(deprecated)]
        let timer = AsyncFd::new(fd)?;
        let inner = Rc::new(Inner {
            clock,
            origin: now.saturating_sub(age),
            timer,
            due: RefCell::new(BinaryHeap::new()),
            armed: Cell::new(None),
            failed: Cell::new(false),
            #[cfg(test)]
            refuse: Cell::new(false),
        });
        let task = tokio::task::spawn_local(drive(Rc::clone(&inner)));
        Ok(Self { inner, task })
    }

    /// Arming the timer fails from now on (a test of the fallback).
    #[cfg(test)]
    fn refuse_arming(&self) {
        self.inner.refuse.set(true);
    }

    /// Resolves at `at_us` on the run clock, within the kernel's wake-up of this thread.
    pub fn until(&self, at_us: u64) -> Until<'_> {
        Until {
            inner: &self.inner,
            at_us,
            queued: None,
        }
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Inner {
    fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    /// Arms the timer for `at_us` on the run clock (a time already past fires at once).
    fn arm(&self, at_us: u64) {
        let set = self.set_timer(at_us);
        match set {
            Ok(_) => self.armed.set(Some(at_us)),
            // Cannot happen with this descriptor and a time in range. If it did, a waiter
            // would wait for nothing: from then on every waiter yields until due instead
            // (spinning the worker; the lateness histogram still tells the truth).
            Err(e) => {
                if !self.failed.replace(true) {
                    tracing::warn!(error = %e, "pacer timer not armed; sends now spin until due");
                }
                self.armed.set(None);
            }
        }
    }

    fn set_timer(&self, at_us: u64) -> rustix::io::Result<()> {
        #[cfg(test)]
        if self.refuse.get() {
            return Err(rustix::io::Errno::BADF);
        }
        let at = Timespec::try_from(self.origin + Duration::from_micros(at_us))
            .map_err(|_| rustix::io::Errno::INVAL)?;
        let spec = Itimerspec {
            it_interval: Timespec::default(),
            it_value: at,
        };
        timerfd_settime(self.timer.get_ref(), TimerfdTimerFlags::ABSTIME, &spec).map(|_| ())
    }

    /// Wakes every entry due within [`EARLY_US`] and arms the timer for the next.
    fn wake_due(&self) {
        let soon = self.now_us() + EARLY_US;
        let mut wake = Vec::new();
        {
            let mut due = self.due.borrow_mut();
            while due.peek().is_some_and(|Reverse(e)| e.at_us <= soon) {
                if let Some(Reverse(e)) = due.pop() {
                    wake.push(e.waker);
                }
            }
            match due.peek() {
                Some(Reverse(next)) => self.arm(next.at_us.saturating_sub(EARLY_US)),
                None => self.armed.set(None),
            }
            if self.failed.get() {
                // No timer any more: everyone left yields until due.
                wake.extend(due.drain().map(|Reverse(e)| e.waker));
            }
        }
        for w in wake {
            w.wake();
        }
    }

    fn queue(&self, at_us: u64, waker: Waker) {
        self.due.borrow_mut().push(Reverse(Entry { at_us, waker }));
        let fire = at_us.saturating_sub(EARLY_US);
        if self.armed.get().is_none_or(|armed| fire < armed) {
            self.arm(fire);
        }
    }
}

/// The pacer's task: waits for the timer, wakes whoever is due.
async fn drive(inner: Rc<Inner>) {
    loop {
        let mut ready = match inner.timer.readable().await {
            Ok(ready) => ready,
            Err(e) => {
                tracing::warn!(error = %e, "pacer timer lost");
                return;
            }
        };
        // The expiry count (or nothing, if a re-arm raced the wake-up); either way the
        // readiness is used up. tokio keeps a readiness that arrived after `readable()`.
        let mut count = [0u8; 8];
        let _ = rustix::io::read(inner.timer.get_ref(), &mut count);
        ready.clear_ready();
        inner.wake_due();
    }
}

/// See [`Pacer::until`].
#[derive(Debug)]
pub struct Until<'a> {
    inner: &'a Inner,
    at_us: u64,
    /// The waker queued with the pacer, once queued.
    queued: Option<Waker>,
}

impl Future for Until<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.inner.now_us();
        if now >= self.at_us {
            return Poll::Ready(());
        }
        if self.at_us - now <= EARLY_US || self.inner.failed.get() {
            // The last stretch: yield until due, rather than sleep past it. The worker's other
            // tasks run in between; only an idle worker spins.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // Polled again before due (a `select!` sibling woke the task): queued once is enough,
        // unless the task's waker changed.
        if self
            .queued
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        self.queued = Some(cx.waker().clone());
        self.inner.queue(self.at_us, cx.waker().clone());
        if self.inner.failed.get() {
            // This queueing could not arm the timer: yield until due from now on.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` on a worker's kind of runtime (one thread, a `LocalSet`) with a pacer on a
    /// clock started just before.
    fn on_worker<F: Future>(test: impl FnOnce(Instant, Rc<Pacer>) -> F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let clock = Instant::now();
            let pacer = Rc::new(Pacer::start(clock).expect("pacer"));
            test(clock, pacer).await
        })
    }

    /// A task that waits for `at_us` and returns it with when it woke.
    fn waiter(pacer: &Rc<Pacer>, clock: Instant, at_us: u64) -> JoinHandle<(u64, u64)> {
        let pacer = Rc::clone(pacer);
        tokio::task::spawn_local(async move {
            pacer.until(at_us).await;
            (at_us, clock.elapsed().as_micros() as u64)
        })
    }

    /// Every waiter wakes within 5 s, none before its time.
    async fn all_wake_at_their_time(waiters: impl IntoIterator<Item = JoinHandle<(u64, u64)>>) {
        for task in waiters {
            let (at, woke) = tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("every waiter wakes")
                .expect("no panic");
            assert!(woke >= at, "woke at {woke} µs, due at {at} µs");
        }
    }

    /// Sends due every 700 µs wake in order and never early. How late they wake is printed,
    /// not asserted (a shared machine's scheduler decides it): a few tens of microseconds at
    /// the median on a quiet runtime, where tokio's millisecond timer alone is about 500 µs
    /// late; loadgen measures it in every run (`send_lateness_us`).
    #[test]
    fn wakes_in_order_and_never_early() {
        let late = on_worker(|clock, pacer| async move {
            let mut late = Vec::new();
            let mut at = 1_000;
            for _ in 0..200 {
                at += 700;
                tokio::time::timeout(Duration::from_secs(1), pacer.until(at))
                    .await
                    .expect("the pacer woke us");
                let woke = clock.elapsed().as_micros() as u64;
                assert!(woke >= at, "woke at {woke} µs, due at {at} µs");
                late.push(woke - at);
            }
            late
        });
        let mut sorted = late;
        sorted.sort_unstable();
        eprintln!(
            "pacer lateness: median {} µs, p99 {} µs, max {} µs",
            sorted[sorted.len() / 2],
            sorted[sorted.len() * 99 / 100],
            sorted[sorted.len() - 1]
        );
    }

    /// When the timer cannot be armed, waiters queued before still wake, and later ones
    /// yield until due: none waits for nothing, none wakes early.
    #[test]
    fn a_timer_that_cannot_be_armed_leaves_no_waiter_behind() {
        on_worker(|clock, pacer| async move {
            let before: Vec<_> = (1..=5)
                .map(|i| waiter(&pacer, clock, 5_000 + i * 3_000))
                .collect();
            // Let them queue with the timer armed, then break it: the first expiry cannot
            // arm the timer for the next four.
            tokio::task::yield_now().await;
            pacer.refuse_arming();
            // This one comes first, so queueing it fails to arm the timer at once.
            let first = waiter(&pacer, clock, 1_000);
            let after: Vec<_> = (1..=5)
                .map(|i| waiter(&pacer, clock, 7_000 + i * 3_000))
                .collect();
            all_wake_at_their_time(before.into_iter().chain([first]).chain(after)).await;
        });
    }

    /// Many waiters with interleaved due times, queued in any order, each wake at or after
    /// its time, and all of them wake (none is lost when an earlier one re-arms the timer).
    #[test]
    fn many_waiters_each_wake_at_their_time() {
        on_worker(|clock, pacer| async move {
            // Due times out of queueing order: 20 ms down to 0.4 ms, and repeats.
            let waiters: Vec<_> = (0..50u64)
                .map(|i| waiter(&pacer, clock, 20_000 - (i * 7_919) % 19_600))
                .collect();
            all_wake_at_their_time(waiters).await;
        });
    }
}
