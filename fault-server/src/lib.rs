//! A `/ws/chat/<room>/` server with known, injected faults: the fixture that proves the
//! measurement tools right. With no fault set it is a plain, correct broadcast server.
//!
//! It shares no code with the reference server on purpose: a tool that measures the reference
//! server's own behaviour through the reference server's own code could hide a shared bug.
//! Used by the loadgen tests (`cargo test -p loadgen`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every delivery is held this long before it is written.
    pub delay: Duration,
    /// Probability that a delivery is dropped.
    pub drop_rate: f64,
    /// Probability that a delivery is written twice.
    pub dup_rate: f64,
    /// Seed for the dice.
    pub seed: u64,
}

type Outbox = mpsc::UnboundedSender<(Instant, String)>;

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
    });
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, Arc::clone(&state)));
        }
    });
    Ok(FaultServer { addr, task })
}

fn room_of(path: &str) -> Option<String> {
    let name = path.strip_prefix("/ws/chat/")?.strip_suffix('/')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let mut room = None;
    // The callback's error type is tungstenite's; it is never returned here.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| {
        room = room_of(req.uri().path());
        Ok(resp)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let Some(room) = room else { return };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, String)>();
    let id = {
        let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.next_id += 1;
        let id = rooms.next_id;
        rooms
            .members
            .entry(room.clone())
            .or_default()
            .push((id, tx));
        id
    };
    let writer = tokio::spawn(async move {
        while let Some((at, frame)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if sink.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            break;
        };
        let Some(payload) = value.get("message") else {
            break;
        };
        let frame = serde_json::json!({ "message": payload }).to_string();
        broadcast(&state, &room, frame);
    }
    {
        let mut rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(members) = rooms.members.get_mut(&room) {
            members.retain(|(m, _)| *m != id);
        }
    }
    writer.abort();
}

fn broadcast(state: &State, room: &str, frame: String) {
    let at = Instant::now() + state.faults.delay;
    let rooms = state.rooms.lock().unwrap_or_else(|p| p.into_inner());
    let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
    for (_, outbox) in rooms.members.get(room).into_iter().flatten() {
        if rng.random::<f64>() < state.faults.drop_rate {
            continue;
        }
        let _ = outbox.send((at, frame.clone()));
        if rng.random::<f64>() < state.faults.dup_rate {
            let _ = outbox.send((at, frame.clone()));
        }
    }
}
