//! Fan-out: who is in which room, and how a broadcast frame reaches each member.
//!
//! Sessions see only [`ChannelLayer`]: join a room, publish a frame to it, leave it. The
//! in-memory [`LocalLayer`] delivers directly; a layer spanning several processes (Redis) can
//! implement the same trait and reuse [`Rooms`] for its local members.
//!
//! Queue policy: every member has a queue bounded in bytes ([`crate::queue`]). A publish never
//! waits. When a member's queue refuses a frame (its own bound, or the server's memory
//! budget), the member is removed from the room at once, its eviction token is cancelled (its
//! session closes the socket with 1013), and `slow_member_closes` (or `memory_budget_closes`)
//! is counted.
//! Nobody is skipped silently: a member either gets every frame of the room, in the room's one
//! order, or is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::RoomName;
use tokio_util::sync::CancellationToken;

use crate::budget::MemoryBudget;
use crate::metrics::Metrics;
use crate::queue::{QueueReceiver, QueueSender, Refused, queue};

pub use crate::queue::Frame;

/// The receiving end a session drains.
pub type FrameReceiver = QueueReceiver;

/// A member as the fan-out sees it: where its frames go and how to tell it it was evicted.
#[derive(Debug)]
pub struct Member {
    tx: QueueSender,
    evicted: CancellationToken,
}

impl Member {
    /// A member with a queue of `queue_bytes` within `budget`; returns the receiver its
    /// session drains and the token cancelled when it is evicted.
    pub fn new(
        queue_bytes: usize,
        budget: Arc<MemoryBudget>,
    ) -> (Self, FrameReceiver, CancellationToken) {
        let (tx, rx) = queue(queue_bytes, budget);
        let evicted = CancellationToken::new();
        (
            Self {
                tx,
                evicted: evicted.clone(),
            },
            rx,
            evicted,
        )
    }
}

/// A session's place in a room, returned by [`ChannelLayer::join`].
#[derive(Debug)]
pub struct Membership {
    room: Arc<Room>,
    id: u64,
}

impl Membership {
    pub fn room(&self) -> &RoomName {
        &self.room.name
    }
}

/// The interface between WebSocket sessions and whatever carries frames between members.
pub trait ChannelLayer: Send + Sync + std::fmt::Debug + 'static {
    /// Adds `member` to `room`, creating the room if needed.
    fn join(&self, room: &RoomName, member: Member) -> Membership;
    /// Removes the member; the room disappears with its last member. Idempotent.
    fn leave(&self, membership: &Membership);
    /// Sends `frame` to every member of the membership's room, the sender included.
    fn publish(&self, from: &Membership, frame: Frame);
    /// Resolves when a member who just joined `room` is reachable from every node (a
    /// cross-process layer subscribes first). The handshake waits for it before its 101.
    fn reachable(&self, _room: &RoomName) -> ReadyFuture {
        Box::pin(std::future::ready(()))
    }
    /// False while the layer cannot reach other nodes (the health check says so).
    fn healthy(&self) -> bool {
        true
    }
}

/// See [`ChannelLayer::reachable`].
pub type ReadyFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Members closed because their queue was full or the memory budget exhausted.
    pub evicted: usize,
    /// The room lost its last member here.
    pub room_emptied: bool,
}

/// A room's members. A std `Mutex`, because nothing awaits while it is held and the critical
/// section is a loop of `try_send`s; holding it for a whole publish is what gives every member
/// the same order.
#[derive(Debug)]
struct Room {
    name: RoomName,
    members: Mutex<Vec<(u64, Member)>>,
}

/// The in-process registry of rooms and members.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<HashMap<RoomName, Arc<Room>>>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (each update is a
    // single push, removal or insert), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Rooms {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            metrics,
        }
    }

    /// Adds a member. The registry lock is held while the member is pushed so that a room
    /// being removed by its last leaver cannot be joined after it is gone.
    pub fn join(&self, room: &RoomName, member: Member) -> Membership {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut rooms = lock(&self.rooms);
        let entry = rooms.entry(room.clone()).or_insert_with(|| {
            self.metrics.rooms.inc();
            Arc::new(Room {
                name: room.clone(),
                members: Mutex::new(Vec::new()),
            })
        });
        lock(&entry.members).push((id, member));
        Membership {
            room: Arc::clone(entry),
            id,
        }
    }

    /// Removes the member; true when its room went away with it.
    pub fn leave(&self, membership: &Membership) -> bool {
        let mut rooms = lock(&self.rooms);
        let now_empty = {
            let mut members = lock(&membership.room.members);
            if let Some(i) = members.iter().position(|(id, _)| *id == membership.id) {
                members.swap_remove(i);
            }
            members.is_empty()
        };
        now_empty && self.remove_room_if_same(&mut rooms, &membership.room)
    }

    fn remove_room_if_same(
        &self,
        rooms: &mut HashMap<RoomName, Arc<Room>>,
        room: &Arc<Room>,
    ) -> bool {
        if rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room)) {
            rooms.remove(&room.name);
            self.metrics.rooms.dec();
            return true;
        }
        false
    }

    /// Queues `frame` for every local member of the membership's room, in one order for all.
    pub fn deliver(&self, to: &Membership, frame: &Frame) -> Delivery {
        self.deliver_room(&to.room, frame)
    }

    /// Queues `frame` for the local members of the room named `room`, if it has any here.
    pub fn deliver_to(&self, room: &RoomName, frame: &Frame) -> Option<Delivery> {
        let room = lock(&self.rooms).get(room).cloned()?;
        Some(self.deliver_room(&room, frame))
    }

    fn deliver_room(&self, room: &Arc<Room>, frame: &Frame) -> Delivery {
        let (mut slow, mut over_budget) = (0, 0);
        let now_empty = {
            let mut members = lock(&room.members);
            members.retain(|(_, member)| match member.tx.offer(frame) {
                Ok(()) => true,
                Err(refused) => {
                    match refused {
                        Refused::QueueFull => slow += 1,
                        Refused::Budget => over_budget += 1,
                        // The session has ended and will leave on its own; drop it now.
                        Refused::Closed => return false,
                    }
                    member.evicted.cancel();
                    false
                }
            });
            members.is_empty()
        };
        if slow > 0 {
            self.metrics.slow_member_closes.inc_by(slow as u64);
        }
        if over_budget > 0 {
            self.metrics.memory_budget_closes.inc_by(over_budget as u64);
        }
        let evicted = slow + over_budget;
        let mut room_emptied = false;
        if now_empty {
            let mut rooms = lock(&self.rooms);
            // Someone may have joined between the two locks.
            if lock(&room.members).is_empty() {
                room_emptied = self.remove_room_if_same(&mut rooms, room);
            }
        }
        Delivery {
            evicted,
            room_emptied,
        }
    }

    /// Members of `room` now (for tests and metrics).
    pub fn member_count(&self, room: &RoomName) -> usize {
        lock(&self.rooms)
            .get(room)
            .map_or(0, |r| lock(&r.members).len())
    }
}

/// The single-process layer: a publish is a direct delivery.
#[derive(Debug)]
pub struct LocalLayer {
    rooms: Rooms,
}

impl LocalLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            rooms: Rooms::new(metrics),
        }
    }

    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }
}

impl ChannelLayer for LocalLayer {
    fn join(&self, room: &RoomName, member: Member) -> Membership {
        self.rooms.join(room, member)
    }

    fn leave(&self, membership: &Membership) {
        self.rooms.leave(membership);
    }

    fn publish(&self, from: &Membership, frame: Frame) {
        self.rooms.deliver(from, &frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(queue_bytes: usize) -> (Member, FrameReceiver, CancellationToken) {
        Member::new(queue_bytes, Arc::new(MemoryBudget::new(usize::MAX)))
    }

    fn recv(rx: &mut FrameReceiver) -> Option<Frame> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match rx.poll_recv(&mut cx) {
            std::task::Poll::Ready(frame) => frame,
            std::task::Poll::Pending => None,
        }
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("valid room")
    }

    #[test]
    fn every_member_gets_the_same_frames_in_the_same_order() {
        let layer = LocalLayer::new(Arc::default());
        let (a, mut rx_a, _) = member(1000);
        let (b, mut rx_b, _) = member(1000);
        let ma = layer.join(&room("r"), a);
        let mb = layer.join(&room("r"), b);
        layer.publish(&ma, Frame::from("1"));
        layer.publish(&mb, Frame::from("2"));
        for rx in [&mut rx_a, &mut rx_b] {
            assert_eq!(recv(rx).as_deref(), Some("1"));
            assert_eq!(recv(rx).as_deref(), Some("2"));
            assert!(recv(rx).is_none());
        }
    }

    #[test]
    fn rooms_are_isolated_and_disappear_with_their_last_member() {
        let metrics = Arc::new(Metrics::default());
        let layer = LocalLayer::new(Arc::clone(&metrics));
        let (a, _rx_a, _) = member(1000);
        let (b, mut rx_b, _) = member(1000);
        let ma = layer.join(&room("one"), a);
        let mb = layer.join(&room("two"), b);
        assert_eq!(metrics.rooms(), 2);
        layer.publish(&ma, Frame::from("x"));
        assert!(recv(&mut rx_b).is_none());
        layer.leave(&ma);
        layer.leave(&ma);
        assert_eq!(layer.rooms().member_count(&room("one")), 0);
        assert_eq!(metrics.rooms(), 1);
        layer.leave(&mb);
        assert_eq!(metrics.rooms(), 0);
    }

    #[test]
    fn a_full_queue_evicts_the_member_and_counts_it() {
        let metrics = Arc::new(Metrics::default());
        let layer = LocalLayer::new(Arc::clone(&metrics));
        let (slow, _rx_slow, slow_evicted) = member(2 * (1 + crate::queue::FRAME_OVERHEAD));
        let (fast, mut rx_fast, fast_evicted) = member(1000);
        let m_slow = layer.join(&room("r"), slow);
        let _m_fast = layer.join(&room("r"), fast);
        for i in 0..3 {
            layer.publish(&m_slow, Frame::from(i.to_string()));
            assert!(recv(&mut rx_fast).is_some());
            rx_fast.flushed();
        }
        assert!(slow_evicted.is_cancelled());
        assert!(!fast_evicted.is_cancelled());
        assert_eq!(metrics.slow_member_closes(), 1);
        assert_eq!(layer.rooms().member_count(&room("r")), 1);
    }
}
