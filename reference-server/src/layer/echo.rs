//! A node's own frames on their way through Redis and back, so that a Redis outage, a lost
//! connection or a restarted Redis loses nothing silently (both formats):
//!
//! - a room's frames go through Redis only while this node receives that room on its current
//!   connection (`confirm`, once Redis acknowledged the subscription or group membership);
//! - until then (during an outage, after a reconnection) a frame is **deferred**: it is
//!   published when its room is confirmed again, so the members on other nodes get it late
//!   rather than never; this node's members get it either on its way back from Redis, in the
//!   order every node gets (`--outage hold`), or at once (`--outage local`: see
//!   `redis_core`'s outage policy for what that costs). After a reconnection nothing
//!   is published for `REJOIN_GRACE` (1.5 s): the other nodes lost Redis at the same moment
//!   and are subscribed again within `BACKOFF_MAX` (1 s) of its return, and pub/sub keeps
//!   nothing for a node that is not subscribed yet;
//! - a frame Redis did not take (the publish failed) is delivered here and deferred again;
//! - a frame that went out waits in its room's line until it comes back from Redis
//!   (`echoed`); if the receiving connection is lost first, it is delivered to this node's
//!   members then and counted local-only (Redis took it, so other nodes most likely have it;
//!   it is not published again, which could duplicate it there).
//!
//! So, once traffic stops and Redis is reachable, `chat_redis_frames_total` =
//! `chat_redis_echoed_total` + `chat_redis_local_only_total`; in between, the difference is
//! `chat_redis_waiting` (published or deferred frames not back yet). A frame is matched in
//! its line by its bytes: the same bytes from another node in between would be taken for it
//! (loadgen's stamps never repeat; a chat's may). A channels queue over capacity skips a
//! frame: the next of this node's own that comes back hands the skipped ones over, to be
//! delivered here, late, and counted local-only.
//!
//! Bound: at most [`WAITING`] frames and [`WAITING_BYTES`] bytes of them wait, in lines and
//! deferred (a flood during an outage holds no more); past it a frame is delivered here only
//! and counted local-only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use protocol::RoomName;

use crate::frame::Frame;

/// After a reconnection, how long a node only defers its rooms' frames (delivered to its own
/// members, published after): long enough for every other node, which lost Redis at the same
/// moment, to be subscribed again (within `redis_core::BACKOFF_MAX` and its connect
/// timeout), so that nothing is published into a gap of theirs.
pub const REJOIN_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Frames published or deferred and not back yet, in all rooms, at most.
pub const WAITING: usize = 65_536;
/// Their bytes, at most.
pub const WAITING_BYTES: usize = 64 << 20;
/// How far into a room's line a frame from Redis is looked for.
const SCAN: usize = 256;

/// One of this node's frames in its room's line.
#[derive(Debug)]
struct Out {
    frame: Frame,
    /// Delivered to this node's members already (a deferred frame): not again on its echo.
    delivered: bool,
}

#[derive(Debug, Default)]
struct State {
    connected: bool,
    /// Whether the connection was ever up: only a reconnection has a grace.
    ever: bool,
    /// After a reconnection, frames are deferred until then (`REJOIN_GRACE`).
    defer_until: Option<tokio::time::Instant>,
    confirmed: HashSet<RoomName>,
    lines: HashMap<RoomName, VecDeque<Out>>,
    deferred: HashMap<RoomName, VecDeque<Out>>,
    /// Frames in lines and deferred, and their bytes.
    waiting: usize,
    bytes: usize,
}

/// What to do with a frame a member sent.
#[derive(Debug)]
pub enum Route {
    /// Publish these deferred frames of its room (delivered here already), then it; all wait
    /// for their echo.
    Publish(Vec<Frame>),
    /// It is published when its room is confirmed (delivered here now if it was routed so).
    Defer,
    /// Deliver it here only (counted local-only): too many frames wait.
    LocalOnly,
}

/// A frame that came back from Redis, when it is one of this node's own.
#[derive(Debug)]
pub struct Back {
    /// Frames of its line sent before it that Redis skipped: to be delivered here.
    pub skipped: Vec<Frame>,
    /// Whether it was delivered here already (deferred): not to be delivered again.
    pub delivered: bool,
}

impl State {
    /// `frames` leave the lines and the deferred ones for good.
    fn release<'a>(&mut self, frames: impl IntoIterator<Item = &'a Frame>) {
        for f in frames {
            self.waiting -= 1;
            self.bytes -= f.len();
        }
    }

    /// `room`'s deferred frames, if it publishes now: moved into its line (each with whether
    /// it was delivered here already), to be published in this order before anything else of
    /// the room.
    fn take_deferred(&mut self, room: &RoomName) -> Vec<Frame> {
        if !self.publishing(room) {
            return Vec::new();
        }
        let Some(deferred) = self.deferred.remove(room) else {
            return Vec::new();
        };
        let frames = deferred.iter().map(|o| o.frame.clone()).collect();
        self.lines.entry(room.clone()).or_default().extend(deferred);
        frames
    }

    /// Whether `room`'s frames go through Redis now: connected, its subscription confirmed,
    /// and past a reconnection's grace.
    fn publishing(&self, room: &RoomName) -> bool {
        self.connected
            && self.confirmed.contains(room)
            && self
                .defer_until
                .is_none_or(|t| tokio::time::Instant::now() >= t)
    }
}

/// The rooms received on the current connection, and the frames on their way back.
#[derive(Debug, Default)]
pub struct Echo(Mutex<State>);

impl Echo {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The receiving connection is up (true) or lost (false). On a loss every room must be
    /// confirmed again, and the published frames not back yet are returned (with whether
    /// each was delivered here already); deferred ones stay deferred.
    pub fn connected(&self, up: bool) -> Vec<(RoomName, Frame, bool)> {
        let mut s = self.state();
        if up && !s.connected {
            s.defer_until = s.ever.then(|| tokio::time::Instant::now() + REJOIN_GRACE);
            s.ever = true;
        }
        s.connected = up;
        if up {
            return Vec::new();
        }
        s.confirmed.clear();
        let lost: Vec<(RoomName, Frame, bool)> = s
            .lines
            .drain()
            .flat_map(|(room, line)| {
                line.into_iter()
                    .map(move |o| (room.clone(), o.frame, o.delivered))
            })
            .collect();
        s.release(lost.iter().map(|(_, f, _)| f));
        lost
    }

    /// Whether the connection is down and was up before: the next `connected(true)` is a
    /// reconnection, with its grace.
    pub fn reconnected(&self) -> bool {
        let s = self.state();
        s.ever && !s.connected
    }

    /// The rooms with deferred frames.
    pub fn deferred_rooms(&self) -> Vec<RoomName> {
        self.state().deferred.keys().cloned().collect()
    }

    /// Redis acknowledged that this node receives `room` on the current connection; true if
    /// deferred frames wait to be published ([`Self::take_deferred`]).
    pub fn confirm(&self, room: &RoomName) -> bool {
        let mut s = self.state();
        if !s.connected {
            return false;
        }
        s.confirmed.insert(room.clone());
        s.deferred.contains_key(room)
    }

    /// `room`'s deferred frames, if it publishes now: now waiting in its line, to be
    /// published in this order before anything else of the room.
    pub fn take_deferred(&self, room: &RoomName) -> Vec<Frame> {
        self.state().take_deferred(room)
    }

    /// This node no longer receives `room`; its deferred frames are returned, each with
    /// whether it was delivered here already (they will not be published: nobody else is
    /// known to want them).
    pub fn unconfirm(&self, room: &RoomName) -> Vec<(Frame, bool)> {
        let mut s = self.state();
        s.confirmed.remove(room);
        let dropped: Vec<(Frame, bool)> = s
            .deferred
            .remove(room)
            .into_iter()
            .flatten()
            .map(|o| (o.frame, o.delivered))
            .collect();
        s.release(dropped.iter().map(|(f, _)| f));
        dropped
    }

    /// Where a frame a member sent into `room` goes; `deliver_now`: if it is deferred, the
    /// caller delivers it here at once (not again on its way back).
    pub fn route(&self, room: &RoomName, frame: &Frame, deliver_now: bool) -> Route {
        let mut s = self.state();
        if s.waiting >= WAITING || s.bytes + frame.len() > WAITING_BYTES {
            return Route::LocalOnly;
        }
        s.waiting += 1;
        s.bytes += frame.len();
        if s.publishing(room) {
            let first = s.take_deferred(room);
            s.lines.entry(room.clone()).or_default().push_back(Out {
                frame: frame.clone(),
                delivered: false,
            });
            return Route::Publish(first);
        }
        s.deferred.entry(room.clone()).or_default().push_back(Out {
            frame: frame.clone(),
            delivered: deliver_now,
        });
        Route::Defer
    }

    /// A frame came from Redis for `room`: `Some` when it is one of this node's own.
    pub fn back(&self, room: &RoomName, frame: &Frame) -> Option<Back> {
        let mut s = self.state();
        let line = s.lines.get_mut(room)?;
        let at = line
            .iter()
            .take(SCAN)
            .position(|o| o.frame.as_str() == frame.as_str())?;
        let mut taken: Vec<Out> = line.drain(..=at).collect();
        if line.is_empty() {
            s.lines.remove(room);
        }
        s.release(taken.iter().map(|o| &o.frame));
        let this = taken.pop().is_some_and(|o| o.delivered);
        Some(Back {
            skipped: taken
                .into_iter()
                .filter(|o| !o.delivered)
                .map(|o| o.frame)
                .collect(),
            delivered: this,
        })
    }

    /// Publishing `frame` failed (Redis did not take it): it leaves its line and is deferred
    /// again, to be published when its room is confirmed. `Some(true)` when the caller is to
    /// deliver it here now (`deliver_now`, and it was not delivered before); `None` if it was
    /// not in its line.
    pub fn retry(&self, room: &RoomName, frame: &Frame, deliver_now: bool) -> Option<bool> {
        let mut s = self.state();
        let line = s.lines.get_mut(room)?;
        let at = line
            .iter()
            .rposition(|o| o.frame.as_str() == frame.as_str())?;
        let mut out = line.remove(at)?;
        if line.is_empty() {
            s.lines.remove(room);
        }
        let deliver = deliver_now && !out.delivered;
        out.delivered |= deliver_now;
        // It stays counted as waiting, now deferred; ahead of what was deferred since.
        s.deferred.entry(room.clone()).or_default().push_front(out);
        Some(deliver)
    }

    /// Frames published or deferred and not back yet.
    pub fn waiting(&self) -> usize {
        self.state().waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("room")
    }

    fn texts(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(|f| f.as_str()).collect()
    }

    #[test]
    fn unconfirmed_frames_are_deferred_and_go_first_once_confirmed() {
        let echo = Echo::default();
        let (r, f1, f2, f3) = (
            room("r"),
            Frame::from("one"),
            Frame::from("two"),
            Frame::from("three"),
        );
        assert!(
            matches!(echo.route(&r, &f1, true), Route::Defer),
            "not connected"
        );
        echo.connected(true);
        assert!(
            matches!(echo.route(&r, &f2, false), Route::Defer),
            "not confirmed"
        );
        assert!(echo.confirm(&r), "frames wait");
        let Route::Publish(first) = echo.route(&r, &f3, true) else {
            panic!("confirmed");
        };
        assert_eq!(texts(&first), ["one", "two"]);
        let back = echo.back(&r, &f1).expect("ours");
        assert!(
            back.delivered && back.skipped.is_empty(),
            "delivered at once"
        );
        assert!(!echo.back(&r, &f2).expect("ours").delivered, "held");
        assert!(!echo.back(&r, &f3).expect("ours").delivered);
        assert_eq!(echo.waiting(), 0);
    }

    #[test]
    fn published_frames_come_back_or_are_returned_on_a_loss() {
        let echo = Echo::default();
        let (r, f1, f2) = (room("r"), Frame::from("one"), Frame::from("two"));
        echo.connected(true);
        echo.confirm(&r);
        assert!(matches!(echo.route(&r, &f1, false), Route::Publish(v) if v.is_empty()));
        assert!(matches!(echo.route(&r, &f2, false), Route::Publish(v) if v.is_empty()));
        assert!(echo.back(&r, &Frame::from("other")).is_none());
        assert!(!echo.back(&r, &f1).expect("ours").delivered);
        assert!(!echo.reconnected());
        let lost = echo.connected(false);
        assert_eq!(lost.len(), 1);
        assert_eq!((lost[0].1.as_str(), lost[0].2), ("two", false));
        assert!(echo.reconnected());
        echo.connected(true);
        echo.confirm(&r);
        assert!(
            matches!(echo.route(&r, &f1, false), Route::Defer),
            "within the rejoin grace nothing is published"
        );
        assert_eq!(echo.deferred_rooms(), [r]);
    }

    #[test]
    fn frames_redis_skipped_are_handed_back_with_the_next_that_came() {
        let echo = Echo::default();
        let r = room("r");
        echo.connected(true);
        echo.confirm(&r);
        let frames: Vec<Frame> = ["a", "b", "c"].into_iter().map(Frame::from).collect();
        for f in &frames {
            assert!(matches!(echo.route(&r, f, false), Route::Publish(_)));
        }
        let back = echo.back(&r, &frames[2]).expect("ours");
        assert_eq!(texts(&back.skipped), ["a", "b"]);
        assert_eq!(echo.waiting(), 0);
    }

    #[test]
    fn a_failed_publish_is_deferred_again() {
        let echo = Echo::default();
        let (r, f) = (room("r"), Frame::from("x"));
        echo.connected(true);
        echo.confirm(&r);
        assert!(matches!(echo.route(&r, &f, false), Route::Publish(_)));
        assert_eq!(echo.retry(&r, &f, false), Some(false), "held");
        assert_eq!(echo.retry(&r, &f, true), None, "deferred, not in its line");
        assert_eq!(echo.waiting(), 1, "deferred");
        assert_eq!(texts(&echo.take_deferred(&r)), ["x"]);
        assert_eq!(echo.retry(&r, &f, true), Some(true), "to deliver now");
        echo.take_deferred(&r);
        assert_eq!(echo.retry(&r, &f, true), Some(false), "delivered already");
    }

    #[test]
    fn a_flood_while_redis_is_away_holds_at_most_the_bytes_bound() {
        let echo = Echo::default();
        let r = room("r");
        let big = Frame::from("x".repeat((1 << 20) + 1));
        let mut deferred = 0;
        while matches!(echo.route(&r, &big, true), Route::Defer) {
            deferred += 1;
        }
        assert_eq!(deferred, WAITING_BYTES / big.len());
        assert!(matches!(
            echo.route(&r, &Frame::from("small"), true),
            Route::Defer
        ));
        assert_eq!(echo.unconfirm(&r).len(), deferred + 1);
        assert_eq!(echo.waiting(), 0);
        assert!(
            matches!(echo.route(&r, &big, true), Route::Defer),
            "room again"
        );
    }

    #[test]
    fn a_room_left_gives_up_its_deferred_frames() {
        let echo = Echo::default();
        let (r, f) = (room("r"), Frame::from("x"));
        assert!(matches!(echo.route(&r, &f, false), Route::Defer));
        let dropped = echo.unconfirm(&r);
        let dropped: Vec<(&str, bool)> = dropped.iter().map(|(f, d)| (f.as_str(), *d)).collect();
        assert_eq!(dropped, [("x", false)]);
        assert_eq!(echo.waiting(), 0);
    }
}
