//! The pub/sub Redis layer: rooms span server processes through Redis pub/sub, in this
//! server's own format or in channels_redis's `RedisPubSubChannelLayer` format
//! (`layer::pubsub::Wire`).
//!
//! One Redis channel per room (`<prefix>:room:<name>`, or Django's `asgi__group__chat_<name>`);
//! a node subscribes while it has local members in the room. A published frame is encoded
//! once by the publishing node (the exact bytes every member receives, or Django's msgpack
//! map). Every delivery, local ones included, comes back through the room's channel, so all
//! members of a room, on every node, see one order.
//!
//! Joins: a member is activated when a join marker (`layer::marker`), published on this
//! node's own channel (`Wire::node_channel`) after its room's subscription is confirmed,
//! comes back on the subscriber connection, so frames Redis took before the join are not
//! delivered to it.
//!
//! Outages: as every Redis format (`layer::redis_core`); on reconnection every room with local
//! members is subscribed again, and messages other nodes published meanwhile are not replayed
//! (pub/sub keeps no history). A room's frames go through Redis only once its subscription
//! is confirmed on the current connection (`layer::echo`). A payload on a room channel that is not UTF-8 text is counted
//! in `chat_redis_malformed_total` and skipped.
//!
//! Subscription changes go through an unbounded queue: there is at most one entry per join
//! and per leave.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::RoomName;
use redis::aio::PubSubSink;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Outage;
use crate::layer::marker;
use crate::layer::pubsub::Wire;
use crate::layer::redis_core::{
    BACKOFF_MIN, Backoff, CONNECT_TIMEOUT, Core, Outgoing, PUBLISH_QUEUE, RedisLayer, Subscriptions,
};
use crate::layer::resettable::Publishing;
use crate::metrics::Metrics;
use crate::rooms::Rooms;

/// Frames sent to Redis in one pipeline at most.
const PUBLISH_BATCH: usize = 256;
/// How long a publish (or a connection attempt for one) may take before the frames in it are
/// delivered locally only: the price of an outage is this much latency, once.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);

enum Command {
    /// Subscribe if needed; answer once the subscription is confirmed.
    Subscribe(RoomName, Option<oneshot::Sender<()>>),
    /// Unsubscribe if the room has no local member any more.
    Release(RoomName),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subscribe(r, _) => write!(f, "Subscribe({r})"),
            Self::Release(r) => write!(f, "Release({r})"),
        }
    }
}

/// Joins and leaves, to the subscriber task.
#[derive(Debug)]
struct Commands(mpsc::UnboundedSender<Command>);

impl Subscriptions for Commands {
    fn want(&self, room: &RoomName, done: Option<oneshot::Sender<()>>) {
        let _ = self.0.send(Command::Subscribe(room.clone(), done));
    }

    fn release(&self, room: &RoomName) {
        let _ = self.0.send(Command::Release(room.clone()));
    }
}

/// What the subscriber and publisher tasks share.
#[derive(Debug)]
struct Native {
    client: redis::Client,
    wire: Wire,
    /// This node's own channel, where its join markers travel.
    node_channel: String,
    core: Arc<Core>,
}

/// Starts the native layer's subscriber and publisher tasks on `tracker`; they end with
/// `shutdown`.
pub fn start(
    url: &str,
    wire: Wire,
    outage: Outage,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> anyhow::Result<RedisLayer> {
    let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("--layer {url}: {e}"))?;
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
    let core = Arc::new(Core::new(
        Box::new(Commands(commands)),
        outage,
        rooms,
        metrics,
        shutdown,
        publish.clone(),
    ));
    let native = Arc::new(Native {
        client,
        node_channel: wire.node_channel(),
        wire,
        core: Arc::clone(&core),
    });
    tracker.spawn(subscriber(Arc::clone(&native), commands_rx));
    tracker.spawn(publisher(native, publish_rx));
    Ok(RedisLayer::new(core, publish))
}

/// The rooms this node subscribes to, and the joins waiting for their subscription.
#[derive(Default)]
struct Wanted {
    wanted: HashSet<RoomName>,
    waiting: HashMap<RoomName, Vec<oneshot::Sender<()>>>,
}

/// Keeps one pub/sub connection: subscriptions follow local membership, messages are
/// delivered to local members; reconnects with backoff and subscribes again.
async fn subscriber(n: Arc<Native>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let core = &n.core;
    let mut subs = Wanted::default();
    let mut backoff = Backoff::default();
    loop {
        let pubsub = tokio::select! {
            () = core.shutdown.cancelled() => return,
            p = tokio::time::timeout(CONNECT_TIMEOUT, n.client.get_async_pubsub()) => p,
        };
        let pubsub = match pubsub {
            Ok(Ok(p)) => p,
            failed => {
                match failed {
                    Ok(Err(e)) => tracing::warn!(error = %e, "Redis unreachable"),
                    _ => tracing::warn!(timeout = ?CONNECT_TIMEOUT, "Redis did not answer"),
                }
                let delay = backoff.next_delay();
                if !wait_taking_commands(delay, core, &mut commands, &mut subs).await {
                    return;
                }
                continue;
            }
        };
        let (mut sink, stream) = pubsub.split();
        // The stream is read by its own task, always: a subscription awaits its confirmation,
        // and if nothing drained the messages meanwhile the connection could stall.
        let reader = tokio::spawn(read(Arc::clone(&n), stream));
        if !subscribe_all(&n, &mut sink, &mut subs).await {
            reader.abort();
            if !backoff.wait(&core.shutdown).await {
                return;
            }
            continue;
        }
        backoff.reset();
        tracing::info!(rooms = subs.wanted.len(), "connected to Redis");
        let go_on = serve(&n, &mut sink, reader, &mut commands, &mut subs).await;
        core.set_connected(false);
        if !go_on {
            return;
        }
    }
}

/// Waits `delay` before the next connect, taking commands meanwhile so that joins and leaves
/// are not lost; false on shutdown.
async fn wait_taking_commands(
    delay: Duration,
    core: &Core,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    subs: &mut Wanted,
) -> bool {
    let wait = tokio::time::sleep(delay);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            () = core.shutdown.cancelled() => return false,
            () = &mut wait => return true,
            cmd = commands.recv() => match cmd {
                Some(c) => note(c, subs, core),
                None => return false,
            },
        }
    }
}

/// On a new connection: this node's own channel, then every room that has local members;
/// then the waiting joins are let go and the rooms confirmed. False if a subscribe failed.
async fn subscribe_all(n: &Native, sink: &mut PubSubSink, subs: &mut Wanted) -> bool {
    if sink.subscribe(&n.node_channel).await.is_err() {
        return false;
    }
    for room in &subs.wanted {
        if sink.subscribe(n.wire.room_channel(room)).await.is_err() {
            return false;
        }
    }
    for (_, waiters) in subs.waiting.drain() {
        for w in waiters {
            let _ = w.send(());
        }
    }
    n.core.set_connected(true);
    for room in &subs.wanted {
        n.core.confirm(room);
    }
    true
}

/// Follows local membership on a live connection until it fails (true: connect again) or
/// the node shuts down (false).
async fn serve(
    n: &Native,
    sink: &mut PubSubSink,
    reader: tokio::task::JoinHandle<()>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    subs: &mut Wanted,
) -> bool {
    tokio::pin!(reader);
    loop {
        tokio::select! {
            () = n.core.shutdown.cancelled() => {
                reader.abort();
                return false;
            }
            // The reader ends when the connection does.
            _ = &mut reader => return true,
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return false };
                if !follow(n, sink, cmd, subs).await {
                    reader.abort();
                    return true;
                }
            }
        }
    }
}

/// One join or leave on a live connection; false when Redis refused it.
async fn follow(n: &Native, sink: &mut PubSubSink, cmd: Command, subs: &mut Wanted) -> bool {
    let core = &n.core;
    match cmd {
        Command::Subscribe(room, done) if subs.wanted.contains(&room) => {
            done.map(|d| d.send(()));
            true
        }
        Command::Subscribe(room, done) => {
            let ok = sink.subscribe(n.wire.room_channel(&room)).await.is_ok();
            if ok {
                core.confirm(&room);
            }
            match done {
                Some(d) if ok => {
                    let _ = d.send(());
                }
                Some(d) => subs.waiting.entry(room.clone()).or_default().push(d),
                None => {}
            }
            subs.wanted.insert(room);
            ok
        }
        Command::Release(room) => {
            let gone = core.rooms.member_count(&room) == 0 && subs.wanted.remove(&room);
            if gone {
                core.unconfirm(&room);
            }
            !(gone && sink.unsubscribe(n.wire.room_channel(&room)).await.is_err())
        }
    }
}

/// Delivers what the subscriber connection brings: join markers on this node's own channel,
/// frames on room channels.
async fn read(n: Arc<Native>, mut stream: redis::aio::PubSubStream) {
    while let Some(msg) = stream.next().await {
        if msg.get_channel_name() == n.node_channel {
            n.core.markers.on_payload(msg.get_payload_bytes());
            continue;
        }
        on_message(&msg, &n.wire, &n.core);
    }
}

/// Records a command while Redis is unreachable, to be carried out on reconnection.
fn note(cmd: Command, subs: &mut Wanted, core: &Core) {
    match cmd {
        Command::Subscribe(room, done) => {
            if let Some(done) = done {
                subs.waiting.entry(room.clone()).or_default().push(done);
            }
            subs.wanted.insert(room);
        }
        Command::Release(room) => {
            if core.rooms.member_count(&room) == 0 {
                subs.wanted.remove(&room);
            }
        }
    }
}

fn on_message(msg: &redis::Msg, wire: &Wire, core: &Core) {
    let room = wire.room_of(msg.get_channel_name());
    let frame = wire.frame(msg.get_payload_bytes());
    let (Some(room), Some(frame)) = (room, frame) else {
        core.metrics.redis_malformed.inc();
        tracing::debug!(
            channel = msg.get_channel_name(),
            "malformed Redis message skipped"
        );
        return;
    };
    core.metrics.redis_received.inc();
    core.received(&room, &frame);
}

/// Whether a pipeline went through.
enum Sent {
    Yes,
    /// Refused, or never sent.
    No,
    /// Timed out: taken or not, unknown.
    Maybe,
}

/// Publishes queued frames and markers in pipelines. A pipeline Redis refused, or that could
/// not be sent, is deferred again (its frames in order). One that timed out may have been
/// taken: its frames stay in their lines as published (`layer::echo`): their echo delivers
/// them; if a later frame of the room comes back first, they were not taken and are delivered
/// here, counted local-only. Never published twice.
async fn publisher(n: Arc<Native>, mut queue: mpsc::Receiver<Outgoing>) {
    let core = &n.core;
    let mut connection: Option<Publishing> = None;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    let mut retry_at = tokio::time::Instant::now();
    let mut epoch = 0;
    loop {
        batch.clear();
        tokio::select! {
            () = core.shutdown.cancelled() => return,
            got = queue.recv_many(&mut batch, PUBLISH_BATCH) => if got == 0 { return },
        }
        // A connection made before the subscriber's latest reconnection may be to a Redis
        // that restarted since: made anew.
        if epoch != core.epoch() {
            connection = None;
        }
        // Retry at once when the subscriber has reached Redis again, else after a pause.
        let due = tokio::time::Instant::now() >= retry_at || core.connected();
        if connection.is_none() && due {
            epoch = core.epoch();
            let connect = Publishing::open(&n.client);
            match tokio::time::timeout(PUBLISH_TIMEOUT, connect).await {
                Ok(Ok(c)) => connection = Some(c),
                _ => retry_at = tokio::time::Instant::now() + BACKOFF_MIN * 5,
            }
        }
        // Frames of rooms not received on the current connection are delivered here and
        // deferred; deferred ones of rooms confirmed again go first.
        let items = core.prepare(batch.drain(..));
        if items.is_empty() {
            continue;
        }
        let sent = match connection.as_mut().map(|p| &mut p.conn) {
            Some(c) => {
                let mut pipe = redis::pipe();
                for item in &items {
                    match item {
                        Outgoing::Frame(room, frame) | Outgoing::Deferred(room, frame) => {
                            match n.wire.payload(frame) {
                                Ok(payload) => pipe.publish(n.wire.room_channel(room), payload),
                                // Deeper than any frame a member can send; it never comes
                                // back, and a later frame of the room hands it over
                                // (local-only).
                                Err(e) => {
                                    tracing::warn!(error = %e, "frame not publishable");
                                    continue;
                                }
                            }
                        }
                        Outgoing::Marker(seq) => pipe.publish(&n.node_channel, marker::text(*seq)),
                        // `prepare` turned flushes into frames.
                        Outgoing::Flush(_) => continue,
                    }
                    .ignore();
                }
                match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(c)).await {
                    Ok(Ok(())) => Sent::Yes,
                    done => {
                        connection = None;
                        retry_at = tokio::time::Instant::now() + BACKOFF_MIN;
                        match done {
                            Ok(Err(e)) if !e.is_timeout() => Sent::No,
                            _ => Sent::Maybe,
                        }
                    }
                }
            }
            None => Sent::No,
        };
        match sent {
            Sent::Yes => items.iter().for_each(|item| core.sent(item)),
            Sent::No => core.publish_failed_all(&items),
            Sent::Maybe => core.publish_timed_out(&items),
        }
    }
}
