//! Fan-out: who is in which room, and how a broadcast frame reaches each member.
//!
//! Sessions see only [`ChannelLayer`]: join a room, publish a frame to it, leave it. The
//! in-memory [`LocalLayer`] delivers directly; a layer spanning several processes (Redis) can
//! implement the same trait and reuse [`Rooms`] for its local members.
//!
//! Queue policy: every member has a bounded queue of [`Frame`]s. A publish never waits. When a
//! member's queue is full, the member is removed from the room at once, its eviction token is
//! cancelled (its session closes the socket with 1013), and `slow_member_closes` is counted.
//! Nobody is skipped silently: a member either gets every frame of the room, in the room's one
//! order, or is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::RoomName;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// One encoded broadcast frame. Cloning shares the bytes: a message is encoded once.
pub type Frame = Utf8Bytes;

/// The receiving end a session drains.
pub type FrameReceiver = mpsc::Receiver<Frame>;

/// A member as the fan-out sees it: where its frames go and how to tell it it was evicted.
#[derive(Debug)]
pub struct Member {
    tx: mpsc::Sender<Frame>,
    evicted: CancellationToken,
}

impl Member {
    /// A member with a queue of `queue_len` frames; returns the receiver its session drains.
    pub fn new(queue_len: usize) -> (Self, FrameReceiver, CancellationToken) {
        let (tx, rx) = mpsc::channel(queue_len);
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
    /// Members closed because their queue was full.
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
        let mut evicted = 0;
        let now_empty = {
            let mut members = lock(&room.members);
            members.retain(|(_, member)| match member.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    member.evicted.cancel();
                    evicted += 1;
                    false
                }
                // The session has ended and will leave on its own; drop it now.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
            members.is_empty()
        };
        if evicted > 0 {
            self.metrics.slow_member_closes.inc_by(evicted as u64);
        }
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

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("valid room")
    }

    #[test]
    fn every_member_gets_the_same_frames_in_the_same_order() {
        let layer = LocalLayer::new(Arc::default());
        let (a, mut rx_a, _) = Member::new(8);
        let (b, mut rx_b, _) = Member::new(8);
        let ma = layer.join(&room("r"), a);
        let mb = layer.join(&room("r"), b);
        layer.publish(&ma, Frame::from("1"));
        layer.publish(&mb, Frame::from("2"));
        for rx in [&mut rx_a, &mut rx_b] {
            assert_eq!(rx.try_recv().ok().as_deref(), Some("1"));
            assert_eq!(rx.try_recv().ok().as_deref(), Some("2"));
            assert!(rx.try_recv().is_err());
        }
    }

    #[test]
    fn rooms_are_isolated_and_disappear_with_their_last_member() {
        let metrics = Arc::new(Metrics::default());
        let layer = LocalLayer::new(Arc::clone(&metrics));
        let (a, _rx_a, _) = Member::new(8);
        let (b, mut rx_b, _) = Member::new(8);
        let ma = layer.join(&room("one"), a);
        let mb = layer.join(&room("two"), b);
        assert_eq!(metrics.rooms(), 2);
        layer.publish(&ma, Frame::from("x"));
        assert!(rx_b.try_recv().is_err());
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
        let (slow, _rx_slow, slow_evicted) = Member::new(2);
        let (fast, mut rx_fast, fast_evicted) = Member::new(8);
        let m_slow = layer.join(&room("r"), slow);
        let _m_fast = layer.join(&room("r"), fast);
        for i in 0..3 {
            layer.publish(&m_slow, Frame::from(i.to_string()));
            assert!(rx_fast.try_recv().is_ok());
        }
        assert!(slow_evicted.is_cancelled());
        assert!(!fast_evicted.is_cancelled());
        assert_eq!(metrics.slow_member_closes(), 1);
        assert_eq!(layer.rooms().member_count(&room("r")), 1);
    }
}
