//! The channels_redis `RedisChannelLayer` format (Django's default, `shared/CHANNELS_REDIS.md`
//! section 3A), so reference nodes and the Django tutorial serve one room together.
//!
//! - This node is the channel-layer process `rustnode.<16 hex>!`; its queue is the sorted set
//!   `asgirustnode.<16 hex>!`. Each room with local members has one group member,
//!   `rustnode.<hex>!<room>`, in `asgi:group:chat_<room>` (ZADD + EXPIRE 86400 on join,
//!   refreshed every 10 minutes and after every reconnection; ZREM when the last member leaves).
//! - A message is sent as `group_send` does: prune, ZRANGE the group, one msgpack payload (with
//!   the 12-byte random prefix) per queue, added by the same Lua script with capacity 100 and
//!   expiry 60 s. Queues over capacity are skipped by that script, as in Django, and counted
//!   here in `chat_redis_over_capacity_total`.
//! - This node pops its queue with BZPOPMIN and delivers to the room named after the `!` of each
//!   member name; both `chat.message` and `chat_message` are accepted. A payload that does not
//!   decode is counted in `chat_redis_malformed_total` and skipped.
//! - Joins: a member joins inactive and is activated when a join marker (`layer::marker`),
//!   added to this node's own queue after the group membership is confirmed (score: after
//!   everything already queued), is popped again, so frames queued before the join are not
//!   delivered to it. Only this node pops its queue, so Django never sees a marker.
//! - Outages: as the native layer (`layer::native`): reconnect with backoff, `/healthz` 503,
//!   messages that cannot be sent reach this node's members only and are counted in
//!   `chat_redis_local_only_total`.
//! - Several hosts (`--layer redis://a,redis://b`, in the Django CONFIG order) are sharded as
//!   channels_redis shards them: a group on the host of its bare name (`chat_<room>`), a
//!   queue on the host of its non-local name (`rustnode.<hex>!`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::RoomName;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::layer::channels_codec;
use crate::layer::marker::{self, Markers};
use crate::layer::{ReadyFuture, RoomLayer};
use crate::metrics::Metrics;
use crate::rooms::{Frame, Member, Membership, Rooms};

const GROUP_EXPIRY: i64 = 86_400;
const EXPIRY: i64 = 60;
const CAPACITY: u32 = 100;
const REFRESH: Duration = Duration::from_secs(600);
const PUBLISH_QUEUE: usize = 65_536;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// BZPOPMIN's own timeout, short so shutdown is prompt.
const POP_WAIT_SECS: u64 = 1;
/// Messages taken per ZPOPMIN once a blocking pop returned: the queue's whole capacity.
const DRAIN_BATCH: usize = CAPACITY as usize;

/// channels_redis core.py, `group_send`'s script, unchanged.
const GROUP_SEND_LUA: &str = r#"
local over_capacity = 0
local current_time = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i=1,#KEYS do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"#;

/// Adds a join marker to a queue after everything in it (same clock as `group_send`'s scores,
/// but never before the last entry), with the queue's expiry.
const MARKER_LUA: &str = r#"
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local score = tonumber(ARGV[2])
if top[2] ~= nil and tonumber(top[2]) >= score then
    score = tonumber(top[2]) + 0.001
end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"#;

/// What the publisher task sends to Redis.
#[derive(Debug)]
enum Outgoing {
    Frame(RoomName, Frame),
    /// A join marker, to this node's own queue.
    Marker(u64),
}

enum Command {
    Join(RoomName, Option<oneshot::Sender<()>>),
    Release(RoomName),
    /// The receiver reached Redis (again): add every membership again, since a restarted
    /// Redis has lost them.
    Resync,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Join(r, _) => write!(f, "Join({r})"),
            Self::Release(r) => write!(f, "Release({r})"),
            Self::Resync => write!(f, "Resync"),
        }
    }
}

#[derive(Debug)]
struct Shared {
    /// The Redis hosts in CONFIG order: channels_redis shards over them by `shard`.
    clients: Vec<redis::Client>,
    /// `rustnode.<hex>!`
    node: String,
    rooms: Arc<Rooms>,
    markers: Arc<Markers>,
    /// One membership task per host; a room's commands go to its group's host.
    commands: Vec<mpsc::UnboundedSender<Command>>,
    connected: AtomicBool,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl Shared {
    fn member(&self, room: &RoomName) -> String {
        format!("{}{room}", self.node)
    }

    fn shard(&self, value: &str) -> usize {
        consistent_hash(value, self.clients.len())
    }

    /// Sends a room's command to the membership task of its group's host.
    fn command(&self, room: &RoomName, cmd: Command) {
        let _ = self.commands[self.shard(&group_name(room))].send(cmd);
    }

    fn deliver_locally(&self, room: &RoomName, frame: &Frame) {
        if self
            .rooms
            .deliver_to(room, frame)
            .is_some_and(|d| d.room_emptied)
        {
            self.command(room, Command::Release(room.clone()));
        }
    }
}

/// channels_redis `_consistent_hash` (utils.py): CRC-32 of the UTF-8 value, low 12 bits,
/// divided into `hosts` equal ranges, with the same float division and truncation.
pub fn consistent_hash(value: &str, hosts: usize) -> usize {
    if hosts <= 1 {
        return 0;
    }
    let bigval = crc32fast::hash(value.as_bytes()) & 0xFFF;
    let divisor = 4096.0 / hosts as f64;
    (f64::from(bigval) / divisor) as usize
}

fn group_name(room: &RoomName) -> String {
    format!("chat_{room}")
}

fn group_key(room: &RoomName) -> String {
    format!("asgi:group:{}", group_name(room))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The channels_redis layer (see the module documentation).
#[derive(Debug)]
pub struct ChannelsRedisLayer {
    shared: Arc<Shared>,
    publish: mpsc::Sender<Outgoing>,
}

impl ChannelsRedisLayer {
    /// `urls`: the Redis hosts, in the same order as the Django nodes' CONFIG `hosts`.
    pub fn start(
        urls: &[&str],
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let clients = urls
            .iter()
            .map(|url| redis::Client::open(*url).map_err(|e| anyhow::anyhow!("--layer {url}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (commands, receivers): (Vec<_>, Vec<_>) = (0..clients.len())
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let shared = Arc::new(Shared {
            clients,
            node: format!("rustnode.{:016x}!", rand::random::<u64>()),
            rooms: Arc::new(Rooms::new(Arc::clone(&metrics))),
            markers: Arc::new(Markers::default()),
            commands,
            connected: AtomicBool::new(false),
            metrics,
            shutdown,
        });
        for (shard, rx) in receivers.into_iter().enumerate() {
            tracker.spawn(membership(Arc::clone(&shared), shard, rx));
        }
        tracker.spawn(receiver(Arc::clone(&shared)));
        tracker.spawn(publisher(Arc::clone(&shared), publish_rx));
        Ok(Self { shared, publish })
    }
}

impl RoomLayer for ChannelsRedisLayer {
    fn join(&self, room: &RoomName, member: Member) -> Membership {
        let membership = self.shared.rooms.join_inactive(room, member);
        self.shared.command(room, Command::Join(room.clone(), None));
        membership
    }

    fn leave(&self, membership: &Membership) {
        if self.shared.rooms.leave(membership) {
            let room = membership.room();
            self.shared.command(room, Command::Release(room.clone()));
        }
    }

    fn publish(&self, from: &Membership, frame: Frame) {
        let outgoing = Outgoing::Frame(from.room().clone(), frame);
        if let Err(e) = self.publish.try_send(outgoing) {
            if let Outgoing::Frame(room, frame) = e.into_inner() {
                self.shared.metrics.redis_local_only.inc();
                self.shared.deliver_locally(&room, &frame);
            }
        }
    }

    fn ready(&self, joined: &Membership) -> ReadyFuture {
        let (tx, rx) = oneshot::channel();
        let room = joined.room();
        self.shared
            .command(room, Command::Join(room.clone(), Some(tx)));
        let pending = self.shared.markers.register(joined.activator());
        let publish = self.publish.clone();
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + SUBSCRIBE_WAIT;
            let joined = matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(())));
            let sent = joined && publish.try_send(Outgoing::Marker(pending.seq())).is_ok();
            pending.finish(sent.then_some(deadline)).await;
        })
    }

    fn healthy(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
}

async fn connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> Option<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .ok()
}

async fn add_member(
    conn: &mut MultiplexedConnection,
    s: &Shared,
    room: &RoomName,
) -> redis::RedisResult<()> {
    redis::pipe()
        .cmd("ZADD")
        .arg(group_key(room))
        .arg(now())
        .arg(s.member(room))
        .ignore()
        .cmd("EXPIRE")
        .arg(group_key(room))
        .arg(GROUP_EXPIRY)
        .ignore()
        .query_async(conn)
        .await
}

/// Keeps this node's group memberships on one Redis host (the rooms whose group hashes to
/// it): add, refresh, remove.
async fn membership(s: Arc<Shared>, shard: usize, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut joined: HashSet<RoomName> = HashSet::new();
    let mut waiting: HashMap<RoomName, Vec<oneshot::Sender<()>>> = HashMap::new();
    let mut conn: Option<MultiplexedConnection> = None;
    let mut refresh = tokio::time::interval(REFRESH);
    let mut backoff = BACKOFF_MIN;
    loop {
        if conn.is_none() {
            conn = connect(&s.clients[shard], Duration::from_secs(2)).await;
            if let Some(c) = conn.as_mut() {
                // Memberships may have expired or Redis restarted empty: add them all again.
                let mut ok = true;
                for room in &joined {
                    ok &= add_member(c, &s, room).await.is_ok();
                }
                if !ok {
                    conn = None;
                } else {
                    backoff = BACKOFF_MIN;
                    for (_, ws) in waiting.drain() {
                        ws.into_iter().for_each(|w| {
                            let _ = w.send(());
                        });
                    }
                }
            }
        }
        let wait = if conn.is_some() {
            Duration::MAX
        } else {
            backoff
        };
        tokio::select! {
            () = s.shutdown.cancelled() => return,
            _ = refresh.tick() => {
                if let Some(c) = conn.as_mut() {
                    for room in &joined {
                        if add_member(c, &s, room).await.is_err() {
                            conn = None;
                            break;
                        }
                    }
                }
            }
            () = tokio::time::sleep(wait.min(BACKOFF_MAX)), if conn.is_none() => {
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Join(room, done) => {
                        let added = match conn.as_mut() {
                            Some(c) if !joined.contains(&room) => add_member(c, &s, &room).await.is_ok(),
                            Some(_) => true,
                            None => false,
                        };
                        joined.insert(room.clone());
                        match (added, done) {
                            (true, Some(done)) => { let _ = done.send(()); }
                            (false, Some(done)) => waiting.entry(room).or_default().push(done),
                            _ => {}
                        }
                        if !added {
                            conn = None;
                        }
                    }
                    Command::Resync => {
                        let ok = match conn.as_mut() {
                            Some(c) => {
                                let mut ok = true;
                                for room in &joined {
                                    ok &= add_member(c, &s, room).await.is_ok();
                                }
                                ok
                            }
                            None => false,
                        };
                        if !ok {
                            // Reconnect (and add them all) on the next turn.
                            conn = None;
                        }
                    }
                    Command::Release(room) => {
                        if s.rooms.member_count(&room) == 0 && joined.remove(&room) {
                            if let Some(c) = conn.as_mut() {
                                let removed: redis::RedisResult<()> = redis::cmd("ZREM")
                                    .arg(group_key(&room))
                                    .arg(s.member(&room))
                                    .query_async(c)
                                    .await;
                                if removed.is_err() {
                                    conn = None;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pops this node's queue and delivers to local members.
async fn receiver(s: Arc<Shared>) {
    let queue = format!("asgi{}", s.node);
    let mut backoff = BACKOFF_MIN;
    loop {
        let client = &s.clients[s.shard(&s.node)];
        let Some(mut conn) = connect(client, Duration::from_secs(POP_WAIT_SECS + 4)).await else {
            s.connected.store(false, Ordering::Relaxed);
            s.metrics.redis_connected.set(0);
            tokio::select! {
                () = s.shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
            continue;
        };
        backoff = BACKOFF_MIN;
        s.connected.store(true, Ordering::Relaxed);
        s.metrics.redis_connected.set(1);
        s.metrics.redis_connects.inc();
        tracing::info!(node = %s.node, "connected to Redis (channels_redis format)");
        for commands in &s.commands {
            let _ = commands.send(Command::Resync);
        }
        let mut pop = redis::cmd("BZPOPMIN");
        pop.arg(&queue).arg(POP_WAIT_SECS);
        // After a blocking pop, whatever else waits is drained in batches: the queue is shared
        // by every room of this node and a sender skips it once it holds CAPACITY messages, so
        // one round trip per message would let a burst fill it (CHANNELS_REDIS.md 3A (a) 2).
        let mut drain = redis::cmd("ZPOPMIN");
        drain.arg(&queue).arg(DRAIN_BATCH);
        loop {
            let popped = tokio::select! {
                () = s.shutdown.cancelled() => return,
                r = pop.query_async::<Option<(String, Vec<u8>, f64)>>(&mut conn) => r,
            };
            let result = match popped {
                Ok(None) => Ok(()),
                Ok(Some((_, payload, _))) => {
                    on_payload(&s, &payload);
                    drain_queue(&s, &drain, &mut conn).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "lost the Redis connection; reconnecting");
                break;
            }
        }
        s.connected.store(false, Ordering::Relaxed);
        s.metrics.redis_connected.set(0);
    }
}

/// Pops and delivers what is queued, [`DRAIN_BATCH`] at a time, until the queue is empty.
async fn drain_queue(
    s: &Shared,
    drain: &redis::Cmd,
    conn: &mut MultiplexedConnection,
) -> redis::RedisResult<()> {
    loop {
        let batch: Vec<(Vec<u8>, f64)> = drain.query_async(conn).await?;
        for (payload, _) in &batch {
            on_payload(s, payload);
        }
        if batch.len() < DRAIN_BATCH {
            return Ok(());
        }
    }
}

fn on_payload(s: &Shared, payload: &[u8]) {
    if std::str::from_utf8(payload).is_ok_and(|text| s.markers.on_text(text)) {
        return;
    }
    let decoded = match channels_codec::decode(payload) {
        Ok(d) => d,
        Err(e) => {
            s.metrics.redis_malformed.inc();
            tracing::debug!(error = %e, "malformed channel-layer message skipped");
            return;
        }
    };
    s.metrics.redis_received.inc();
    let frame = Utf8Bytes::from(decoded.frame);
    for name in &decoded.channels {
        if let Some(room) = name
            .strip_prefix(&s.node)
            .and_then(|r| RoomName::parse(r).ok())
        {
            s.deliver_locally(&room, &frame);
        }
    }
}

/// Sends each published frame as Django's `group_send` would.
async fn publisher(s: Arc<Shared>, mut queue: mpsc::Receiver<Outgoing>) {
    let script = redis::Script::new(GROUP_SEND_LUA);
    let marker_script = redis::Script::new(MARKER_LUA);
    let mut conns: Vec<Option<MultiplexedConnection>> = s.clients.iter().map(|_| None).collect();
    loop {
        let item = tokio::select! {
            () = s.shutdown.cancelled() => return,
            item = queue.recv() => match item { Some(i) => i, None => return },
        };
        if s.connected.load(Ordering::Relaxed) {
            for (conn, client) in conns.iter_mut().zip(&s.clients) {
                if conn.is_none() {
                    *conn = connect(client, Duration::from_millis(500)).await;
                }
            }
        }
        let (room, frame) = match item {
            Outgoing::Frame(room, frame) => (room, frame),
            Outgoing::Marker(seq) => {
                if send_marker(&mut conns, &s, &marker_script, seq)
                    .await
                    .is_err()
                {
                    // Not sent: its member is activated now (see `layer::marker`).
                    s.markers.arrived(seq);
                }
                continue;
            }
        };
        let sent = group_send(&mut conns, &s, &script, &room, &frame).await;
        match sent {
            Ok(over) => {
                s.metrics.redis_published.inc();
                if over > 0 {
                    s.metrics.redis_over_capacity.inc_by(over);
                }
            }
            Err(_) => {
                s.metrics.redis_local_only.inc();
                s.deliver_locally(&room, &frame);
            }
        }
    }
}

/// Adds join marker `seq` to this node's own queue, after everything already in it.
async fn send_marker(
    conns: &mut [Option<MultiplexedConnection>],
    s: &Shared,
    script: &redis::Script,
    seq: u64,
) -> Result<(), ()> {
    let shard = s.shard(&s.node);
    let conn = conns[shard].as_mut().ok_or(())?;
    let added: redis::RedisResult<i64> = script
        .key(format!("asgi{}", s.node))
        .arg(marker::text(seq))
        .arg(format!("{}", now()))
        .arg(EXPIRY)
        .invoke_async(conn)
        .await;
    if added.is_err() {
        conns[shard] = None;
        return Err(());
    }
    Ok(())
}

/// Sends `frame` as channels_redis `group_send` does, over the hosts. A failed host's
/// connection is dropped (reconnected on the next message). `Err(None)`: Redis failed;
/// `Err(Some(e))`: the frame cannot be encoded for Django.
async fn group_send(
    conns: &mut [Option<MultiplexedConnection>],
    s: &Shared,
    script: &redis::Script,
    room: &RoomName,
    frame: &Frame,
) -> Result<u64, Option<channels_codec::CodecError>> {
    let now = now();
    let group = group_key(room);
    let group_shard = s.shard(&group_name(room));
    let members: Vec<String> = {
        let conn = conns[group_shard].as_mut().ok_or(None)?;
        let result: redis::RedisResult<((), Vec<String>)> = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&group)
            .arg(0)
            .arg(now as i64 - GROUP_EXPIRY)
            .cmd("ZRANGE")
            .arg(&group)
            .arg(0)
            .arg(-1)
            .query_async(conn)
            .await;
        match result {
            Ok((_, members)) => members,
            Err(_) => {
                conns[group_shard] = None;
                return Err(None);
            }
        }
    };
    // One payload per queue (members sharing a process share its queue), each queue on the
    // host its non-local name hashes to.
    let mut by_shard: BTreeMap<usize, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for m in members {
        let non_local = match m.find('!') {
            Some(i) => m[..=i].to_owned(),
            None => m.clone(),
        };
        by_shard
            .entry(s.shard(&non_local))
            .or_default()
            .entry(format!("asgi{non_local}"))
            .or_default()
            .push(m);
    }
    let mut over = 0;
    for (shard, queues) in by_shard {
        let mut prune = redis::pipe();
        let mut invocation = script.prepare_invoke();
        let mut payloads = Vec::with_capacity(queues.len());
        for (key, names) in &queues {
            prune
                .cmd("ZREMRANGEBYSCORE")
                .arg(key)
                .arg(0)
                .arg(now as i64 - EXPIRY)
                .ignore();
            invocation.key(key);
            payloads.push(channels_codec::encode(frame.as_str(), names).map_err(Some)?);
        }
        for p in &payloads {
            invocation.arg(p.as_slice());
        }
        for _ in &queues {
            invocation.arg(CAPACITY);
        }
        invocation.arg(format!("{now}")).arg(EXPIRY);
        let conn = conns[shard].as_mut().ok_or(None)?;
        let sent: redis::RedisResult<u64> = async {
            prune.query_async::<()>(conn).await?;
            invocation.invoke_async(conn).await
        }
        .await;
        match sent {
            Ok(n) => over += n,
            Err(_) => {
                conns[shard] = None;
                return Err(None);
            }
        }
    }
    Ok(over)
}

#[cfg(test)]
mod tests {
    use super::consistent_hash;

    #[test]
    fn shards_like_channels_redis() {
        // CHANNELS_REDIS.md: crc32("chat_lobby") & 0xFFF = 2156, index 1 of 2;
        // "asgi__group__chat_lobby" is 305, index 0 of 2.
        assert_eq!(crc32fast::hash(b"chat_lobby") & 0xFFF, 2156);
        assert_eq!(consistent_hash("chat_lobby", 2), 1);
        assert_eq!(crc32fast::hash(b"asgi__group__chat_lobby") & 0xFFF, 305);
        assert_eq!(consistent_hash("asgi__group__chat_lobby", 2), 0);
        assert_eq!(consistent_hash("anything", 1), 0);
        assert_eq!(
            consistent_hash("chat_lobby", 3),
            (2156.0 / (4096.0 / 3.0)) as usize
        );
    }
}
