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
use futures_util::stream::SplitStream;
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::connect::{Ws, close_gracefully, connect};
use crate::error::ConnError;
use crate::message;
use crate::pacer::Pacer;
use crate::plan::WorkerPlan;
use crate::send;
use crate::shared::Shared;
use crate::stats::{Order, Seen};
use run_result::Totals;
use run_result::histogram::record;

/// Runs a worker to the end on the current thread and returns what it measured.
pub fn run(plan: WorkerPlan, shared: Arc<Shared>) -> std::io::Result<Totals> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    let stats = Rc::new(RefCell::new(Totals::default()));
    let plan = Rc::new(plan);
    let name = std::thread::current()
        .name()
        .unwrap_or("loadgen")
        .to_owned();
    let pacer = Rc::new(Pacer::start(shared.clock, format!("{name}-pacer"))?);
    local.block_on(&runtime, async {
        let tasks: Vec<_> = (0..plan.conns.len())
            .map(|i| {
                tokio::task::spawn_local(connection(
                    Rc::clone(&plan),
                    i,
                    Arc::clone(&shared),
                    Rc::clone(&stats),
                    Rc::clone(&pacer),
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
    });
    let stats = stats.borrow().clone();
    Ok(stats)
}

async fn connection(
    plan: Rc<WorkerPlan>,
    index: usize,
    shared: Arc<Shared>,
    stats: Rc<RefCell<Totals>>,
    pacer: Rc<Pacer>,
) {
    let conn = &plan.conns[index];
    tokio::select! {
        () = tokio::time::sleep_until(shared.at(conn.connect_at_us).into()) => {}
        () = shared.finish.cancelled() => return,
    }
    let started = Instant::now();
    let ws = tokio::select! {
        ws = connect(conn, &plan.handshake, plan.connect_timeout) => ws,
        () = shared.finish.cancelled() => return,
    };
    let (ws, times) = match ws {
        Ok(ok) => ok,
        Err(e) => {
            stats.borrow_mut().error(e.to_string());
            shared.connect_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    {
        let mut stats = stats.borrow_mut();
        record(&mut stats.connect, started.elapsed().as_micros() as u64);
        record(&mut stats.tcp_connect, times.tcp_us);
        if let Some(tls_us) = times.tls_us {
            record(&mut stats.tls_handshake, tls_us);
        }
        record(&mut stats.upgrade, times.upgrade_us);
    }
    shared.members[conn.room as usize].fetch_add(1, Ordering::AcqRel);
    shared.connected.fetch_add(1, Ordering::Relaxed);

    let (sink, mut stream) = ws.split();
    // A sender's sink lives in its send task until the sending ends; a receiver keeps its own.
    let (own_sink, sender) = match conn.sender {
        Some(s) => (
            None,
            Some(tokio::task::spawn_local(send::send_loop(
                sink,
                conn.room,
                s,
                plan.send.clone(),
                Arc::clone(&shared),
                Rc::clone(&stats),
                pacer,
            ))),
        ),
        None => (Some(sink), None),
    };
    let open = receive_loop(&mut stream, conn.room, &shared, &stats).await;
    shared.members[conn.room as usize].fetch_sub(1, Ordering::AcqRel);
    let sink = match sender {
        Some(task) => task.await.ok().flatten(),
        None => own_sink,
    };
    if let (true, Some(sink)) = (open, sink) {
        close_gracefully(sink, stream).await;
    }
}

/// Reads deliveries until the run finishes (true: the connection is still open) or the
/// connection ends (false).
async fn receive_loop(
    stream: &mut SplitStream<Ws>,
    room: u32,
    shared: &Shared,
    stats: &RefCell<Totals>,
) -> bool {
    let mut seen: Vec<Seen> = vec![Seen::default(); shared.senders_per_room as usize];
    let mut schedule = shared.schedule.clone();
    let measure_start = loop {
        if let Some(s) = *schedule.borrow_and_update() {
            break s.measure_start_us;
        }
        // Nothing is sent before the schedule exists; wait for it or for the end.
        tokio::select! {
            changed = schedule.changed() => if changed.is_err() { return true },
            () = shared.finish.cancelled() => return true,
            // Nothing of ours is in flight yet: any text is foreign.
            frame = stream.next() => match classify(frame, stats) {
                Incoming::Text(_) => stats.borrow_mut().foreign += 1,
                Incoming::Other => {}
                Incoming::End => return false,
            },
        }
    };
    // Polling a token takes its node's lock: watch a child of the token every connection
    // shares, and make the future once, not per frame.
    let finish = shared.finish.child_token();
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        let frame = tokio::select! {
            biased;
            () = &mut finished => return true,
            frame = stream.next() => frame,
        };
        match classify(frame, stats) {
            Incoming::Text(text) => {
                deliver(
                    text.as_bytes(),
                    room,
                    measure_start,
                    shared,
                    &mut seen,
                    stats,
                );
            }
            Incoming::Other => {}
            Incoming::End => return false,
        }
    }
}

/// What a frame means to the receive loop.
enum Incoming {
    Text(Utf8Bytes),
    /// Pings, pongs, binary frames (counted as foreign): nothing to do.
    Other,
    /// The connection is over (close frame, error or end; already counted).
    End,
}

/// Sorts a frame, counting close codes, errors and foreign binary frames.
fn classify(frame: Option<Result<Message, WsError>>, stats: &RefCell<Totals>) -> Incoming {
    let mut s = stats.borrow_mut();
    match frame {
        Some(Ok(Message::Text(text))) => Incoming::Text(text),
        Some(Ok(Message::Close(f))) => {
            s.closed(f.map_or(1005, |f| u16::from(f.code)));
            Incoming::End
        }
        Some(Ok(Message::Binary(_))) => {
            s.foreign += 1;
            Incoming::Other
        }
        Some(Ok(_)) => Incoming::Other,
        Some(Err(e)) => {
            s.error(ConnError::Receive((&e).into()).to_string());
            Incoming::End
        }
        None => {
            s.error(ConnError::EndedWithoutClose.to_string());
            Incoming::End
        }
    }
}

/// The receive path: find the stamp, account for the delivery, record its latencies.
fn deliver(
    frame: &[u8],
    room: u32,
    measure_start: u64,
    shared: &Shared,
    seen: &mut [Seen],
    stats: &RefCell<Totals>,
) {
    let now = shared.now_us();
    let mut s = stats.borrow_mut();
    let Some(stamp) = message::decode(frame) else {
        s.foreign += 1;
        return;
    };
    if stamp.room != room {
        s.cross_room += 1;
        return;
    }
    let Some(seen) = seen.get_mut(stamp.sender as usize) else {
        s.foreign += 1;
        return;
    };
    if stamp.warmup {
        return;
    }
    match seen.mark(stamp.seq) {
        Order::Duplicate => {
            s.duplicates += 1;
            return;
        }
        Order::Reordered => s.reordered += 1,
        Order::InOrder => {}
    }
    shared.delivered.fetch_add(1, Ordering::Relaxed);
    let latency = now.saturating_sub(stamp.scheduled_us);
    record(&mut s.latency, latency);
    record(&mut s.latency_sent, now.saturating_sub(stamp.sent_us));
    let second = (now.saturating_sub(measure_start) / 1_000_000) as usize;
    let bucket = s.second(second);
    bucket.deliveries += 1;
    record(&mut bucket.latency, latency);
    if let Some(slot) = shared.slot(stamp.room, stamp.sender, stamp.seq) {
        if Shared::complete_one(slot) {
            record(&mut s.completion, latency);
        }
    }
}
