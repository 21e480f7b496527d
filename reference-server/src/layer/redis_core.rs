//! What the two Redis formats share: the [`RoomLayer`] itself ([`RedisLayer`]), the local
//! members, join markers, the publish queue and its outage fallback, the health flag, and the
//! reconnection backoff. A format supplies only how this node subscribes to a room
//! ([`Subscriptions`]) and its tasks (subscriber or receiver, publisher), which use [`Core`].
//!
//! Outage policy, the same for both formats, decided and counted, never silent:
//! - the node keeps serving its WebSockets and keeps trying to reconnect, with backoff from
//!   [`BACKOFF_MIN`] to [`BACKOFF_MAX`]; `/healthz` answers 503 `degraded` and
//!   `chat_redis_connected` is 0;
//! - a frame that cannot be published (Redis unreachable, or the publish queue full) is
//!   delivered to this node's local members of the room only, and counted in
//!   `chat_redis_local_only_total`;
//! - a join waits for its subscription and marker at most [`JOIN_WAIT`], then goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::RoomName;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::layer::marker::Markers;
use crate::layer::{ReadyFuture, RoomLayer};
use crate::metrics::Metrics;
use crate::rooms::{Frame, Member, Membership, Rooms};

/// Frames (and join markers) waiting for the publisher task. Policy when full: the frame is
/// delivered locally only and counted, like an outage; a marker is not sent and its member is
/// activated at once.
pub const PUBLISH_QUEUE: usize = 65_536;
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a handshake waits for its room's subscription and join marker.
pub const JOIN_WAIT: Duration = Duration::from_secs(2);

/// How a format makes this node receive a room's frames. Calls must not block: they queue a
/// command for the format's own task.
pub trait Subscriptions: Send + Sync + std::fmt::Debug + 'static {
    /// Receive `room`'s frames (idempotent); answer `done` once Redis has confirmed it.
    fn want(&self, room: &RoomName, done: Option<oneshot::Sender<()>>);
    /// `room` may have no local member any more: stop receiving it if so (the format checks
    /// [`Rooms::member_count`] when it gets to it, since someone may have joined since).
    fn release(&self, room: &RoomName);
}

/// What the publisher task sends to Redis.
#[derive(Debug)]
pub enum Outgoing {
    Frame(RoomName, Frame),
    /// A join marker (`layer::marker`), to this node's own channel or queue.
    Marker(u64),
}

/// The state a format's tasks share with the layer.
#[derive(Debug)]
pub struct Core {
    pub rooms: Rooms,
    pub markers: Arc<Markers>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    connected: AtomicBool,
    subscriptions: Box<dyn Subscriptions>,
}

impl Core {
    pub fn new(
        subscriptions: Box<dyn Subscriptions>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            rooms: Rooms::new(Arc::clone(&metrics)),
            markers: Arc::new(Markers::default()),
            metrics,
            shutdown,
            connected: AtomicBool::new(false),
            subscriptions,
        }
    }

    /// Delivers to this node's members; a room whose last member was just evicted is released.
    pub fn deliver_locally(&self, room: &RoomName, frame: &Frame) {
        if self
            .rooms
            .deliver_to(room, frame)
            .is_some_and(|d| d.room_emptied)
        {
            self.subscriptions.release(room);
        }
    }

    /// `item` could not go through Redis: a frame reaches this node's members only (counted),
    /// a marker's member is activated now.
    pub fn not_sent(&self, item: &Outgoing) {
        match item {
            Outgoing::Frame(room, frame) => {
                self.metrics.redis_local_only.inc();
                self.deliver_locally(room, frame);
            }
            Outgoing::Marker(seq) => self.markers.arrived(*seq),
        }
    }

    /// `item` went through Redis.
    pub fn sent(&self, item: &Outgoing) {
        if let Outgoing::Frame(..) = item {
            self.metrics.redis_published.inc();
        }
    }

    /// Whether the node's receiving connection is up (health, metrics, log).
    pub fn set_connected(&self, up: bool) {
        let was = self.connected.swap(up, Ordering::Relaxed);
        self.metrics.redis_connected.set(i64::from(up));
        if up {
            self.metrics.redis_connects.inc();
        } else if was {
            tracing::warn!("lost the Redis connection; reconnecting");
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// A room layer over Redis in either format (see the module documentation).
#[derive(Debug)]
pub struct RedisLayer {
    core: Arc<Core>,
    publish: mpsc::Sender<Outgoing>,
}

impl RedisLayer {
    /// The layer over `core`, whose publisher task reads the other end of `publish`.
    pub fn new(core: Arc<Core>, publish: mpsc::Sender<Outgoing>) -> Self {
        Self { core, publish }
    }
}

impl RoomLayer for RedisLayer {
    fn join(&self, room: &RoomName, member: Member) -> Membership {
        let membership = self.core.rooms.join_inactive(room, member);
        self.core.subscriptions.want(room, None);
        membership
    }

    fn leave(&self, membership: &Membership) {
        if self.core.rooms.leave(membership) {
            self.core.subscriptions.release(membership.room());
        }
    }

    fn publish(&self, from: &Membership, frame: Frame) {
        if let Err(e) = self
            .publish
            .try_send(Outgoing::Frame(from.room().clone(), frame))
        {
            // The publisher is behind or gone: this node's members still get it.
            self.core.not_sent(&e.into_inner());
        }
    }

    fn ready(&self, joined: &Membership) -> ReadyFuture {
        let (tx, rx) = oneshot::channel();
        self.core.subscriptions.want(joined.room(), Some(tx));
        let pending = self.core.markers.register(joined.activator());
        let publish = self.publish.clone();
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + JOIN_WAIT;
            let subscribed = matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(())));
            let sent = subscribed && publish.try_send(Outgoing::Marker(pending.seq())).is_ok();
            pending.finish(sent.then_some(deadline)).await;
        })
    }

    fn healthy(&self) -> bool {
        self.core.connected()
    }
}

/// Reconnection delays: [`BACKOFF_MIN`], doubling up to [`BACKOFF_MAX`], back to the minimum
/// after a success.
#[derive(Debug)]
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(BACKOFF_MIN)
    }
}

impl Backoff {
    /// The next delay; the one after is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }

    /// Sleeps the next delay; false if shutdown came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}
