//! The fan-out helper: a second writer for a large room's direct writes.
//!
//! Without it the publisher writes every direct-write member's frame itself, one `write`
//! after another on one thread, and the room's last member waits for all of them while the
//! other cores idle. With it, the publisher hands one share of a large room to this helper
//! thread and writes the other share itself, in parallel.
//!
//! Policy: one job at a time, never queued. A publisher takes the helper only when it is
//! idle ([`Spread::take`]); when it is busy (the node is busy) the room is delivered as
//! without it (the members past the publisher's share are queued and their sessions woken),
//! so the helper never delays a frame behind another room's job. The members of a job have
//! their frame queued before the job is handed over ([`crate::outlet::Offered::ForHelper`]),
//! their sessions not woken: the helper writes each one's queue under its lock, like the
//! publisher, and wakes the session only when the socket did not take everything (the session
//! then writes the rest as it writes any queued frame; `crate::outlet::write_for_helper`). A
//! member whose session is writing at that moment is left to it. So every queued frame is
//! written by the helper or by the session, in queue order, once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use crate::metrics::Metrics;
use crate::outlet::{Outlet, write_for_helper};

/// Rooms with fewer members than this are written by the publisher alone: the helper's
/// wake-up costs more than it saves.
pub const SPREAD_FROM: usize = 16;

/// The helper's share of a room, in percent: the room's top positions. Less than half,
/// because the helper starts its share a thread wake-up after the publisher starts its own;
/// measured against half (docs/benchmarks.md).
pub const HELPER_SHARE_PERCENT: usize = 35;

/// The first position of a room of `members` that the helper writes.
pub fn helper_from(members: usize) -> usize {
    members - members * HELPER_SHARE_PERCENT / 100
}

/// The members of one room the helper writes.
pub(crate) type Job = Vec<Arc<Outlet>>;

/// The node's fan-out helper; the thread ends when this is dropped.
#[derive(Debug)]
pub(crate) struct Spread {
    jobs: Mutex<SyncSender<Job>>,
    busy: Arc<AtomicBool>,
}

/// The helper, taken by one publisher until it [`hand`](Self::hand)s it a job or drops it.
#[derive(Debug)]
pub(crate) struct Taken<'a> {
    spread: &'a Spread,
    job: Job,
    /// The helper thread has the job (and makes itself idle when done).
    handed: bool,
}

impl Spread {
    /// Starts the helper thread; its deliveries are counted in `metrics`.
    pub(crate) fn start(metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let idle = Arc::clone(&busy);
        std::thread::Builder::new()
            .name("chat-fanout".into())
            .spawn(move || run(&rx, &idle, &metrics))?;
        Ok(Self {
            jobs: Mutex::new(jobs),
            busy,
        })
    }

    /// The helper, if it is idle.
    pub(crate) fn take(&self) -> Option<Taken<'_>> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(Taken {
            spread: self,
            job: Vec::new(),
            handed: false,
        })
    }
}

impl Taken<'_> {
    /// Adds a member whose frame was queued for the helper.
    pub(crate) fn add(&mut self, member: Arc<Outlet>) {
        self.job.push(member);
    }

    /// Hands the job to the helper thread, which writes it and becomes idle again.
    pub(crate) fn hand(mut self) {
        if self.job.is_empty() {
            return;
        }
        let job = std::mem::take(&mut self.job);
        let jobs = self
            .spread
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The channel holds one job and the helper was idle, so it is not full; if the thread
        // is gone, the sessions write the members' queues (`drop` wakes them).
        match jobs.try_send(job) {
            Ok(()) => self.handed = true,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => self.job = job,
        }
    }
}

impl Drop for Taken<'_> {
    /// Not handed over: the members' sessions write their frames, and the helper is idle.
    fn drop(&mut self) {
        if !self.handed {
            wake_all(&self.job);
            self.spread.busy.store(false, Ordering::Release);
        }
    }
}

fn run(jobs: &Receiver<Job>, busy: &AtomicBool, metrics: &Metrics) {
    while let Ok(job) = jobs.recv() {
        let delivered: u64 = job.iter().map(|member| write_for_helper(member)).sum();
        drop(job);
        busy.store(false, Ordering::Release);
        if delivered > 0 {
            // This one first: once frames_delivered shows a frame, its writer is counted.
            metrics.fanout_helper_frames.inc_by(delivered);
            metrics.frames_delivered.inc_by(delivered);
        }
    }
}

/// Sessions whose frames the helper will not write: they write them.
fn wake_all(job: &Job) {
    for member in job {
        let waker = member.queue().lock().take_waker();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;

    use tokio::net::TcpStream;

    use super::*;
    use crate::budget::MemoryBudget;
    use crate::frame::Frame;
    use crate::outlet::test_pair::{connected, read_exactly};
    use crate::outlet::{Offered, OutletReceiver, OutletSender, Writer, outlet};

    /// Counts its wake-ups: a member's session.
    #[derive(Default)]
    struct Session(AtomicUsize);

    impl Wake for Session {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Session {
        fn woken(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    struct Member {
        tx: OutletSender,
        _rx: OutletReceiver,
        _socket: crate::outlet::DirectSocket,
        client: TcpStream,
        session: Arc<Session>,
    }

    /// A member on a real connection, its session waiting for frames; the client's receive
    /// buffer is `rcvbuf` when given (and the server's send buffer small), so writes can end
    /// part-way.
    async fn member(rcvbuf: Option<u32>) -> Member {
        let (server, client) = connected(rcvbuf.map(|_| 4096), rcvbuf).await;
        let (tx, rx) = outlet(1 << 24, Arc::new(MemoryBudget::new(usize::MAX)));
        let socket = rx.attach(server);
        // The session waits for frames, as its drain does on an empty queue.
        let session = Arc::new(Session::default());
        let waker = Waker::from(Arc::clone(&session));
        tx.outlet()
            .queue()
            .lock()
            .wait_for_frames(&Context::from_waker(&waker));
        Member {
            tx,
            _rx: rx,
            _socket: socket,
            client,
            session,
        }
    }

    /// Takes the helper, waiting (bounded) until its last job is done.
    fn take_when_idle(spread: &Spread) -> Taken<'_> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(taken) = spread.take() {
                return taken;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the helper stays busy"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn the_helper_takes_the_smaller_share_of_the_top_positions() {
        assert_eq!(helper_from(50), 33);
        for members in SPREAD_FROM..=1000 {
            let from = helper_from(members);
            let share = members - from;
            assert!(
                share >= 1 && share < members - share,
                "{members}: from {from}"
            );
        }
    }

    #[tokio::test]
    async fn the_helper_writes_its_members_frames_and_wakes_no_session() {
        let metrics = Arc::new(Metrics::default());
        let spread = Spread::start(Arc::clone(&metrics)).expect("helper thread");
        let frame = Frame::from(r#"{"message": "m"}"#);
        let mut members = Vec::new();
        for _ in 0..3 {
            members.push(member(None).await);
        }
        let mut helper = spread.take().expect("idle");
        assert!(spread.take().is_none(), "one publisher at a time");
        for m in &members {
            assert_eq!(m.tx.offer(&frame, Writer::Helper), Ok(Offered::ForHelper));
            helper.add(m.tx.outlet());
        }
        helper.hand();
        for m in &mut members {
            let got = read_exactly(&mut m.client, frame.wire().len()).await;
            assert_eq!(got, frame.wire().to_vec());
        }
        drop(take_when_idle(&spread));
        assert_eq!(metrics.frames_delivered.get(), 3);
        assert_eq!(metrics.fanout_helper_frames.get(), 3);
        for m in &members {
            assert_eq!(m.session.woken(), 0, "the helper wrote everything");
            assert!(m.tx.outlet().queue().lock().is_empty());
        }
    }

    #[tokio::test]
    async fn what_the_socket_does_not_take_is_left_to_the_session() {
        let spread = Spread::start(Arc::new(Metrics::default())).expect("helper thread");
        let big = Frame::from(format!(r#"{{"message": "{}"}}"#, "x".repeat(1 << 20)));
        let mut m = member(Some(4096)).await;
        let mut helper = spread.take().expect("idle");
        assert_eq!(m.tx.offer(&big, Writer::Helper), Ok(Offered::ForHelper));
        helper.add(m.tx.outlet());
        helper.hand();
        drop(take_when_idle(&spread));
        assert!(
            !m.tx.outlet().queue().lock().is_empty(),
            "more than a socket takes"
        );
        assert_eq!(m.session.woken(), 1, "the session writes the rest");
        // The rest goes out as the client reads, and the client gets the frame whole.
        let reading = tokio::spawn(async move {
            read_exactly(&mut m.client, big.wire().len()).await == big.wire().to_vec()
        });
        let shared = m.tx.outlet();
        while !shared.queue().lock().is_empty() {
            write_for_helper(&shared);
            tokio::task::yield_now().await;
        }
        assert!(reading.await.expect("reader"), "the frame whole");
    }

    #[tokio::test]
    async fn a_member_whose_session_is_writing_is_left_to_it() {
        let frame = Frame::from(r#"{"message": "m"}"#);
        let m = member(None).await;
        assert_eq!(m.tx.offer(&frame, Writer::Helper), Ok(Offered::ForHelper));
        let shared = m.tx.outlet();
        shared.queue().lock().in_flight = true;
        assert_eq!(write_for_helper(&shared), 0);
        assert!(!shared.queue().lock().is_empty(), "not written twice");
        shared.queue().lock().in_flight = false;
        assert_eq!(write_for_helper(&shared), 1);
        assert!(shared.queue().lock().is_empty());
    }

    #[tokio::test]
    async fn a_job_not_handed_over_wakes_its_sessions_and_frees_the_helper() {
        let spread = Spread::start(Arc::new(Metrics::default())).expect("helper thread");
        let frame = Frame::from(r#"{"message": "m"}"#);
        let m = member(None).await;
        let mut helper = spread.take().expect("idle");
        assert_eq!(m.tx.offer(&frame, Writer::Helper), Ok(Offered::ForHelper));
        helper.add(m.tx.outlet());
        drop(helper);
        assert_eq!(m.session.woken(), 1, "its session writes the frame");
        assert!(spread.take().is_some(), "idle again");
    }
}
