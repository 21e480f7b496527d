//! A `/ws/chat/<room>/` server with known, injected faults: the fixture that proves the
//! measurement tools right. With no fault set it is a plain, correct broadcast server.
//!
//! It shares no code with the reference server on purpose: a tool that measures the reference
//! server's own behaviour through the reference server's own code could hide a shared bug.
//! Used by the loadgen and conformance tests. [`Faults`] break it on purpose; a [`Style`]
//! varies it in ways that are still correct.

mod drop;
mod handshake;
mod room;
mod style;

pub use style::Style;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every delivery is held this long before it is written.
    pub delay: Duration,
    /// A serial fan-out: the k-th member of a room (in join order, from 0) gets each
    /// delivery k times this later than the first.
    pub stagger: Duration,
    /// Probability that a delivery is dropped.
    pub drop_rate: f64,
    /// `drop_rate` applies only in rooms of more members than this.
    pub drop_over_members: Option<usize>,
    /// `drop_rate` applies only this long after the server's first broadcast, from the first
    /// time to the second.
    pub drop_window: Option<(Duration, Duration)>,
    /// Probability that a delivery is written twice.
    pub dup_rate: f64,
    /// Seed for the dice.
    pub seed: u64,
    /// The sender does not get its own message.
    pub no_self_echo: bool,
    /// Every message also goes to every member of every other room.
    pub leak_to_other_rooms: bool,
    /// Members disagree on how the senders' messages interleave, each sender's own order
    /// kept: a member gets the messages of a sender whose connection number has the other
    /// parity than its own this much later, on a lane of its own (so they are overtaken by
    /// the other senders' messages, never by their own sender's). Two members of different
    /// parity see two senders' messages sent within this time in opposite orders.
    pub interleave: Option<Duration>,
    /// Every other message of a room is held back 50 ms, so the room's next one, if it comes
    /// within 50 ms, overtakes it.
    pub reorder: bool,
    /// Characters outside ASCII become `?` in what is broadcast.
    pub mangle_non_ascii: bool,
    /// Text that is not JSON stops the whole server: listener and every connection.
    pub die_on_bad_json: bool,
    /// Any path is accepted as a room (the whole path is the room's name).
    pub accept_any_path: bool,
    /// Room names are folded to lower case.
    pub fold_case: bool,
    /// Rooms are keyed by the first this many characters of their names: rooms whose names
    /// share that prefix are one room (a key column cut short).
    pub room_prefix: Option<usize>,
    /// Rooms are hashed onto this many shared channels: rooms whose names fall in one
    /// bucket are one room (a fixed pool of pub/sub channels).
    pub room_buckets: Option<u64>,
    /// A member that has sent nothing for this long (since it joined or last sent) silently
    /// stops receiving: a presence TTL, as channels_redis's `group_expiry` set low.
    pub forget_idle: Option<Duration>,
    /// A message longer than this many characters is cut to it before the broadcast.
    pub truncate_over: Option<usize>,
    /// A known capacity: broadcasts (messages, whatever the room's size) are served one after
    /// another at most this many per second, as a single queue; above it latency grows
    /// without bound and nothing is lost.
    pub max_broadcasts_per_s: Option<f64>,
    /// A joining member is added to its room only this long after its 101 (a join race:
    /// messages sent right after the 101 miss it).
    pub join_late: Duration,
    /// A joining member first gets `{"message": "welcome"}`, which nobody sent (a greeting or
    /// presence frame: the server sends something else than the room's messages).
    pub greet: bool,
    /// A joining member first gets the room's last this many messages (history replayed:
    /// messages broadcast before it joined).
    pub replay_on_join: usize,
    /// Only a room's first this many members get its broadcasts; later joiners get nothing,
    /// silently (a capacity cap, as channels_redis's group sends drop members).
    pub room_cap: Option<usize>,
    /// Every connection is closed with 1012 ("service restart") this long after its 101,
    /// as when a node is rolled: clients must reconnect.
    pub kick_after: Option<Duration>,
    /// With `kick_after`, only connections that have sent no message are closed (a proxy
    /// that ends connections idle in the client's direction): senders stay, so what they
    /// send after the kick is lost to the listeners for good.
    pub kick_silent_only: bool,
    /// Not a fault: a valid way of framing and greeting (see [`Style`]).
    pub style: Style,
}

/// A frame for a member: when to write it, and whether on the late lane (`interleave`).
type Outgoing = (Instant, String, bool);

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
}

impl FaultServer {
    /// `http://addr`, for `--target`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
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
    });
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = state.dead.cancelled() => return,
            };
            let Ok((stream, _)) = accepted else { return };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                tokio::select! {
                    () = session(stream, Arc::clone(&state)) => {}
                    () = state.dead.cancelled() => {}
                }
            });
        }
    });
    Ok(FaultServer { addr, task })
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let mut joined: Option<(String, u64)> = None;
    // The member joins before the 101 is written, as Django joins the group before it
    // accepts: a message sent once the client holds its 101 reaches it.
    let mut admit = |path: &str| {
        let Some(room) = room::room_of(path, &state.faults) else {
            return false;
        };
        let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.next_id += 1;
        let id = rooms.next_id;
        state.heard_from(id);
        if state.faults.join_late.is_zero() {
            join(&mut rooms, &room, id, tx.clone());
        }
        if state.faults.greet {
            let welcome = serde_json::json!({ "message": "welcome" }).to_string();
            let _ = tx.send((Instant::now(), welcome, false));
        }
        let history = state.history.lock().unwrap_or_else(|p| p.into_inner());
        for frame in history.get(&room).into_iter().flatten() {
            let _ = tx.send((Instant::now(), frame.clone(), false));
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
    let writer = tokio::spawn(write(sink, rx, Arc::clone(&state), Arc::clone(&spoke)));
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

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// The member's writer: its broadcasts, each when its delay is up (in order, or with
/// `reorder` each on its own so a later, less delayed frame overtakes it), the style's
/// pings, and the kick (`kick_after`, sparing members that spoke with `kick_silent_only`).
async fn write(
    mut sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    state: Arc<State>,
    spoke: Arc<AtomicBool>,
) {
    let faults = &state.faults;
    let (ordered_tx, mut ordered) = mpsc::unbounded_channel::<String>();
    let reorder = faults.reorder;
    // With `interleave`, the late lane: in order among itself, overtaken by the other lane.
    let (late_tx, late_lane) = match faults.interleave {
        Some(_) => {
            let (tx, rx) = mpsc::unbounded_channel::<(Instant, String)>();
            let lane = tokio::spawn(in_order(rx, ordered_tx.clone()));
            (Some(tx), Some(lane))
        }
        None => (None, None),
    };
    let scheduler = tokio::spawn(async move {
        while let Some((at, frame, on_late_lane)) = rx.recv().await {
            if let (true, Some(late)) = (on_late_lane, &late_tx) {
                if late.send((at, frame)).is_err() {
                    break;
                }
            } else if reorder {
                let tx = ordered_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    let _ = tx.send(frame);
                });
            } else {
                tokio::time::sleep_until(at).await;
                if ordered_tx.send(frame).is_err() {
                    break;
                }
            }
        }
    });
    let mut pings = faults.style.ping_every.map(tokio::time::interval);
    let kick = async {
        match faults.kick_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
        if faults.kick_silent_only && spoke.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(kick);
    loop {
        let ping = async {
            match pings.as_mut() {
                Some(every) => every.tick().await,
                None => std::future::pending().await,
            }
        };
        let sent = tokio::select! {
            frame = ordered.recv() => match frame {
                Some(frame) => style::send(&mut sink, frame, &faults.style).await,
                None => break,
            },
            _ = ping => sink.send(Message::Ping("server".into())).await,
            () = &mut kick => {
                let close = CloseFrame {
                    code: CloseCode::Restart,
                    reason: "service restart".into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                break;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    scheduler.abort();
    if let Some(lane) = late_lane {
        lane.abort();
    }
}

/// Writes each frame of `rx` to `out` when its time is up, in the order they came.
async fn in_order(
    mut rx: mpsc::UnboundedReceiver<(Instant, String)>,
    out: mpsc::UnboundedSender<String>,
) {
    while let Some((at, frame)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if out.send(frame).is_err() {
            break;
        }
    }
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
        let late = state.faults.interleave.filter(|_| (id ^ from) & 1 == 1);
        let at = at + late.unwrap_or_default();
        let late = late.is_some();
        let _ = outbox.send((at, frame.clone(), late));
        if rng.random::<f64>() < state.faults.dup_rate {
            let _ = outbox.send((at, frame.clone(), late));
        }
    }
}
