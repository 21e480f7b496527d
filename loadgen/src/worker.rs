//! A worker thread: a single-threaded runtime driving its share of the connections.
//!
//! Each worker owns one [`Totals`] that its connection tasks share through an
//! `Rc<RefCell<..>>`: the tasks never run at the same time, so recording a delivery is a
//! histogram write with no lock. The run-wide counts (connected, failed, sent, expected,
//! delivered) are kept once, in [`Shared`]'s atomics, which the progress bars read live and
//! the coordinator copies into the totals at the end.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::{SplitSink, SplitStream};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::Message;

use crate::causal::Answering;
use crate::comeback::Comeback;
use crate::connect::{Ws, close_gracefully, close_learning, connect};
use crate::error::ConnError;
use crate::leave::{Leave, until_present};
use crate::live::Board;
use crate::pacer::Pacer;
use crate::plan::{ChurnPlan, ConnPlan, WorkerPlan};
use crate::receive::{End, Member, drain, receive_loop};
use crate::send;
use crate::shared::Shared;
use crate::window::Window;
use crate::workload::Presence;
use run_result::Totals;
use run_result::histogram::record;

/// Where a worker copies its histogram and errors for the live metrics: its slot on the
/// board.
pub type LiveSlot = Option<(usize, Arc<Board>)>;

/// Runs a worker to the end on the current thread and returns what it measured.
pub fn run(plan: WorkerPlan, shared: Arc<Shared>, live: LiveSlot) -> std::io::Result<Totals> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    let stats = Rc::new(RefCell::new(Totals::default()));
    let plan = Rc::new(plan);
    local.block_on(&runtime, async {
        // Only a worker with senders needs one (`plan/workers.rs` gives senders workers of their own).
        let pacer = match plan.conns.iter().any(|c| c.sender.is_some()) {
            true => Some(Rc::new(Pacer::start(shared.clock)?)),
            false => None,
        };
        if let Some((w, board)) = live.clone() {
            tokio::task::spawn_local(copy_for_live(w, board, Rc::clone(&stats)));
        }
        let tasks: Vec<_> = (0..plan.conns.len())
            .map(|i| {
                tokio::task::spawn_local(connection(
                    Rc::clone(&plan),
                    i,
                    Arc::clone(&shared),
                    Rc::clone(&stats),
                    pacer.clone(),
                ))
            })
            .collect();
        for task in tasks {
            if task.await.is_err() {
                stats
                    .borrow_mut()
                    .error(ConnError::TaskPanicked.to_string());
            }
        }
        std::io::Result::Ok(())
    })?;
    let stats = stats.borrow().clone();
    if let Some((w, board)) = live {
        board.publish(w, &stats);
    }
    Ok(stats)
}

/// Copies this worker's totals to its slot every interval, until the worker's connections
/// are done (the task is dropped with the worker's `LocalSet`).
async fn copy_for_live(w: usize, board: Arc<Board>, stats: Rc<RefCell<Totals>>) {
    let mut interval = tokio::time::interval(board.every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        board.publish(w, &stats.borrow());
    }
}

/// What one member's connection task works with.
struct Ctx<'a> {
    plan: &'a WorkerPlan,
    conn: &'a ConnPlan,
    shared: &'a Arc<Shared>,
    stats: &'a Rc<RefCell<Totals>>,
    pacer: Option<&'a Rc<Pacer>>,
    /// The churn settings, for a member that leaves and rejoins (senders stay).
    churn: Option<&'a ChurnPlan>,
    /// The stages' share of members and this receiver's rank (senders stay).
    presence: Option<(&'a Presence, f64)>,
}

/// What outlives each of a member's stays.
struct Life {
    rng: Option<StdRng>,
    comeback: Comeback,
    /// A sender's place in its schedule.
    send_state: Option<Rc<RefCell<send::SendState>>>,
    /// The next stay is a rejoin after a leave.
    rejoin: bool,
    /// Whether this member has connected once (it counts among the connections once).
    counted: bool,
}

/// An open connection, with what the server had broadcast in the room before it (not this
/// stay's) and when the attempt started.
struct Open {
    ws: Ws,
    echoed_before: Vec<u32>,
    started_us: u64,
}

/// What an attempt to open gave.
enum Opened {
    /// Boxed: the socket is large beside the other outcomes.
    Ws(Box<Open>),
    /// Failed, and --reconnect tries again.
    Retry,
    /// Failed for good, or the run is over.
    Stop,
}

/// One member: waits for its time, then opens and stays, again after each leave (churn) or
/// lost connection (--reconnect), until the run ends.
async fn connection(
    plan: Rc<WorkerPlan>,
    index: usize,
    shared: Arc<Shared>,
    stats: Rc<RefCell<Totals>>,
    pacer: Option<Rc<Pacer>>,
) {
    let conn = &plan.conns[index];
    tokio::select! {
        () = tokio::time::sleep_until(shared.at(conn.connect_at_us).into()) => {}
        () = shared.finish.cancelled() => return,
    }
    let churn = plan.churns[conn.group]
        .as_ref()
        .filter(|_| conn.sender.is_none());
    let mut life = Life {
        rng: churn.map(|c| {
            StdRng::seed_from_u64(c.seed ^ (u64::from(conn.room) << 32) ^ conn.connect_at_us)
        }),
        comeback: Comeback::new(plan.reconnect.clone(), conn),
        send_state: conn.sender.map(|(s, rate)| {
            Rc::new(RefCell::new(send::SendState::new(
                conn.room,
                s,
                rate,
                &plan.sends[conn.group],
            )))
        }),
        rejoin: false,
        counted: false,
    };
    let ctx = Ctx {
        plan: &plan,
        conn,
        shared: &shared,
        stats: &stats,
        pacer: pacer.as_ref(),
        churn,
        presence: plan
            .presence
            .as_deref()
            .filter(|_| conn.sender.is_none())
            .map(|p| (p, conn.rank)),
    };
    loop {
        if !life.comeback.wait(&shared).await || !until_present(&shared, ctx.presence).await {
            return;
        }
        match open(&ctx, &mut life).await {
            Opened::Ws(open) => {
                if !stay(&ctx, &mut life, *open).await {
                    return;
                }
            }
            Opened::Retry => {}
            Opened::Stop => return,
        }
    }
}

/// Opens the member's connection and records how long each step took.
async fn open(ctx: &Ctx<'_>, life: &mut Life) -> Opened {
    let (conn, shared) = (ctx.conn, ctx.shared);
    // Before connecting: what the server had broadcast already cannot be this stay's.
    let echoed_before = shared.of_room(&shared.echoed, conn.room);
    let started_us = shared.now_us();
    let started = Instant::now();
    let ws = tokio::select! {
        ws = connect(conn, &ctx.plan.handshake, ctx.plan.connect_timeout, &ctx.shared.finish) => ws,
        () = shared.finish.cancelled() => return Opened::Stop,
    };
    let (ws, times) = match ws {
        Ok(ok) => ok,
        Err(e) => {
            ctx.stats.borrow_mut().error(e.to_string());
            if life.comeback.failed() {
                return Opened::Retry;
            }
            if !life.counted {
                shared.connect_failed.fetch_add(1, Ordering::Relaxed);
            }
            return Opened::Stop;
        }
    };
    let mut stats = ctx.stats.borrow_mut();
    record(&mut stats.connect, started.elapsed().as_micros() as u64);
    record(&mut stats.tcp_connect, times.tcp_us);
    if let Some(tls_us) = times.tls_us {
        record(&mut stats.tls_handshake, tls_us);
    }
    record(&mut stats.upgrade, times.upgrade_us);
    Opened::Ws(Box::new(Open {
        ws,
        echoed_before,
        started_us,
    }))
}

/// One stay in the room, from the open connection to its end; true when another follows
/// (a rejoin, or a reconnect after a lost connection).
async fn stay(ctx: &Ctx<'_>, life: &mut Life, open: Open) -> bool {
    let Open {
        ws,
        echoed_before,
        started_us,
    } = open;
    let (plan, conn, shared, stats) = (ctx.plan, ctx.conn, ctx.shared, ctx.stats);
    shared.members[conn.room as usize].fetch_add(1, Ordering::AcqRel);
    if !life.counted {
        life.counted = true;
        shared.connected.fetch_add(1, Ordering::Relaxed);
    }
    // With churn or --reconnect every member, senders too, accounts by its stay.
    let window = plan.windows().then(|| {
        let from = shared.of_room(&shared.published, conn.room);
        Window::new(echoed_before, from, started_us, life.rejoin)
    });
    let own = conn.sender.map(|(s, _)| s);
    let mut member = Member::new(
        conn.room,
        own,
        shared.index.senders_in(conn.room),
        window,
        shared.order.stay(),
    );
    member.answering = answering(plan, conn, life);
    member.reader = plan.readers.then_some(conn.reader);
    life.comeback.connected(&mut member, shared, stats);

    let (sink, mut stream) = ws.split();
    // A sender's sink lives in its send task until the sending ends; a receiver keeps its
    // own. (A worker with a sender always has a pacer: `run`.)
    let (own_sink, sender) = match own.zip(ctx.pacer).zip(life.send_state.as_ref()) {
        Some(((s, pacer), state)) => (
            None,
            Some(tokio::task::spawn_local(send::send_loop(
                sink,
                send::Sender {
                    room: conn.room,
                    sender: s,
                    plan: plan.sends[conn.group].clone(),
                    shared: Arc::clone(shared),
                    stats: Rc::clone(stats),
                    pacer: Rc::clone(pacer),
                    state: Rc::clone(state),
                },
            ))),
        ),
        None => (Some(sink), None),
    };
    let leave = Leave {
        after: ctx.churn.zip(life.rng.as_mut()).map(|(c, rng)| {
            // Exponential stays: members leave as a Poisson process.
            let u: f64 = rng.random();
            c.mean_session.mul_f64(-(1.0 - u).ln())
        }),
        presence: ctx.presence,
    };
    let mut end = receive_loop(&mut stream, &mut member, shared, stats, leave).await;
    if end == End::Leave {
        let published = shared.of_room(&shared.published, conn.room);
        if let Some(w) = &mut member.window {
            w.leave(published);
        }
        end = drain(&mut stream, &mut member, shared, stats, plan.drain).await;
    }
    let lost = match &end {
        End::Closed(cause) => life.comeback.lost(cause, &mut member, shared, stats),
        _ => false,
    };
    if matches!(end, End::Closed(_)) && !lost && !shared.finish.is_cancelled() {
        // Lost for good (no --reconnect): still a receiver until the run ends, so what is
        // sent meanwhile is missing for it.
        shared.lost_for_good.fetch_add(1, Ordering::AcqRel);
        shared.finish.cancelled().await;
    }
    shared.members[conn.room as usize].fetch_sub(1, Ordering::AcqRel);
    stay_ended(member, shared, stats);
    let sink = match sender {
        // A lost connection's sender is stopped where it is (its state says where).
        Some(task) if lost => {
            task.abort();
            None
        }
        Some(task) => match task.await {
            Ok(sink) => sink,
            Err(_) => {
                stats
                    .borrow_mut()
                    .error(ConnError::TaskPanicked.to_string());
                None
            }
        },
        None => own_sink,
    };
    if let (false, Some(sink)) = (matches!(end, End::Closed(_)), sink) {
        close(sink, stream, conn, stats).await;
    }
    match end {
        End::Leave => {
            stats.borrow_mut().leaves += 1;
            life.rejoin = true;
            true
        }
        End::Closed(_) if lost => true,
        _ => false,
    }
}

/// Closes a connection that is still open. A slow reader first reads what it had not taken
/// (its pace lifted at the run's end) to learn how the server had ended it, counted by its
/// reader kind: a close frame's code, or 1006 for an end without one.
async fn close(
    sink: SplitSink<Ws, Message>,
    stream: SplitStream<Ws>,
    conn: &ConnPlan,
    stats: &RefCell<Totals>,
) {
    if conn.read_rate.is_none() {
        close_gracefully(sink, stream).await;
        return;
    }
    let Some(code) = close_learning(sink, stream).await else {
        return;
    };
    let mut stats = stats.borrow_mut();
    match code {
        1006 => stats.error(ConnError::EndedWithoutClose.to_string()),
        code => stats.closed(code),
    }
    let reader = Totals::part(&mut stats.readers, conn.reader);
    *reader.closes.entry(code).or_default() += 1;
}

/// A sending member's answers (`--replies`), if its group answers.
fn answering(plan: &WorkerPlan, conn: &ConnPlan, life: &Life) -> Option<Answering> {
    let send = &plan.sends[conn.group];
    let state = life.send_state.as_ref().filter(|_| send.replies > 0.0)?;
    let seed = send.seed ^ (u64::from(conn.room) << 32) ^ 0xa115_0e75 ^ conn.connect_at_us;
    Some(Answering::new(send.replies, seed, Rc::clone(state)))
}

/// A stay's end in the run's accounts: what it should have had and what it missed (with
/// windows), and its received-set for the one-order check.
fn stay_ended(member: Member, shared: &Shared, stats: &RefCell<Totals>) {
    if let Some(w) = &member.window {
        let first_measured = shared.of_room(&shared.first_measured, member.room);
        let published = shared.of_room(&shared.published, member.room);
        shared
            .expected
            .fetch_add(w.expected(&first_measured, &published), Ordering::Relaxed);
        missing_by_second(&member, w, &first_measured, &published, shared, stats);
    } else if let Some(reader) = member.reader {
        reader_missing(&member, reader, shared, stats);
    }
    shared.order.ended(&member.order, member.seen);
}

/// Without windows, a stay lasts the whole run: its reader kind's missing deliveries are the
/// measured messages of its room it never got (the run's own count is by message slot; a
/// slot has a measured second once its message was sent after the warm-up).
fn reader_missing(member: &Member, reader: usize, shared: &Shared, stats: &RefCell<Totals>) {
    let mut missing = 0;
    for (sender, seen) in member.seen.iter().enumerate() {
        let sender = sender as u32;
        let mut seq = 0;
        while let Some(slot) = shared.index.slot(member.room, sender, seq) {
            let measured = shared.slot_second[slot].load(Ordering::Acquire) != u32::MAX;
            if measured && !seen.has(seq) {
                missing += 1;
            }
            seq += 1;
        }
    }
    Totals::part(&mut stats.borrow_mut().readers, reader).missing += missing;
}

/// The deliveries a stay should have had and never got, into the series by the second each
/// message was scheduled in.
fn missing_by_second(
    member: &Member,
    window: &Window,
    first_measured: &[u32],
    published: &[u32],
    shared: &Shared,
    stats: &RefCell<Totals>,
) {
    let mut stats = stats.borrow_mut();
    for (sender, seen) in member.seen.iter().enumerate() {
        for seq in window.range(sender, first_measured, published) {
            if seen.has(seq) {
                continue;
            }
            if let Some(second) = shared.second_of(member.room, sender as u32, seq) {
                stats.second(second).missing += 1;
                if let Some(reader) = member.reader {
                    Totals::part(&mut stats.readers, reader).missing += 1;
                }
                let stage = shared.index.stage_of_second(second);
                shared
                    .index
                    .count(&mut stats, member.room, stage, |p| p.missing += 1);
            }
        }
    }
}
