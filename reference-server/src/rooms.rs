//! Rooms: who is in which room on this node, and how a broadcast frame reaches each local
//! member. Every room layer keeps its local members here.
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
use crate::frame::Frame;
use crate::load::Load;
use crate::metrics::Metrics;
use crate::outlet::{Offered, OutletReceiver, OutletSender, Writer, outlet};
use crate::queue::Refused;
use crate::spread::{SPREAD_FROM, Spread, helper_from};

/// The receiving end a session drains.
pub type FrameReceiver = OutletReceiver;

/// When the publisher (or the fan-out helper) may write a frame straight into a plain TCP
/// member's socket, as the room decides it per member and message ([`Writer`]; the member's
/// outlet adds its own conditions: a socket, nothing queued, the member quiet for
/// [`crate::outlet::DIRECT_GAP`]). Read from `--direct-write-below` and
/// `--direct-write-members` here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectWrite {
    /// Only while the node delivers fewer frames a second than this (its rate over the last
    /// 100 ms, [`crate::load`]; `--direct-write-below`).
    pub below: u64,
    /// Only into the sockets of the room's first this many members (`--direct-write-members`).
    /// The room offers to its members from the last to the first, so the others are queued
    /// and their sessions woken before the publisher begins its writes: on a runtime with
    /// several workers they write in parallel with it instead of after it.
    pub members: usize,
}

impl DirectWrite {
    /// Never: every frame is queued for its member's session (members without a plain TCP
    /// socket are written by their sessions whatever this says).
    pub const NEVER: Self = Self {
        below: 0,
        members: 0,
    };
}

/// A member as the fan-out sees it: where its frames go and how to tell it it was evicted.
#[derive(Debug)]
pub struct Member {
    tx: OutletSender,
    evicted: CancellationToken,
    /// False until the layer activates it ([`Activator`]): an inactive member gets nothing.
    active: bool,
    /// It agreed to permessage-deflate: it gets a broadcast's compressed form.
    deflate: bool,
}

impl Member {
    /// A member with a queue of `queue_bytes` within `budget`; returns the receiver its
    /// session drains and the token cancelled when it is evicted.
    pub fn new(
        queue_bytes: usize,
        budget: Arc<MemoryBudget>,
    ) -> (Self, FrameReceiver, CancellationToken) {
        let (tx, rx) = outlet(queue_bytes, budget);
        let evicted = CancellationToken::new();
        (
            Self {
                tx,
                evicted: evicted.clone(),
                active: true,
                deflate: false,
            },
            rx,
            evicted,
        )
    }

    /// From now on this member gets compressed frames ([`Frame::deflated`]) when `agreed`.
    pub fn set_deflate(&mut self, agreed: bool) {
        self.deflate = agreed;
    }
}

/// A session's place in a room, returned by `RoomLayer::join`.
#[derive(Debug)]
pub struct Membership {
    room: Arc<Room>,
    id: u64,
}

impl Membership {
    pub fn room(&self) -> &RoomName {
        &self.room.name
    }

    /// A handle that makes this member start receiving (see [`Rooms::join_inactive`]).
    pub fn activator(&self) -> Activator {
        Activator {
            room: Arc::clone(&self.room),
            id: self.id,
        }
    }
}

/// Makes an inactive member active; idempotent, and harmless once the member has left.
#[derive(Debug, Clone)]
pub struct Activator {
    room: Arc<Room>,
    id: u64,
}

impl Activator {
    /// From now on the member receives every frame delivered to its room.
    pub fn activate(&self) {
        if let Some((_, m)) = lock(&self.room.members)
            .iter_mut()
            .find(|(id, _)| *id == self.id)
        {
            m.active = true;
        }
    }
}

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
    load: Load,
    /// The fan-out helper; none when its thread could not be started.
    spread: Option<Spread>,
    /// When publishers write into members' sockets themselves; its `members` are also the
    /// share the helper splits with them.
    direct: DirectWrite,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (each update is a
    // single push, removal or insert), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Rooms {
    /// A registry whose publishers write directly into members' sockets as `direct` allows.
    pub fn new(metrics: Arc<Metrics>, direct: DirectWrite) -> Self {
        let spread = Spread::start(Arc::clone(&metrics))
            .inspect_err(|error| {
                tracing::warn!(%error, "no fan-out helper thread: publishers write alone");
            })
            .ok();
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            metrics,
            load: Load::default(),
            spread,
            direct,
        }
    }

    /// Adds a member that receives every frame delivered from now on.
    pub fn join(&self, room: &RoomName, member: Member) -> Membership {
        self.insert(room, member)
    }

    /// Adds a member that receives nothing until its [`Activator`] runs, but counts as a
    /// member (its room stays, and stays subscribed). A layer spanning processes uses it so
    /// that frames already on their way to this node when the member joined are not delivered
    /// to it: it activates the member when a marker sent after the join comes back through
    /// the same path as those frames.
    pub fn join_inactive(&self, room: &RoomName, mut member: Member) -> Membership {
        member.active = false;
        self.insert(room, member)
    }

    /// The registry lock is held while the member is pushed so that a room being removed by
    /// its last leaver cannot be joined after it is gone.
    fn insert(&self, room: &RoomName, member: Member) -> Membership {
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

    /// Offers go to the room's members from the last to the first: members past
    /// `--direct-write-members` are queued and woken first, so their sessions write on the
    /// runtime's other workers; when the rest (the direct-write share) has [`SPREAD_FROM`]
    /// members or more, its top positions go to the fan-out helper when it is idle
    /// (`crate::spread`, [`helper_from`]); then the publisher writes into the first members'
    /// sockets itself ([`DirectWrite`]).
    ///
    /// Members that agreed to permessage-deflate get the frame's compressed form, made once,
    /// when the first of them is offered it.
    fn deliver_room(&self, room: &Arc<Room>, frame: &Frame) -> Delivery {
        let (mut slow, mut over_budget, mut written) = (0, 0, 0);
        let mut deflated: Option<Option<Frame>> = None;
        let now_empty = {
            let mut members = lock(&room.members);
            let rate = self.load.note(members.len() as u64);
            // No direct write on a busy node.
            let quiet_node = rate < self.direct.below;
            let mut position = members.len();
            let direct_share = position.min(self.direct.members);
            let split = helper_from(direct_share);
            let mut helper = match &self.spread {
                Some(spread) if direct_share >= SPREAD_FROM => spread.take(),
                _ => None,
            };
            while position > 0 {
                position -= 1;
                if position < split
                    && let Some(helper) = helper.take()
                {
                    helper.hand();
                }
                let member = &members[position].1;
                if !member.active {
                    continue;
                }
                let writer = if !quiet_node || position >= self.direct.members {
                    Writer::Session
                } else if helper.is_some() {
                    Writer::Helper
                } else {
                    Writer::Publisher
                };
                let frame = if member.deflate {
                    deflated
                        .get_or_insert_with(|| {
                            // Counted before any member can have it.
                            self.metrics.deflate_compressions.inc();
                            frame.deflated()
                        })
                        .as_ref()
                        .unwrap_or(frame)
                } else {
                    frame
                };
                let refused = match member.tx.offer(frame, writer) {
                    Ok(Offered::Written) => {
                        written += 1;
                        continue;
                    }
                    Ok(Offered::ForHelper) => {
                        if let Some(helper) = &mut helper {
                            helper.add(member.tx.outlet());
                        }
                        continue;
                    }
                    Ok(Offered::Queued) => continue,
                    Err(refused) => refused,
                };
                match refused {
                    Refused::QueueFull => slow += 1,
                    Refused::Budget => over_budget += 1,
                    // The session has ended and will leave on its own; drop it now.
                    Refused::Closed => {}
                }
                if refused != Refused::Closed {
                    member.evicted.cancel();
                }
                // The last member takes its place: it has had this frame already.
                members.swap_remove(position);
            }
            members.is_empty()
        };
        if written > 0 {
            // This one first: once frames_delivered shows a frame, its writer is counted.
            self.metrics.publisher_frames.inc_by(written);
            self.metrics.frames_delivered.inc_by(written);
        }
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
