//! A worker thread: a single-threaded runtime driving its share of the connections.
//!
//! Each worker owns one [`Totals`] that its connection tasks share through an
//! `Rc<RefCell<..>>`: the tasks never run at the same time, so recording a delivery is a
//! plain increment and a histogram write, with no lock and no atomic.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::message::{self, Stamp};
use crate::opts::Arrival;
use crate::shared::{Schedule, Shared};
use crate::stats::{Order, Seen};
use crate::target::Target;
use run_result::Totals;
use run_result::histogram::record;

type Ws = WebSocketStream<TcpStream>;

/// One connection to open.
#[derive(Debug, Clone)]
pub struct ConnPlan {
    pub room: u32,
    pub room_name: String,
    /// Index among the room's senders, if this member sends.
    pub sender: Option<u32>,
    pub target: Target,
    pub source: Option<IpAddr>,
    /// Microseconds on the run clock when to connect.
    pub connect_at_us: u64,
}

/// How each sender paces itself.
#[derive(Debug, Clone)]
pub struct SendPlan {
    /// Messages per second per sender.
    pub rate: f64,
    pub arrival: Arrival,
    pub size: usize,
    pub seed: u64,
    /// Senders per room and rooms, to spread the first sends over one gap.
    pub senders: u32,
    pub rooms: u32,
}

#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub conns: Vec<ConnPlan>,
    pub send: SendPlan,
    pub connect_timeout: Duration,
}

/// Runs a worker to the end on the current thread and returns what it measured.
pub fn run(plan: WorkerPlan, shared: Arc<Shared>) -> std::io::Result<Totals> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    let stats = Rc::new(RefCell::new(Totals::default()));
    let plan = Rc::new(plan);
    local.block_on(&runtime, async {
        let tasks: Vec<_> = (0..plan.conns.len())
            .map(|i| {
                tokio::task::spawn_local(connection(
                    Rc::clone(&plan),
                    i,
                    Arc::clone(&shared),
                    Rc::clone(&stats),
                ))
            })
            .collect();
        for task in tasks {
            if task.await.is_err() {
                stats.borrow_mut().error("task panicked");
            }
        }
    });
    let stats = stats.borrow().clone();
    Ok(stats)
}

async fn connect(conn: &ConnPlan, timeout: Duration) -> Result<Ws, String> {
    let attempt = async {
        let socket = match conn.target.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| format!("socket: {}", e.kind()))?;
        if let Some(ip) = conn.source {
            socket
                .bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("bind source: {}", e.kind()))?;
        }
        let stream = socket
            .connect(conn.target.addr)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (ws, _) =
            client_async_with_config(conn.target.room_url(&conn.room_name), stream, Some(config))
                .await
                .map_err(|e| match e {
                    WsError::Http(response) => {
                        format!("handshake: HTTP {}", response.status().as_u16())
                    }
                    other => format!("handshake: {other}"),
                })?;
        Ok(ws)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err("handshake: timed out".into()))
}

async fn connection(
    plan: Rc<WorkerPlan>,
    index: usize,
    shared: Arc<Shared>,
    stats: Rc<RefCell<Totals>>,
) {
    let conn = &plan.conns[index];
    tokio::select! {
        () = tokio::time::sleep_until(shared.at(conn.connect_at_us).into()) => {}
        () = shared.finish.cancelled() => return,
    }
    let started = Instant::now();
    let ws = tokio::select! {
        ws = connect(conn, plan.connect_timeout) => ws,
        () = shared.finish.cancelled() => return,
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(kind) => {
            let mut s = stats.borrow_mut();
            s.connect_failed += 1;
            s.error(kind);
            shared.connect_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    {
        let mut s = stats.borrow_mut();
        record(&mut s.connect, started.elapsed().as_micros() as u64);
        s.connected += 1;
    }
    shared.members[conn.room as usize].fetch_add(1, Ordering::AcqRel);
    shared.connected.fetch_add(1, Ordering::Relaxed);

    let (sink, mut stream) = ws.split();
    // A sender's sink lives in its send task until the sending ends; a receiver keeps its own.
    let (own_sink, sender) = match conn.sender {
        Some(s) => (
            None,
            Some(tokio::task::spawn_local(send_loop(
                sink,
                conn.room,
                s,
                plan.send.clone(),
                Arc::clone(&shared),
                Rc::clone(&stats),
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

/// Sends a close frame and reads until the server ends the connection, so that the server
/// closes TCP first and the TIME_WAIT state stays on its side: a run that left thousands of
/// client ports in TIME_WAIT would slow the next run's connects (the kernel searches the
/// ephemeral range for a free port).
async fn close_gracefully(mut sink: SplitSink<Ws, Message>, mut stream: SplitStream<Ws>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if sink.send(Message::Close(None)).await.is_ok() {
            while let Some(Ok(_)) = stream.next().await {}
        }
    })
    .await;
}

/// Reads deliveries until the run finishes or the connection ends.
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
            s.error(error_kind(&e));
            Incoming::End
        }
        None => {
            s.error("connection ended without a close frame");
            Incoming::End
        }
    }
}

fn error_kind(e: &WsError) -> String {
    match e {
        WsError::Io(io) => format!("io: {}", io.kind()),
        WsError::Protocol(p) => format!("protocol: {p}"),
        WsError::Capacity(c) => format!("capacity: {c}"),
        WsError::Utf8(_) => "invalid UTF-8 from the server".into(),
        other => other.to_string(),
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
    s.delivered += 1;
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

/// Sends on schedule until the end of the run, then hands the sink back.
async fn send_loop(
    mut sink: SplitSink<Ws, Message>,
    room: u32,
    sender: u32,
    plan: SendPlan,
    shared: Arc<Shared>,
    stats: Rc<RefCell<Totals>>,
) -> Option<SplitSink<Ws, Message>> {
    let mut schedule_rx = shared.schedule.clone();
    let schedule: Schedule = loop {
        if let Some(s) = *schedule_rx.borrow_and_update() {
            break s;
        }
        tokio::select! {
            changed = schedule_rx.changed() => if changed.is_err() { return Some(sink) },
            () = shared.finish.cancelled() => return Some(sink),
        }
    };
    let gap_us = 1e6 / plan.rate;
    let mut rng = StdRng::seed_from_u64(plan.seed ^ (u64::from(room) << 32) ^ u64::from(sender));
    // Spread every sender of every room over the first gap so they do not fire together.
    let order = f64::from(sender) * f64::from(plan.rooms) + f64::from(room);
    let mut next = schedule.warmup_start_us as f64
        + gap_us * order / (f64::from(plan.senders) * f64::from(plan.rooms));
    let mut seq: u32 = 0;
    let finish = shared.finish.child_token();
    let finished = finish.cancelled();
    tokio::pin!(finished);
    loop {
        let at = next as u64;
        if at >= schedule.end_us {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(shared.at(at).into()) => {}
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
        if !warmup {
            let members = shared.members[room as usize].load(Ordering::Acquire);
            if let Some(slot) = shared.slot(room, sender, seq) {
                slot.store(members, Ordering::Release);
            }
            let mut s = stats.borrow_mut();
            s.sent += 1;
            s.expected += u64::from(members);
            let second = ((at - schedule.measure_start_us) / 1_000_000) as usize;
            s.second(second).sends += 1;
            shared.sent.fetch_add(1, Ordering::Relaxed);
            shared
                .expected
                .fetch_add(u64::from(members), Ordering::Relaxed);
        }
        if let Err(e) = sink
            .send(Message::text(message::encode(&stamp, plan.size)))
            .await
        {
            stats
                .borrow_mut()
                .error(format!("send: {}", error_kind(&e)));
            return None;
        }
        seq = seq.wrapping_add(1);
        next += match plan.arrival {
            Arrival::Fixed => gap_us,
            // Exponential gaps with mean `gap_us`: a Poisson process.
            Arrival::Poisson => -gap_us * (1.0 - rng.random::<f64>()).ln(),
        };
    }
    Some(sink)
}
