//! One user's socket: opened as loadgen opens its connections (`endpoint::connect`: TCP, TLS
//! for https hosts, then the upgrade), a reader task that timestamps every frame the moment it
//! arrives, and stamped sends. Stamps are loadgen's (the `stamp` crate): room, sender (the
//! goose user), sequence number, sent time in microseconds on this process's clock, so a
//! delivery from any user of this process is timed from its sender's send.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use endpoint::Endpoint;
use endpoint::connect::Ws;
use endpoint::tls::TlsClient;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use stamp::Stamp;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The process's clock: every stamp's microseconds count from here.
static CLOCK: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_us() -> u64 {
    CLOCK.elapsed().as_micros() as u64
}

/// Bytes of each message's text (the stamp and padding).
const MESSAGE_SIZE: usize = 64;
/// Arrivals a reader may hold before the user's next transaction takes them; more are
/// counted as dropped timings (the socket itself is still read).
const ARRIVALS: usize = 4096;

/// What the reader saw, timed when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The user's own message came back after `rtt`.
    Echo { seq: u32, rtt: Duration },
    /// Another member's message, `latency` after its sender sent it.
    FanOut { latency: Duration },
    /// A frame without a stamp of ours, or not JSON text.
    Foreign,
    /// The connection ended (`code`: the close code, if any).
    Closed { code: Option<u16> },
}

/// Why a socket could not be opened: `endpoint::connect`'s error (its `status()` is the HTTP
/// status of a refusal, for goose's status-code tables).
pub type SocketError = endpoint::connect::ConnectError;

/// An open socket of one user in one room.
#[derive(Debug)]
pub struct Socket {
    sink: SplitSink<Ws, Message>,
    arrivals: mpsc::Receiver<Arrival>,
    reader: tokio::task::JoinHandle<()>,
    room: u32,
    user: u32,
    next_seq: u32,
    /// Send times of this user's messages not yet echoed, by sequence number.
    pending: Arc<Mutex<HashMap<u32, Instant>>>,
    /// Arrivals the reader could not queue (the queue was full): counted, not timed.
    dropped: Arc<AtomicU64>,
}

impl Socket {
    /// Opens `path` on `endpoint` within `timeout`, over TLS with `tls` for an https host,
    /// offering permessage-deflate with `deflate`.
    pub async fn open(
        endpoint: &Endpoint,
        (tls, deflate): (Option<&TlsClient>, bool),
        path: &str,
        room: u32,
        user: u32,
        timeout: Duration,
    ) -> Result<Self, SocketError> {
        let request = endpoint::connect::Request {
            endpoint,
            source: None,
            path,
            headers: &[],
            tls,
            config: None,
            deflate,
            counters: None,
            slow: None,
            via: None,
        };
        let (ws, _) = endpoint::connect::open(request, timeout).await?;
        let (sink, stream) = ws.split();
        let (tx, arrivals) = mpsc::channel(ARRIVALS);
        let pending = Arc::new(Mutex::new(HashMap::new()));
        let dropped = Arc::new(AtomicU64::new(0));
        let reader = tokio::spawn(read(
            stream,
            tx,
            Target { room, user },
            Arc::clone(&pending),
            Arc::clone(&dropped),
        ));
        Ok(Self {
            sink,
            arrivals,
            reader,
            room,
            user,
            next_seq: 0,
            pending,
            dropped,
        })
    }

    /// Sends the next stamped message; returns its sequence number.
    pub async fn send(&mut self) -> Result<u32, String> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let sent_us = now_us();
        let frame = stamp::encode(
            &Stamp {
                room: self.room,
                sender: self.user,
                seq,
                scheduled_us: sent_us,
                sent_us,
                warmup: false,
                answers: None,
            },
            MESSAGE_SIZE,
        );
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(seq, Instant::now());
        self.sink
            .send(Message::text(frame))
            .await
            .map_err(|e| e.to_string())?;
        Ok(seq)
    }

    /// Waits until `arrival_of(seq)` or `wait` passes, handing every arrival to `each`.
    /// True when the echo of `seq` came.
    pub async fn until_echo(
        &mut self,
        seq: u32,
        wait: Duration,
        mut each: impl FnMut(Arrival),
    ) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.arrivals.recv()).await {
                Ok(Some(arrival)) => {
                    each(arrival);
                    if matches!(arrival, Arrival::Echo { seq: s, .. } if s == seq) {
                        return true;
                    }
                    if matches!(arrival, Arrival::Closed { .. }) {
                        return false;
                    }
                }
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Every arrival so far, without waiting.
    pub fn drain(&mut self, mut each: impl FnMut(Arrival)) {
        while let Ok(arrival) = self.arrivals.try_recv() {
            each(arrival);
        }
    }

    /// Closes with 1000 and waits (briefly) for the server's close, which answers ours and is
    /// not passed on; returns how many arrivals went untimed over the socket's life.
    pub async fn close(mut self, mut each: impl FnMut(Arrival)) -> u64 {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let close = CloseFrame {
                code: CloseCode::Normal,
                reason: "leaving".into(),
            };
            let _ = self.sink.send(Message::Close(Some(close))).await;
            while let Some(arrival) = self.arrivals.recv().await {
                if !matches!(arrival, Arrival::Closed { .. }) {
                    each(arrival);
                }
            }
        })
        .await;
        self.reader.abort();
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Whose socket a reader reads: its stamps say whether a message is its own.
#[derive(Debug, Clone, Copy)]
struct Target {
    room: u32,
    user: u32,
}

/// The reader task: times each frame as it arrives, whatever the user is doing.
async fn read(
    mut stream: SplitStream<Ws>,
    tx: mpsc::Sender<Arrival>,
    Target { room, user }: Target,
    pending: Arc<Mutex<HashMap<u32, Instant>>>,
    dropped: Arc<AtomicU64>,
) {
    while let Some(frame) = stream.next().await {
        let arrived = Instant::now();
        let arrived_us = now_us();
        let arrival = match frame {
            Ok(Message::Text(text)) => match stamp::decode(text.as_bytes()) {
                Some(s) if s.room == room && s.sender == user => {
                    let sent = pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&s.seq);
                    match sent {
                        Some(at) => Arrival::Echo {
                            seq: s.seq,
                            rtt: arrived.duration_since(at),
                        },
                        None => Arrival::Foreign,
                    }
                }
                Some(s) if s.room == room => Arrival::FanOut {
                    latency: Duration::from_micros(arrived_us.saturating_sub(s.sent_us)),
                },
                _ => Arrival::Foreign,
            },
            Ok(Message::Close(frame)) => Arrival::Closed {
                code: frame.map(|f| u16::from(f.code)),
            },
            Ok(_) => continue,
            Err(_) => Arrival::Closed { code: None },
        };
        let closed = matches!(arrival, Arrival::Closed { .. });
        // A full queue drops the timing (counted), never blocks the read.
        if tx.try_send(arrival).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        if closed {
            return;
        }
    }
    let _ = tx.try_send(Arrival::Closed { code: None });
}
