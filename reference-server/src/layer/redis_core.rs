//! What the two Redis formats share: the [`RoomLayer`] itself ([`RedisLayer`]), the local
//! members, join markers, the publish queue and its outage fallback, the health flag, and the
//! reconnection backoff. A format supplies only how this node subscribes to a room
//! ([`Subscriptions`]) and its tasks (subscriber or receiver, publisher), which use [`Core`].
//!
//! Outage policy, the same for both formats, decided and counted, never silent:
//! - the node keeps serving its WebSockets and keeps trying to reconnect, with backoff from
//!   [`BACKOFF_MIN`] to [`BACKOFF_MAX`]; `/healthz` answers 503 `degraded` and
//!   `chat_redis_connected` is 0;
//! - a frame sent while Redis is unreachable, or before its room's subscription (group
//!   membership) is confirmed on the current connection, is published once the room is
//!   confirmed again (`layer::echo`): the members on other nodes get it late, not never.
//!   This node's members get it with everyone else, on its way back from Redis
//!   ([`Outage::Hold`], the default: the room keeps one order on every node, and its members
//!   here wait for Redis too), or at once ([`Outage::Local`]: this node's members can go on
//!   talking, and those of another node get the outage's frames after their own, so the
//!   two nodes disagree on the room's order);
//! - a publish that fails is deferred the same way;
//! - a frame that cannot go through Redis at all (the publish queue or the deferred frames
//!   full), or that was published and had not come back when the receiving connection was
//!   lost, reaches this node's members only and is counted in `chat_redis_local_only_total`:
//!   nothing is lost silently;
//! - a join waits for its subscription and marker at most [`JOIN_WAIT`], then goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::RoomName;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Outage;
use crate::frame::Frame;
use crate::layer::echo::{Echo, REJOIN_GRACE, Route};
use crate::layer::marker::Markers;
use crate::layer::{ReadyFuture, RoomLayer};
use crate::metrics::Metrics;
use crate::rooms::{Member, Membership, Rooms};

/// Frames (and join markers) waiting for the publisher task. Policy when full: the frame is
/// delivered locally only and counted, like an outage; a marker is not sent and its member is
/// activated at once.
pub const PUBLISH_QUEUE: usize = 65_536;
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two attempts: every node of a cluster is back within about this
/// long of Redis (plus [`CONNECT_TIMEOUT`]), which [`REJOIN_GRACE`] (the echo's) relies on.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// The longest a connection attempt to Redis may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
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
    /// A frame a member of this node sent.
    Frame(RoomName, Frame),
    /// A frame deferred while its room was not confirmed (`layer::echo`), now to be
    /// published.
    Deferred(RoomName, Frame),
    /// The room was confirmed: publish its deferred frames, if any are left.
    Flush(RoomName),
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
    /// When this node's members get a frame that could not be published yet.
    outage: Outage,
    /// The rooms received on the current connection; this node's frames on their way back.
    echo: Arc<Echo>,
    subscriptions: Box<dyn Subscriptions>,
    /// The publisher task's queue, for deferred frames.
    publish: mpsc::Sender<Outgoing>,
}

impl Core {
    pub fn new(
        subscriptions: Box<dyn Subscriptions>,
        outage: Outage,
        rooms: Rooms,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        publish: mpsc::Sender<Outgoing>,
    ) -> Self {
        Self {
            rooms,
            markers: Arc::new(Markers::default()),
            metrics,
            shutdown,
            connected: AtomicBool::new(false),
            outage,
            echo: Arc::default(),
            subscriptions,
            publish,
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
            Outgoing::Frame(room, frame) => self.local_only(room, frame),
            _ => self.publish_failed(item),
        }
    }

    /// Delivers `frame` here and counts it local-only.
    fn local_only(&self, room: &RoomName, frame: &Frame) {
        self.metrics.redis_local_only.inc();
        self.deliver_locally(room, frame);
    }

    /// Whether a frame that cannot be published yet reaches this node's members at once.
    fn deliver_now(&self) -> bool {
        self.outage == Outage::Local
    }

    /// What the publisher sends for `items`, in order: a member's frame goes through Redis
    /// only while this node receives its room on the current connection (after the room's
    /// deferred frames, and then it waits for its echo); if not, it is deferred (and with
    /// [`Outage::Local`] delivered here now), or, with too many waiting, delivered here only
    /// (counted). A flush becomes the room's deferred frames. Markers go as they are.
    pub fn prepare(&self, items: impl IntoIterator<Item = Outgoing>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let now = self.deliver_now();
        for item in items {
            match item {
                Outgoing::Frame(room, frame) => match self.echo.route(&room, &frame, now) {
                    Route::Publish(first) => {
                        out.extend(
                            first
                                .into_iter()
                                .map(|f| Outgoing::Deferred(room.clone(), f)),
                        );
                        out.push(Outgoing::Frame(room, frame));
                    }
                    Route::Defer if now => self.deliver_locally(&room, &frame),
                    Route::Defer => {}
                    Route::LocalOnly => self.local_only(&room, &frame),
                },
                Outgoing::Flush(room) => {
                    let frames = self.echo.take_deferred(&room);
                    out.extend(
                        frames
                            .into_iter()
                            .map(|f| Outgoing::Deferred(room.clone(), f)),
                    );
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Publishing `item` (as [`Self::prepare`] gave it) failed, so Redis did not take it: a
    /// frame is deferred again, to be published when its room is confirmed (with
    /// [`Outage::Local`] delivered here now, unless it was already); a marker's member is
    /// activated now.
    pub fn publish_failed(&self, item: &Outgoing) {
        match item {
            Outgoing::Frame(room, frame) | Outgoing::Deferred(room, frame) => {
                if self.echo.retry(room, frame, self.deliver_now()) == Some(true) {
                    self.deliver_locally(room, frame);
                }
            }
            Outgoing::Marker(seq) => self.markers.arrived(*seq),
            // Its deferred frames stay deferred until the next of the room's frames.
            Outgoing::Flush(_) => {}
        }
    }

    /// [`Self::publish_failed`] for items sent together, in order: each frame is deferred
    /// ahead of those deferred since, so the last goes first and the room's order holds.
    pub fn publish_failed_all(&self, items: &[Outgoing]) {
        for item in items.iter().rev() {
            self.publish_failed(item);
        }
    }

    /// Items whose publish timed out, so Redis may have taken them: frames stay in their
    /// lines as published (`Echo::back` delivers them on their echo, or here, counted
    /// local-only, when a later frame of the room comes back first); markers count as lost.
    pub fn publish_timed_out(&self, items: &[Outgoing]) {
        self.metrics.redis_publish_timeouts.inc();
        for item in items {
            if let Outgoing::Marker(_) = item {
                self.publish_failed(item);
            }
        }
    }

    /// `item` went through Redis.
    pub fn sent(&self, item: &Outgoing) {
        if let Outgoing::Frame(..) | Outgoing::Deferred(..) = item {
            self.metrics.redis_published.inc();
        }
    }

    /// A frame for `room` came from Redis: delivered to this node's members, unless it is
    /// one of this node's own deferred ones (delivered already). One of this node's own is
    /// counted as echoed, after any of its own that Redis skipped (delivered here first,
    /// counted local-only).
    pub fn received(&self, room: &RoomName, frame: &Frame) {
        let Some(back) = self.echo.back(room, frame) else {
            self.deliver_locally(room, frame);
            return;
        };
        for f in &back.skipped {
            self.local_only(room, f);
        }
        self.metrics.redis_echoed.inc();
        if !back.delivered {
            self.deliver_locally(room, frame);
        }
    }

    /// Redis acknowledged that this node receives `room` on the current connection: its
    /// frames go through Redis again, the deferred ones first (the publisher flushes them, in
    /// order with what the room's members send next).
    pub fn confirm(&self, room: &RoomName) {
        if self.echo.confirm(room) {
            // A full queue holds frames of the room that will flush them first.
            let _ = self.publish.try_send(Outgoing::Flush(room.clone()));
        }
    }

    /// This node no longer receives `room`: its deferred frames (wanted by nobody else that
    /// is known) are delivered here, unless they were already, and counted local-only.
    pub fn unconfirm(&self, room: &RoomName) {
        for (frame, delivered) in self.echo.unconfirm(room) {
            if delivered {
                self.metrics.redis_local_only.inc();
            } else {
                self.local_only(room, &frame);
            }
        }
    }

    /// Whether the node's receiving connection is up (health, metrics, log). On a loss, this
    /// node's frames that had not come back are delivered to its members (counted
    /// local-only), and every room must be confirmed again.
    pub fn set_connected(&self, up: bool) {
        if up && self.echo.reconnected() {
            // What was deferred, before the reconnection or during the grace, goes out once
            // every node is back (`REJOIN_GRACE`).
            let (echo, publish) = (Arc::clone(&self.echo), self.publish.clone());
            tokio::spawn(async move {
                tokio::time::sleep(REJOIN_GRACE).await;
                for room in echo.deferred_rooms() {
                    let _ = publish.try_send(Outgoing::Flush(room));
                }
            });
        }
        for (room, frame, delivered) in self.echo.connected(up) {
            if delivered {
                self.metrics.redis_local_only.inc();
            } else {
                self.local_only(&room, &frame);
            }
        }
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

    /// How many times the receiving connection was made: a publishing connection made
    /// before the latest may be to a Redis that has since restarted, and is made anew.
    pub fn epoch(&self) -> u64 {
        self.metrics.redis_connects.get()
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
        self.core.metrics.redis_frames.inc();
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

#[cfg(test)]
#[path = "redis_core_tests.rs"]
mod tests;
