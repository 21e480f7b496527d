//! A `/ws/chat/<room>/` server with known, injected faults: the fixture that proves the
//! measurement tools right. With no fault set it is a plain, correct broadcast server.
//!
//! It shares no code with the reference server on purpose: a tool that measures the reference
//! server's own behaviour through the reference server's own code could hide a shared bug.
//! Used by the loadgen and conformance tests. [`Faults`] break it on purpose; a [`Style`]
//! varies it in ways that are still correct.

mod deflate;
mod drop;
mod faults;
mod handshake;
mod metrics;
mod room;
mod style;
mod writer;

pub use deflate::Deflate;
pub use faults::{Faults, KEPT_SOCKETS};
pub use style::Style;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// A frame for a member: when to write it, whether on the late lane (`interleave`,
/// `causal_skew`), and the bytes compressed once for the room (`Deflate::SharedContext`).
type Outgoing = (Instant, String, bool, Option<Arc<Vec<u8>>>);

type Outbox = mpsc::UnboundedSender<Outgoing>;

#[derive(Debug, Default)]
struct Rooms {
    next_id: u64,
    members: HashMap<String, Vec<(u64, Outbox)>>,
}

#[derive(Debug)]
struct State {
    faults: Faults,
    rooms: Mutex<Rooms>,
    rng: Mutex<StdRng>,
    /// Messages broadcast so far in each room (for `reorder`).
    count: Mutex<HashMap<String, u64>>,
    /// Cancelled when the server "dies".
    dead: CancellationToken,
    /// With `max_broadcasts_per_s`: the earliest time the next broadcast may go out.
    next_slot: Mutex<Option<Instant>>,
    /// With `replay_on_join`: each room's last messages.
    history: Mutex<HashMap<String, std::collections::VecDeque<String>>>,
    /// With `forget_idle`: when each member joined or last sent, by member id.
    last_sent: Mutex<HashMap<u64, Instant>>,
    /// The origin of `drop_window`.
    first_broadcast: drop::FirstBroadcast,
    /// With `Deflate::SharedContext`: each room's one compressor.
    room_deflate: Mutex<HashMap<String, flate2::Compress>>,
    /// With `one_writer`: held by a member's writer from the start of a broadcast's write to
    /// its end.
    write_lock: tokio::sync::Mutex<()>,
    /// With `keep_sockets`: a second descriptor of every accepted socket, never closed.
    kept: Mutex<Vec<std::net::TcpStream>>,
}

impl State {
    /// Member `id` joined or sent just now.
    fn heard_from(&self, id: u64) {
        if self.faults.forget_idle.is_some() {
            let mut last = self.last_sent.lock().unwrap_or_else(|p| p.into_inner());
            last.insert(id, Instant::now());
        }
    }

    /// Whether member `id` has been silent past `forget_idle`.
    fn forgotten(&self, id: u64) -> bool {
        let Some(idle) = self.faults.forget_idle else {
            return false;
        };
        let last = self.last_sent.lock().unwrap_or_else(|p| p.into_inner());
        last.get(&id).is_some_and(|t| t.elapsed() > idle)
    }
}

/// A running fault server; dropping it stops the listener.
#[derive(Debug)]
pub struct FaultServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    metrics: (SocketAddr, JoinHandle<()>),
}

impl FaultServer {
    /// `http://addr`, for `--target`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the process's figures are served (Prometheus text), for `--server-metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.metrics.0)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
        self.metrics.1.abort();
    }
}

/// Starts a server with `faults` on `127.0.0.1:0` in the current runtime.
pub async fn spawn(faults: Faults) -> std::io::Result<FaultServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
        faults,
        rooms: Mutex::new(Rooms::default()),
        count: Mutex::new(HashMap::new()),
        dead: CancellationToken::new(),
        next_slot: Mutex::new(None),
        history: Mutex::new(HashMap::new()),
        last_sent: Mutex::new(HashMap::new()),
        first_broadcast: drop::FirstBroadcast::default(),
        room_deflate: Mutex::new(HashMap::new()),
        write_lock: tokio::sync::Mutex::new(()),
        kept: Mutex::new(Vec::new()),
    });
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await?;
    let metrics = (
        metrics_listener.local_addr()?,
        tokio::spawn(metrics::serve(metrics_listener)),
    );
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = state.dead.cancelled() => return,
            };
            let Ok((stream, _)) = accepted else { return };
            let Ok(stream) = kept(&state, stream) else {
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let run: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
                    match state.faults.deflate {
                        Some(mode) => Box::pin(deflate::session(stream, Arc::clone(&state), mode)),
                        None => Box::pin(session(stream, Arc::clone(&state))),
                    };
                tokio::select! {
                    () = run => {}
                    () = state.dead.cancelled() => {}
                }
            });
        }
    });
    Ok(FaultServer {
        addr,
        task,
        metrics,
    })
}

/// With `keep_sockets`, a second descriptor of `stream` kept for good (up to
/// [`KEPT_SOCKETS`]).
fn kept(state: &State, stream: TcpStream) -> std::io::Result<TcpStream> {
    if !state.faults.keep_sockets {
        return Ok(stream);
    }
    let stream = stream.into_std()?;
    let mut kept = state.kept.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() < KEPT_SOCKETS {
        kept.push(stream.try_clone()?);
    }
    TcpStream::from_std(stream)
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let mut joined: Option<(String, u64)> = None;
    // The member joins before the 101 is written, as Django joins the group before it
    // accepts: a message sent once the client holds its 101 reaches it.
    let mut admit = |path: &str| {
        let now = state.faults.join_late.is_zero().then(|| tx.clone());
        let Some((room, id)) = crate::admit(&state, path, now) else {
            return false;
        };
        if state.faults.greet {
            let welcome = serde_json::json!({ "message": "welcome" }).to_string();
            let _ = tx.send((Instant::now(), welcome, false, None));
        }
        let history = state.history.lock().unwrap_or_else(|p| p.into_inner());
        for frame in history.get(&room).into_iter().flatten() {
            let _ = tx.send((Instant::now(), frame.clone(), false, None));
        }
        joined = Some((room, id));
        true
    };
    let accepted = handshake::accept(stream, &state.faults.style, &mut admit).await;
    if let (Some((room, id)), false) = (&joined, state.faults.join_late.is_zero()) {
        let (state, room, id, tx) = (Arc::clone(&state), room.clone(), *id, tx.clone());
        tokio::spawn(async move {
            tokio::time::sleep(state.faults.join_late).await;
            if tx.is_closed() {
                return;
            }
            let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
            join(&mut rooms, &room, id, tx);
        });
    }
    drop(tx);
    let Some((room, id)) = joined else { return };
    let Some(ws) = accepted else {
        leave(&state, &room, id);
        return;
    };
    let (sink, mut source) = ws.split();
    let spoke = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(writer::write(
        sink,
        rx,
        Arc::clone(&state),
        Arc::clone(&spoke),
    ));
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        spoke.store(true, Ordering::Relaxed);
        state.heard_from(id);
        let Some(frame) = broadcast_of(&state, &text) else {
            break;
        };
        broadcast(&state, &room, id, frame);
    }
    leave(&state, &room, id);
    writer.abort();
}

/// The frame a client's text is broadcast as, with the faults that change it; `None` ends
/// the session (not JSON, or no `message`).
fn broadcast_of(state: &State, text: &str) -> Option<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        if state.faults.die_on_bad_json {
            state.dead.cancel();
        }
        return None;
    };
    let payload = value.get("message")?;
    let payload = match (state.faults.truncate_over, payload.as_str()) {
        (Some(max), Some(text)) if text.chars().count() > max => {
            serde_json::Value::String(text.chars().take(max).collect())
        }
        _ => payload.clone(),
    };
    let payload = if state.faults.style.javascript_numbers {
        style::javascript_numbers(payload)
    } else {
        payload
    };
    let frame = serde_json::json!({ "message": &payload }).to_string();
    Some(if state.faults.mangle_non_ascii {
        frame
            .chars()
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect()
    } else {
        frame
    })
}

/// Admits a member of the room `path` names: its room and id, or `None` for no room. With an
/// `outbox` it joins the room now (without, `join_late` joins it later).
fn admit(state: &State, path: &str, outbox: Option<Outbox>) -> Option<(String, u64)> {
    let room = room::room_of(path, &state.faults)?;
    let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
    rooms.next_id += 1;
    let id = rooms.next_id;
    state.heard_from(id);
    if let Some(outbox) = outbox {
        join(&mut rooms, &room, id, outbox);
    }
    Some((room, id))
}

fn join(rooms: &mut Rooms, room: &str, id: u64, outbox: Outbox) {
    rooms
        .members
        .entry(room.to_owned())
        .or_default()
        .push((id, outbox));
}

fn leave(state: &State, room: &str, id: u64) {
    let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(members) = rooms.members.get_mut(room) {
        members.retain(|(m, _)| *m != id);
    }
    drop(rooms);
    let mut last = state.last_sent.lock().unwrap_or_else(|p| p.into_inner());
    last.remove(&id);
}

fn broadcast(state: &State, room: &str, from: u64, frame: String) {
    let held_back = state.faults.reorder && {
        let mut count = state.count.lock().unwrap_or_else(|p| p.into_inner());
        let n = count.entry(room.to_owned()).or_default();
        *n += 1;
        *n % 2 == 0
    };
    let mut at = Instant::now() + state.faults.delay;
    if let Some(per_s) = state.faults.max_broadcasts_per_s {
        let mut slot = state.next_slot.lock().unwrap_or_else(|p| p.into_inner());
        at = slot.map_or(at, |s| s.max(at));
        *slot = Some(at + Duration::from_secs_f64(1.0 / per_s));
    }
    if held_back {
        at += Duration::from_millis(50);
    }
    if state.faults.replay_on_join > 0 {
        let mut history = state.history.lock().unwrap_or_else(|p| p.into_inner());
        let kept = history.entry(room.to_owned()).or_default();
        kept.push_back(frame.clone());
        while kept.len() > state.faults.replay_on_join {
            kept.pop_front();
        }
    }
    let shared = (state.faults.deflate == Some(Deflate::SharedContext)).then(|| {
        let mut rooms = state.room_deflate.lock().unwrap_or_else(|p| p.into_inner());
        let compressor = rooms
            .entry(room.to_owned())
            .or_insert_with(deflate::compressor);
        Arc::new(deflate::compress(compressor, frame.as_bytes()))
    });
    let rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
    let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
    let cap = state.faults.room_cap.unwrap_or(usize::MAX);
    let size = rooms.members.get(room).map_or(0, Vec::len);
    let dropping = drop::dropping(&state.faults, size, &state.first_broadcast);
    let members = rooms
        .members
        .iter()
        .filter(|(name, _)| state.faults.leak_to_other_rooms || name.as_str() == room)
        .flat_map(|(_, members)| members.iter().take(cap));
    for (k, (id, outbox)) in members.enumerate() {
        if (state.faults.no_self_echo && *id == from) || state.forgotten(*id) {
            continue;
        }
        let at = at + state.faults.stagger * u32::try_from(k).unwrap_or(u32::MAX);
        // Rolled whether or not it may drop, so the other faults' dice fall as they would.
        let roll = rng.random::<f64>();
        if dropping && roll < state.faults.drop_rate {
            continue;
        }
        let late = (state.faults.interleave)
            .filter(|_| (id ^ from) & 1 == 1)
            .or(state.faults.causal_skew.filter(|_| (id + from) % 3 == 0));
        let at = at + late.unwrap_or_default();
        let late = late.is_some();
        let _ = outbox.send((at, frame.clone(), late, shared.clone()));
        if rng.random::<f64>() < state.faults.dup_rate {
            let _ = outbox.send((at, frame.clone(), late, shared.clone()));
        }
    }
}
