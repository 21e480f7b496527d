//! A sender: one message per scheduled time (open loop: the schedule never waits for the
//! server, so a slow server shows as latency, not as fewer sends), stamped with the scheduled
//! and the actual send time.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio_tungstenite::tungstenite::Message;

use crate::connect::Ws;
use crate::error::ConnError;
use crate::pacer::Pacer;
use crate::plan::SendPlan;
use crate::shared::{Schedule, Shared};
use crate::workload::Arrivals;
use run_result::Totals;
use run_result::histogram::record;
use stamp::Stamp;

/// Where a sender is in its schedule: kept across its connections, so a sender that
/// reconnects (`--reconnect`) goes on with its sequence numbers and its schedule.
#[derive(Debug)]
pub struct SendState {
    seq: u32,
    /// The next scheduled send in work seconds from the warm-up's start
    /// (`crate::workload::curve`), once the schedule is known.
    next: Option<f64>,
    rng: StdRng,
    arrivals: Arrivals,
    /// The message the next send answers (`--replies`), set by the member's receive path.
    pub answer: Option<(u32, u32)>,
}

impl SendState {
    /// Sender `sender` of `room`, sending `rate` messages per work second.
    pub fn new(room: u32, sender: u32, rate: f64, plan: &SendPlan) -> Self {
        Self {
            seq: 0,
            next: None,
            answer: None,
            rng: StdRng::seed_from_u64(plan.seed ^ (u64::from(room) << 32) ^ u64::from(sender)),
            // The room's ON/OFF periods: the same for each of its senders.
            arrivals: Arrivals::new(
                plan.arrival,
                rate,
                plan.seed ^ (u64::from(room) << 32) ^ 0x0f0f_0f0f,
            ),
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
    let gap = state.borrow().arrivals.gap();
    if !gap.is_finite() {
        // A sender whose share of its room's rate is nothing.
        return Some(sink);
    }
    // Work seconds from the warm-up's start to the run clock.
    let at_of = |work: f64| {
        let t = shared.index.curve.time_at(work);
        if t.is_finite() {
            schedule.warmup_start_us + (t * 1e6).round() as u64
        } else {
            u64::MAX
        }
    };
    let mut next = start_at(&state, (room, sender), &plan, &shared, at_of);
    let mut seq = state.borrow().seq;
    let finish = shared.finish.child_token();
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        let at = at_of(next);
        if at >= schedule.end_us {
            break;
        }
        tokio::select! {
            () = pacer.until(at) => {}
            () = &mut finished => break,
        }
        if shared.sending_stopped.load(Ordering::Acquire) {
            break;
        }
        let warmup = at < schedule.measure_start_us;
        let stamp = Stamp {
            room,
            sender,
            seq,
            scheduled_us: at,
            sent_us: shared.now_us(),
            warmup,
            answers: state.borrow_mut().answer.take(),
        };
        let index = shared.sender_index(room, sender);
        if !warmup {
            measured(&stamp, &plan, &shared, &stats, schedule);
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
            let SendState { rng, arrivals, .. } = &mut *state;
            let size = (plan.size.sample(rng) as usize).max(stamp::MIN_SIZE);
            seq = seq.wrapping_add(1);
            next = arrivals.next(next, rng);
            state.seq = seq;
            state.next = Some(next);
            size
        };
        if let Err(e) = sink
            .send(Message::text(stamp::encode_filled(
                &stamp, size, &plan.text,
            )))
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

/// Where a sender starts, in work seconds: where it was (back after a lost connection, past
/// the sends due while it was away, which are not made), or its first send, every sender of
/// every room spread over the first gap so that they do not fire together.
fn start_at(
    state: &RefCell<SendState>,
    (room, sender): (u32, u32),
    plan: &SendPlan,
    shared: &Shared,
    at_of: impl Fn(f64) -> u64,
) -> f64 {
    let mut state = state.borrow_mut();
    let SendState {
        rng,
        arrivals,
        next,
        ..
    } = &mut *state;
    match *next {
        Some(mut next) => {
            let now = shared.now_us();
            while at_of(next) < now {
                next = arrivals.next(next, rng);
            }
            next
        }
        None => {
            let order = f64::from(sender) * f64::from(plan.rooms) + f64::from(room);
            let offset = arrivals.gap() * order / (f64::from(plan.senders) * f64::from(plan.rooms));
            arrivals.first(offset)
        }
    }
}

/// Accounts for a measured send: what it should reach, and when it was scheduled.
fn measured(
    stamp: &Stamp,
    plan: &SendPlan,
    shared: &Shared,
    stats: &RefCell<Totals>,
    schedule: Schedule,
) {
    let (room, sender, seq, at) = (stamp.room, stamp.sender, stamp.seq, stamp.scheduled_us);
    // With churn or --reconnect every member's stay counts what it should get
    // (`crate::window`).
    if plan.windows {
        let _ = shared.first_measured[shared.sender_index(room, sender)].compare_exchange(
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
    let stage = shared.index.curve.stage_of(at, schedule.measure_start_us);
    shared.index.count(&mut s, room, stage, |p| p.sent += 1);
    shared.sent_in(room, sender, seq, second);
    shared.sent.fetch_add(1, Ordering::Relaxed);
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
