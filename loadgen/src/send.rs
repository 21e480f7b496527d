//! A sender: one message per scheduled time (open loop: the schedule never waits for the
//! server, so a slow server shows as latency, not as fewer sends), stamped with the scheduled
//! and the actual send time.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_tungstenite::tungstenite::Message;

use crate::connect::Ws;
use crate::error::ConnError;
use crate::opts::Arrival;
use crate::pacer::Pacer;
use crate::plan::SendPlan;
use crate::shared::{Schedule, Shared};
use run_result::Totals;
use run_result::histogram::record;
use stamp::Stamp;

/// Where a sender is in its schedule: kept across its connections, so a sender that
/// reconnects (`--reconnect`) goes on with its sequence numbers and its schedule.
#[derive(Debug)]
pub struct SendState {
    seq: u32,
    /// The next scheduled send on the run clock, once the schedule is known.
    next: Option<f64>,
    rng: StdRng,
}

impl SendState {
    pub fn new(room: u32, sender: u32, plan: &SendPlan) -> Self {
        Self {
            seq: 0,
            next: None,
            rng: StdRng::seed_from_u64(plan.seed ^ (u64::from(room) << 32) ^ u64::from(sender)),
        }
    }
}

/// One sender of one room, and what it sends with: its pacing, the run's shared counts, its
/// worker's totals and pacer, and its place in the schedule.
pub struct Sender {
    pub room: u32,
    pub sender: u32,
    pub plan: SendPlan,
    pub shared: Arc<Shared>,
    pub stats: Rc<RefCell<Totals>>,
    pub pacer: Rc<Pacer>,
    pub state: Rc<RefCell<SendState>>,
}

/// Sends on schedule until the end of the run, then hands the sink back; `None` when a
/// write failed (the connection is gone; `state` says where to go on from).
pub async fn send_loop(
    mut sink: SplitSink<Ws, Message>,
    who: Sender,
) -> Option<SplitSink<Ws, Message>> {
    let Sender {
        room,
        sender,
        plan,
        shared,
        stats,
        pacer,
        state,
    } = who;
    let Some(schedule) = schedule_of(&shared).await else {
        return Some(sink);
    };
    let gap_us = 1e6 / plan.rate;
    let resumed = state.borrow().next.is_some();
    let mut next = state.borrow().next.unwrap_or_else(|| {
        // Spread every sender of every room over the first gap so they do not fire together.
        let order = f64::from(sender) * f64::from(plan.rooms) + f64::from(room);
        schedule.warmup_start_us as f64
            + gap_us * order / (f64::from(plan.senders) * f64::from(plan.rooms))
    });
    let mut seq = state.borrow().seq;
    // Back after a lost connection: the sends due while it was away are not made.
    if resumed {
        let now = shared.now_us() as f64;
        while next < now {
            next += step(&plan, gap_us, &mut state.borrow_mut().rng);
        }
    }
    let finish = shared.finish.child_token();
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        let at = next as u64;
        if at >= schedule.end_us {
            break;
        }
        tokio::select! {
            () = pacer.until(at) => {}
            () = &mut finished => break,
        }
        let warmup = at < schedule.measure_start_us;
        let stamp = Stamp {
            room,
            sender,
            seq,
            scheduled_us: at,
            sent_us: shared.now_us(),
            warmup,
        };
        let index = shared.sender_index(room, sender);
        if !warmup {
            // With churn or --reconnect every member's stay counts what it should get
            // (`crate::window`).
            if plan.windows {
                let _ = shared.first_measured[index].compare_exchange(
                    u32::MAX,
                    seq,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            } else {
                let members = shared.members[room as usize].load(Ordering::Acquire);
                if let Some(slot) = shared.slot(room, sender, seq) {
                    slot.store(Shared::unseen(members), Ordering::Release);
                }
                shared
                    .expected
                    .fetch_add(u64::from(members), Ordering::Relaxed);
            }
            let mut s = stats.borrow_mut();
            record(&mut s.send_lateness, stamp.sent_us.saturating_sub(at));
            let second = ((at - schedule.measure_start_us) / 1_000_000) as usize;
            s.second(second).sends += 1;
            shared.sent_in(room, sender, seq, second);
            shared.sent.fetch_add(1, Ordering::Relaxed);
        }
        // Before the write: a churning member that holds its 101 once this is stored must get
        // it.
        if plan.windows {
            shared.published[index].store(seq.wrapping_add(1), Ordering::Release);
        }
        // The state moves on before the write: a sender whose task ends during it (its
        // connection lost) never sends this sequence number again.
        let size = {
            let mut state = state.borrow_mut();
            // A fixed size draws nothing, so the Poisson schedule of a seed stays as it was.
            // No message is shorter than its stamp: a shorter draw is raised to it.
            let size = (plan.size.sample(&mut state.rng) as usize).max(stamp::MIN_SIZE);
            seq = seq.wrapping_add(1);
            next += step(&plan, gap_us, &mut state.rng);
            state.seq = seq;
            state.next = Some(next);
            size
        };
        if let Err(e) = sink
            .send(Message::text(stamp::encode_filled(&stamp, size, plan.text)))
            .await
        {
            stats
                .borrow_mut()
                .error(ConnError::Send((&e).into()).to_string());
            return None;
        }
    }
    Some(sink)
}

/// The run's schedule, once the coordinator has set it; `None` when the run ends first.
async fn schedule_of(shared: &Shared) -> Option<Schedule> {
    let mut schedule_rx = shared.schedule.clone();
    loop {
        if let Some(s) = *schedule_rx.borrow_and_update() {
            return Some(s);
        }
        tokio::select! {
            changed = schedule_rx.changed() => if changed.is_err() { return None },
            () = shared.finish.cancelled() => return None,
        }
    }
}

/// The gap to the next send: fixed, or exponential with mean `gap_us` (a Poisson process).
fn step(plan: &SendPlan, gap_us: f64, rng: &mut StdRng) -> f64 {
    match plan.arrival {
        Arrival::Fixed => gap_us,
        Arrival::Poisson => -gap_us * (1.0 - rng.random::<f64>()).ln(),
    }
}
