//! The receive path of one connection: sort each frame, find the stamp, account for the
//! delivery (duplicates, order, with churn the member's window) and record its latencies.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::causal::{Answering, Causal, Delivery};
use crate::connect::Ws;
use crate::error::ConnError;
use crate::leave::Leave;
use crate::order;
use crate::shared::Shared;
use crate::stats::{Order, Seen};
use crate::window::{Place, Window};
use run_result::Totals;
use run_result::histogram::record;

/// One stay of a member in its room, as its receive path sees it.
#[derive(Debug)]
pub struct Member {
    pub room: u32,
    /// Its index among the room's senders, if it sends: with churn, its own messages coming
    /// back tell how far the server has broadcast (`Shared::echoed`).
    pub own: Option<u32>,
    pub seen: Vec<Seen>,
    /// With churn: what this stay should get.
    pub window: Option<Window>,
    /// The measured phase's start on the run clock, once the schedule is known.
    measure_start: Option<u64>,
    /// With --reconnect, after a lost connection: when it was lost (run clock, µs), until
    /// the first delivery of this stay.
    pub dropped_at_us: Option<u64>,
    /// This stay's side of the one-order check.
    pub order: order::Stay,
    /// A sending member that answers what it receives (`--replies`).
    pub answering: Option<Answering>,
    /// Answers this stay got before their questions.
    pub causal: Causal,
    /// Its reader kind when the run counts them (`--slow-readers`): 0 healthy.
    pub reader: Option<usize>,
}

impl Member {
    pub fn new(
        room: u32,
        own: Option<u32>,
        senders: u32,
        window: Option<Window>,
        order: order::Stay,
    ) -> Self {
        Self {
            room,
            own,
            seen: vec![Seen::default(); senders as usize],
            window,
            measure_start: None,
            dropped_at_us: None,
            order,
            answering: None,
            causal: Causal::default(),
            reader: None,
        }
    }

    /// One past the highest sequence number received from each sender in this stay (`from`
    /// where nothing came): where a stay that ended unasked stops expecting.
    pub fn received_until(&self, from: &[u32]) -> Vec<u32> {
        self.seen
            .iter()
            .zip(from)
            .map(|(seen, from)| seen.highest().map_or(*from, |h| (h + 1).max(*from)))
            .collect()
    }
}

/// Why a receive loop returned.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The run is over; the connection is still open.
    Finished,
    /// The connection ended (close frame, error or end; already counted), and how.
    Closed(String),
    /// The member's time in the room is up (churn); the connection is still open.
    Leave,
}

/// Reads deliveries until the run finishes, the connection ends, or the member leaves
/// (`leave`: churn, or the stages' share of members).
pub async fn receive_loop(
    stream: &mut SplitStream<Ws>,
    member: &mut Member,
    shared: &Shared,
    stats: &RefCell<Totals>,
    leave: Leave<'_>,
) -> End {
    let mut schedule = shared.schedule.clone();
    let s = loop {
        if let Some(s) = *schedule.borrow_and_update() {
            break s;
        }
        // Nothing is sent before the schedule exists; wait for it or for the end. The
        // schedule first: a sender sends only once it is set, so when a delivery and the
        // schedule are both ready the schedule is taken and the delivery read as one (an
        // unbiased select! would now and then count a warm-up message as foreign).
        tokio::select! {
            biased;
            changed = schedule.changed() => if changed.is_err() { return End::Finished },
            () = shared.finish.cancelled() => return End::Finished,
            // Nothing of ours is in flight yet: any text is foreign.
            frame = stream.next() => match classify(frame, stats, member.reader) {
                Incoming::Text(_) => stats.borrow_mut().foreign += 1,
                Incoming::Other => {}
                Incoming::End(cause) => return End::Closed(cause),
            },
        }
    };
    member.measure_start = Some(s.measure_start_us);
    // A member leaves only while the senders send; after that it stays to the end.
    let leave_at = leave.at(shared.now_us(), &s);
    let leave = async {
        match leave_at {
            Some(at) => tokio::time::sleep_until(shared.at(at).into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(leave);
    // Polling a token takes its node's lock: watch a child of the token every connection
    // shares, and make the future once, not per frame.
    let finish = shared.finish.child_token();
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        let frame = tokio::select! {
            biased;
            () = &mut finished => return End::Finished,
            () = &mut leave => return End::Leave,
            frame = stream.next() => frame,
        };
        if let Some(end) = on_frame(frame, member, shared, stats) {
            return end;
        }
    }
}

/// A leaving member reads until it has every message of its stay, `bound` passes or the run
/// finishes: `Closed` if the connection ended meanwhile.
pub async fn drain(
    stream: &mut SplitStream<Ws>,
    member: &mut Member,
    shared: &Shared,
    stats: &RefCell<Totals>,
    bound: Duration,
) -> End {
    let deadline = tokio::time::Instant::now() + bound;
    while !member.window.as_ref().is_none_or(Window::complete) {
        let frame = tokio::select! {
            biased;
            () = shared.finish.cancelled() => return End::Finished,
            () = tokio::time::sleep_until(deadline) => return End::Leave,
            frame = stream.next() => frame,
        };
        if let Some(end) = on_frame(frame, member, shared, stats) {
            return end;
        }
    }
    End::Leave
}

/// One frame of a member's stream: a delivery is accounted for; `Closed` if it ended the
/// connection.
fn on_frame(
    frame: Option<Result<Message, WsError>>,
    member: &mut Member,
    shared: &Shared,
    stats: &RefCell<Totals>,
) -> Option<End> {
    match classify(frame, stats, member.reader) {
        Incoming::Text(text) => deliver(text.as_bytes(), member, shared, stats),
        Incoming::Other => {}
        Incoming::End(cause) => return Some(End::Closed(cause)),
    }
    None
}

/// What a frame means to the receive loop.
enum Incoming {
    Text(Utf8Bytes),
    /// Pings, pongs, binary frames (counted as foreign): nothing to do.
    Other,
    /// The connection is over (close frame, error or end; already counted), and how.
    End(String),
}

/// Sorts a frame, counting close codes (also by `reader` kind), errors and foreign binary
/// frames.
fn classify(
    frame: Option<Result<Message, WsError>>,
    stats: &RefCell<Totals>,
    reader: Option<usize>,
) -> Incoming {
    let mut s = stats.borrow_mut();
    match frame {
        Some(Ok(Message::Text(text))) => Incoming::Text(text),
        Some(Ok(Message::Close(f))) => {
            let code = f.map_or(1005, |f| u16::from(f.code));
            s.closed(code);
            if let Some(reader) = reader {
                *Totals::part(&mut s.readers, reader)
                    .closes
                    .entry(code)
                    .or_default() += 1;
            }
            Incoming::End(format!("close {code}"))
        }
        Some(Ok(Message::Binary(_))) => {
            s.foreign += 1;
            Incoming::Other
        }
        Some(Ok(_)) => Incoming::Other,
        Some(Err(e)) => {
            let text = ConnError::Receive((&e).into()).to_string();
            s.error(text.clone());
            Incoming::End(text)
        }
        None => {
            let text = ConnError::EndedWithoutClose.to_string();
            s.error(text.clone());
            Incoming::End(text)
        }
    }
}

/// The receive path: find the stamp, account for the delivery, record its latencies.
fn deliver(frame: &[u8], member: &mut Member, shared: &Shared, stats: &RefCell<Totals>) {
    let now = shared.now_us();
    let mut s = stats.borrow_mut();
    let Some(stamp) = stamp::decode(frame) else {
        s.foreign += 1;
        return;
    };
    if stamp.room != member.room {
        s.cross_room += 1;
        return;
    }
    let sender = stamp.sender as usize;
    if sender >= member.seen.len() {
        s.foreign += 1;
        return;
    }
    if let Some(window) = &member.window {
        // A sender's own messages coming back tell the churning members how far the server
        // has broadcast (only churn reads it).
        if member.own == Some(stamp.sender) {
            let echoed = &shared.echoed[shared.sender_index(stamp.room, stamp.sender)];
            echoed.fetch_max(stamp.seq.wrapping_add(1), Ordering::AcqRel);
        }
        match window.place(sender, stamp.seq) {
            Place::Outside => {
                s.outside_membership += 1;
                return;
            }
            Place::Edge => return,
            Place::Inside => {}
        }
    } else if stamp.warmup {
        return;
    }
    // With churn, warm-up deliveries are marked too: they tell a leaving member what it still
    // awaits.
    let order = member.seen[sender].mark(stamp.seq);
    if order == Order::Duplicate {
        if !stamp.warmup {
            s.duplicates += 1;
        }
        return;
    }
    if let Some(join_us) = member.window.as_mut().and_then(|w| w.got(sender, now)) {
        record(&mut s.join, join_us);
    }
    if let Some(dropped) = member.dropped_at_us.take() {
        record(&mut s.reconnect, now.saturating_sub(dropped));
    }
    if stamp.warmup {
        return;
    }
    if order == Order::Reordered {
        s.reordered += 1;
    }
    shared.delivered.fetch_add(1, Ordering::Relaxed);
    let latency = now.saturating_sub(stamp.scheduled_us);
    record(&mut s.latency, latency);
    if let Some(reader) = member.reader {
        let part = Totals::part(&mut s.readers, reader);
        part.delivered += 1;
        record(&mut part.latency, latency);
    }
    record(&mut s.latency_sent, now.saturating_sub(stamp.sent_us));
    let second = (now.saturating_sub(member.measure_start.unwrap_or(0)) / 1_000_000) as usize;
    let bucket = s.second(second);
    bucket.deliveries += 1;
    record(&mut bucket.latency, latency);
    causality(member, &stamp, now, &mut s);
    let slot = shared.index.slot(stamp.room, stamp.sender, stamp.seq);
    if let Some(slot) = slot {
        shared
            .order
            .deliver(&mut member.order, stamp.room, slot, now);
    }
    let completed = slot
        .and_then(|i| shared.remaining.get(i))
        .map(Shared::complete_one)
        .unwrap_or_default();
    if completed.first {
        record(&mut s.first, latency);
    }
    if completed.last {
        record(&mut s.completion, latency);
    }
    let stage = shared
        .index
        .curve
        .stage_of(stamp.scheduled_us, member.measure_start.unwrap_or(0));
    shared.index.count(&mut s, stamp.room, stage, |p| {
        p.delivered += 1;
        record(&mut p.latency, latency);
        if completed.first {
            record(&mut p.first, latency);
        }
        if completed.last {
            record(&mut p.completion, latency);
        }
    });
}

/// A measured delivery, new to this stay, as an answer, as a question, and as a message this
/// member may answer (`--replies`).
fn causality(member: &mut Member, stamp: &stamp::Stamp, now: u64, stats: &mut Totals) {
    member.causal.delivered(
        Delivery {
            sender: stamp.sender,
            seq: stamp.seq,
            answers: stamp.answers,
            now_us: now,
        },
        &member.seen,
        stats,
        (stamp.room, member.order.id()),
    );
    if let (Some(answering), false) = (&mut member.answering, member.own == Some(stamp.sender)) {
        answering.received(stamp.sender, stamp.seq);
    }
}
