//! The channels_redis `RedisChannelLayer` format (Django's default, `docs/channels-redis.md`
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
//! - Joins: a member is activated when a join marker (`layer::marker`),
//!   added to this node's own queue after the group membership is confirmed (score: after
//!   everything already queued), is popped again, so frames queued before the join are not
//!   delivered to it. Only this node pops its queue, so Django never sees a marker.
//! - Outages: as every Redis format (`layer::redis_core`): reconnect with backoff, `/healthz`
//!   503, messages that cannot be sent reach this node's members only and are counted in
//!   `chat_redis_local_only_total`.
//! - Several hosts (`--layer redis://a,redis://b`, in the Django CONFIG order) are sharded as
//!   channels_redis shards them: a group on the host of its bare name (`chat_<room>`), a
//!   queue on the host of its non-local name (`rustnode.<hex>!`).
//!
//! Files: `membership` keeps the group memberships, `receiver` pops the node's queue,
//! `publisher` sends as `group_send` does, `codec` is the msgpack payload.

mod membership;
mod publisher;
mod receiver;

pub mod codec;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::RoomName;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Outage;
use crate::layer::redis_core::{Core, PUBLISH_QUEUE, RedisLayer, Subscriptions};
use crate::metrics::Metrics;
use crate::rooms::Rooms;

/// channels_redis's `group_expiry`: a group membership lives this long unless refreshed.
const GROUP_EXPIRY: i64 = 86_400;
/// channels_redis's `expiry`: a queued message is dropped after this long.
const EXPIRY: i64 = 60;
/// channels_redis's `capacity`: a sender skips a queue that holds this many messages.
const CAPACITY: u32 = 100;

/// What a membership task is asked to do.
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

/// The node's name and its hosts: how names map to keys and keys to hosts.
#[derive(Debug)]
struct Node {
    /// `rustnode.<hex>!`
    name: String,
    /// The Redis hosts in CONFIG order: channels_redis shards over them by `shard`.
    clients: Vec<redis::Client>,
}

impl Node {
    /// This node's group member name for `room`.
    fn member(&self, room: &RoomName) -> String {
        format!("{}{room}", self.name)
    }

    /// This node's queue (a sorted set).
    fn queue(&self) -> String {
        format!("asgi{}", self.name)
    }

    fn shard(&self, value: &str) -> usize {
        consistent_hash(value, self.clients.len())
    }
}

/// Room commands, each to the membership task of its group's host.
#[derive(Debug)]
struct Commands {
    node: Arc<Node>,
    senders: Vec<mpsc::UnboundedSender<Command>>,
}

impl Commands {
    fn send(&self, room: &RoomName, cmd: Command) {
        let _ = self.senders[self.node.shard(&group_name(room))].send(cmd);
    }

    /// Every membership task re-adds its memberships.
    fn resync(&self) {
        for s in &self.senders {
            let _ = s.send(Command::Resync);
        }
    }
}

impl Subscriptions for Arc<Commands> {
    fn want(&self, room: &RoomName, done: Option<oneshot::Sender<()>>) {
        self.send(room, Command::Join(room.clone(), done));
    }

    fn release(&self, room: &RoomName) {
        self.send(room, Command::Release(room.clone()));
    }
}

/// Starts the channels-format layer's tasks on `tracker`; `urls` are the Redis hosts, in the
/// same order as the Django nodes' CONFIG `hosts`.
pub fn start(
    urls: &[&str],
    outage: Outage,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> anyhow::Result<RedisLayer> {
    let clients = urls
        .iter()
        .map(|url| redis::Client::open(*url).map_err(|e| anyhow::anyhow!("--layer {url}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let node = Arc::new(Node {
        name: format!("rustnode.{:016x}!", rand::random::<u64>()),
        clients,
    });
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..node.clients.len())
        .map(|_| mpsc::unbounded_channel())
        .unzip();
    let commands = Arc::new(Commands {
        node: Arc::clone(&node),
        senders,
    });
    let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
    let core = Arc::new(Core::new(
        Box::new(Arc::clone(&commands)),
        outage,
        rooms,
        metrics,
        shutdown,
        publish.clone(),
    ));
    for (shard, rx) in receivers.into_iter().enumerate() {
        let task = membership::run(Arc::clone(&node), Arc::clone(&core), shard, rx);
        tracker.spawn(task);
    }
    tracker.spawn(receiver::run(
        Arc::clone(&node),
        Arc::clone(&core),
        commands,
    ));
    tracker.spawn(publisher::run(node, Arc::clone(&core), publish_rx));
    Ok(RedisLayer::new(core, publish))
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

/// Seconds since the epoch, as channels_redis scores and prunes by.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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

#[cfg(test)]
mod tests {
    use super::consistent_hash;

    #[test]
    fn shards_like_channels_redis() {
        // docs/channels-redis.md: crc32("chat_lobby") & 0xFFF = 2156, index 1 of 2;
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
