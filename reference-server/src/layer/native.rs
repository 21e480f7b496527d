//! The native Redis layer: rooms span server processes through Redis pub/sub.
//!
//! One Redis channel per room (`<prefix>:room:<name>`); a node subscribes while it has local
//! members in the room. A published frame is the exact bytes every member receives, encoded
//! once by the publishing node. Every delivery, local ones included, comes back through the
//! room's channel, so all members of a room, on every node, see one order.
//!
//! Outage policy (Redis unreachable), decided and counted, never silent:
//! - the node keeps serving its WebSockets and keeps trying to reconnect, with backoff from
//!   100 ms to 5 s; `/healthz` answers 503 `degraded` and `chat_redis_connected` is 0;
//! - a message published while Redis cannot take it is delivered to this node's local members
//!   of the room only, and counted in `chat_redis_local_only_total`;
//! - on reconnection every room with local members is subscribed again; messages other nodes
//!   published meanwhile are not replayed (pub/sub keeps no history).
//! - a payload on a room channel that is not UTF-8 text is counted in
//!   `chat_redis_malformed_total` and skipped.
//!
//! Joins: a member joins inactive and is activated when a join marker (`layer::marker`),
//! published on this node's own channel `<prefix>:node:<16 hex>` after its room's subscription
//! is confirmed, comes back on the subscriber connection, so frames Redis took before the join
//! are not delivered to it.
//!
//! Queues: publishes go through a bounded queue (`PUBLISH_QUEUE`) to one publisher task; when
//! it is full the frame is delivered locally only and counted, like an outage. Subscription
//! changes go through an unbounded queue: there is at most one entry per join and per leave.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::RoomName;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::layer::marker::{self, Markers};
use crate::layer::{ReadyFuture, RoomLayer};
use crate::metrics::Metrics;
use crate::rooms::{Frame, Member, Membership, Rooms};

/// Frames waiting for the publisher task.
const PUBLISH_QUEUE: usize = 65_536;
/// Frames sent to Redis in one pipeline at most.
const PUBLISH_BATCH: usize = 256;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a publish (or a connection attempt for one) may take before the frames in it are
/// delivered locally only: the price of an outage is this much latency, once.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a handshake waits for its room's subscription before answering anyway.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

enum Command {
    /// Subscribe if needed; answer once the subscription is confirmed.
    Subscribe(RoomName, Option<oneshot::Sender<()>>),
    /// Unsubscribe if the room has no local member any more.
    Release(RoomName),
}

/// What the publisher task sends to Redis.
#[derive(Debug)]
enum Outgoing {
    Frame(RoomName, Frame),
    /// A join marker, to this node's own channel.
    Marker(u64),
}

/// The Redis layer (see the module documentation).
#[derive(Debug)]
pub struct NativeRedisLayer {
    shared: Arc<TaskShared>,
    publish: mpsc::Sender<Outgoing>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subscribe(r, _) => write!(f, "Subscribe({r})"),
            Self::Release(r) => write!(f, "Release({r})"),
        }
    }
}

impl NativeRedisLayer {
    /// Starts the subscriber and publisher tasks on `tracker`; they end with `shutdown`.
    pub fn start(
        url: &str,
        prefix: String,
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("--layer {url}: {e}"))?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let shared = Arc::new(TaskShared {
            client,
            node_channel: format!("{prefix}:node:{:016x}", rand::random::<u64>()),
            prefix,
            rooms: Arc::new(Rooms::new(Arc::clone(&metrics))),
            markers: Arc::new(Markers::default()),
            commands,
            connected: Arc::new(AtomicBool::new(false)),
            metrics,
            shutdown,
        });
        tracker.spawn(subscriber(Arc::clone(&shared), commands_rx));
        tracker.spawn(publisher(Arc::clone(&shared), publish_rx));
        Ok(Self { shared, publish })
    }
}

/// What the layer and its subscriber and publisher tasks share.
#[derive(Debug)]
struct TaskShared {
    client: redis::Client,
    prefix: String,
    /// This node's own channel, where its join markers travel.
    node_channel: String,
    rooms: Arc<Rooms>,
    markers: Arc<Markers>,
    /// To the subscriber task: joins, leaves, and rooms emptied by an eviction.
    commands: mpsc::UnboundedSender<Command>,
    /// True while the subscriber is connected.
    connected: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

fn channel(prefix: &str, room: &RoomName) -> String {
    format!("{prefix}:room:{room}")
}

impl RoomLayer for NativeRedisLayer {
    fn join(&self, room: &RoomName, member: Member) -> Membership {
        let membership = self.shared.rooms.join_inactive(room, member);
        let _ = self
            .shared
            .commands
            .send(Command::Subscribe(room.clone(), None));
        membership
    }

    fn leave(&self, membership: &Membership) {
        if self.shared.rooms.leave(membership) {
            let _ = self
                .shared
                .commands
                .send(Command::Release(membership.room().clone()));
        }
    }

    fn publish(&self, from: &Membership, frame: Frame) {
        let outgoing = Outgoing::Frame(from.room().clone(), frame);
        if let Err(e) = self.publish.try_send(outgoing) {
            // The publisher is behind or gone: this node's members still get it.
            if let Outgoing::Frame(room, frame) = e.into_inner() {
                self.shared.metrics.redis_local_only.inc();
                deliver_locally(&self.shared.rooms, &room, &frame, &self.shared.commands);
            }
        }
    }

    fn ready(&self, joined: &Membership) -> ReadyFuture {
        let (tx, rx) = oneshot::channel();
        let _ = self
            .shared
            .commands
            .send(Command::Subscribe(joined.room().clone(), Some(tx)));
        let pending = self.shared.markers.register(joined.activator());
        let publish = self.publish.clone();
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + SUBSCRIBE_WAIT;
            let subscribed = matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(())));
            let sent = subscribed && publish.try_send(Outgoing::Marker(pending.seq())).is_ok();
            pending.finish(sent.then_some(deadline)).await;
        })
    }

    fn healthy(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
}

/// Keeps one pub/sub connection: subscriptions follow local membership, messages are
/// delivered to local members; reconnects with backoff and subscribes again.
async fn subscriber(t: Arc<TaskShared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let (client, prefix, rooms, release) = (&t.client, &t.prefix, &t.rooms, &t.commands);
    let (connected, metrics, shutdown) = (&t.connected, &t.metrics, &t.shutdown);
    let (node_channel, markers) = (&t.node_channel, &t.markers);
    let mut wanted: HashSet<RoomName> = HashSet::new();
    let mut waiting: HashMap<RoomName, Vec<oneshot::Sender<()>>> = HashMap::new();
    let mut backoff = BACKOFF_MIN;
    let channel_prefix = format!("{prefix}:room:");
    loop {
        let pubsub = tokio::select! {
            () = shutdown.cancelled() => return,
            p = client.get_async_pubsub() => p,
        };
        let (mut sink, mut stream) = match pubsub {
            Ok(p) => p.split(),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "Redis unreachable");
                // Keep taking commands while waiting, so joins and leaves are not lost.
                let wait = tokio::time::sleep(backoff);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = &mut wait => break,
                        cmd = commands.recv() => match cmd {
                            Some(c) => note(c, &mut wanted, &mut waiting, rooms),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        // The stream is read by its own task, always: a subscription awaits its confirmation,
        // and if nothing drained the messages meanwhile the connection could stall.
        let reader = {
            let rooms = Arc::clone(rooms);
            let metrics = Arc::clone(metrics);
            let channel_prefix = channel_prefix.clone();
            let release = release.clone();
            let (node_channel, markers) = (node_channel.clone(), Arc::clone(markers));
            tokio::spawn(async move {
                while let Some(msg) = stream.next().await {
                    if msg.get_channel_name() == node_channel {
                        let text = std::str::from_utf8(msg.get_payload_bytes()).unwrap_or("");
                        markers.on_text(text);
                        continue;
                    }
                    on_message(&msg, &channel_prefix, &rooms, &metrics, &release);
                }
            })
        };
        // This node's own channel, then every room that has local members.
        let mut ok = sink.subscribe(node_channel).await.is_ok();
        for room in &wanted {
            if !ok {
                break;
            }
            ok = sink.subscribe(channel(prefix, room)).await.is_ok();
        }
        if !ok {
            reader.abort();
            continue;
        }
        for (_, waiters) in waiting.drain() {
            for w in waiters {
                let _ = w.send(());
            }
        }
        connected.store(true, Ordering::Relaxed);
        metrics.redis_connected.set(1);
        metrics.redis_connects.inc();
        backoff = BACKOFF_MIN;
        tracing::info!(rooms = wanted.len(), "connected to Redis");

        tokio::pin!(reader);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    reader.abort();
                    return;
                }
                // The reader ends when the connection does.
                _ = &mut reader => break,
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { return };
                    match cmd {
                        Command::Subscribe(room, done) => {
                            if !wanted.contains(&room) {
                                if sink.subscribe(channel(prefix, &room)).await.is_err() {
                                    wanted.insert(room.clone());
                                    if let Some(done) = done {
                                        waiting.entry(room).or_default().push(done);
                                    }
                                    reader.abort();
                                    break;
                                }
                                wanted.insert(room);
                            }
                            if let Some(done) = done {
                                let _ = done.send(());
                            }
                        }
                        Command::Release(room) => {
                            if rooms.member_count(&room) == 0 && wanted.remove(&room)
                                && sink.unsubscribe(channel(prefix, &room)).await.is_err()
                            {
                                reader.abort();
                                break;
                            }
                        }
                    }
                }
            }
        }
        connected.store(false, Ordering::Relaxed);
        metrics.redis_connected.set(0);
        tracing::warn!("lost the Redis connection; reconnecting");
    }
}

fn note(
    cmd: Command,
    wanted: &mut HashSet<RoomName>,
    waiting: &mut HashMap<RoomName, Vec<oneshot::Sender<()>>>,
    rooms: &Rooms,
) {
    match cmd {
        Command::Subscribe(room, done) => {
            if let Some(done) = done {
                waiting.entry(room.clone()).or_default().push(done);
            }
            wanted.insert(room);
        }
        Command::Release(room) => {
            if rooms.member_count(&room) == 0 {
                wanted.remove(&room);
            }
        }
    }
}

fn on_message(
    msg: &redis::Msg,
    channel_prefix: &str,
    rooms: &Rooms,
    metrics: &Metrics,
    release: &mpsc::UnboundedSender<Command>,
) {
    let room = msg
        .get_channel_name()
        .strip_prefix(channel_prefix)
        .and_then(|r| RoomName::parse(r).ok());
    let frame = std::str::from_utf8(msg.get_payload_bytes())
        .ok()
        .map(|t| Utf8Bytes::from(t.to_owned()));
    let (Some(room), Some(frame)) = (room, frame) else {
        metrics.redis_malformed.inc();
        tracing::debug!(
            channel = msg.get_channel_name(),
            "malformed Redis message skipped"
        );
        return;
    };
    metrics.redis_received.inc();
    deliver_locally(rooms, &room, &frame, release);
}

/// Delivers to this node's members; a room whose last member was just evicted is released.
fn deliver_locally(
    rooms: &Rooms,
    room: &RoomName,
    frame: &Frame,
    release: &mpsc::UnboundedSender<Command>,
) {
    if rooms
        .deliver_to(room, frame)
        .is_some_and(|d| d.room_emptied)
    {
        let _ = release.send(Command::Release(room.clone()));
    }
}

/// Publishes queued frames in pipelines; a frame that cannot be published is delivered to the
/// local members only, and counted.
async fn publisher(t: Arc<TaskShared>, mut queue: mpsc::Receiver<Outgoing>) {
    let (client, prefix, rooms, release) = (&t.client, &t.prefix, &t.rooms, &t.commands);
    let (subscriber_connected, metrics, shutdown) = (&t.connected, &t.metrics, &t.shutdown);
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    let mut retry_at = tokio::time::Instant::now();
    loop {
        batch.clear();
        tokio::select! {
            () = shutdown.cancelled() => return,
            n = queue.recv_many(&mut batch, PUBLISH_BATCH) => if n == 0 { return },
        }
        // Retry at once when the subscriber has reached Redis again, else after a pause.
        let due =
            tokio::time::Instant::now() >= retry_at || subscriber_connected.load(Ordering::Relaxed);
        if connection.is_none() && due {
            match tokio::time::timeout(PUBLISH_TIMEOUT, client.get_multiplexed_async_connection())
                .await
            {
                Ok(Ok(c)) => connection = Some(c),
                _ => retry_at = tokio::time::Instant::now() + BACKOFF_MIN * 5,
            }
        }
        let sent = match connection.as_mut() {
            Some(c) => {
                let mut pipe = redis::pipe();
                for item in &batch {
                    match item {
                        Outgoing::Frame(room, frame) => {
                            pipe.publish(channel(prefix, room), frame.as_str())
                        }
                        Outgoing::Marker(seq) => pipe.publish(&t.node_channel, marker::text(*seq)),
                    }
                    .ignore();
                }
                match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(c)).await {
                    Ok(Ok(())) => true,
                    _ => {
                        connection = None;
                        retry_at = tokio::time::Instant::now() + BACKOFF_MIN;
                        false
                    }
                }
            }
            None => false,
        };
        for item in &batch {
            match item {
                Outgoing::Frame(..) if sent => {
                    metrics.redis_published.inc();
                }
                Outgoing::Frame(room, frame) => {
                    metrics.redis_local_only.inc();
                    deliver_locally(rooms, room, frame, release);
                }
                // Its member is activated when it comes back, or now if it was not sent.
                Outgoing::Marker(_) if sent => {}
                Outgoing::Marker(seq) => t.markers.arrived(*seq),
            }
        }
    }
}
