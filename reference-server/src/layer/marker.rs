//! Join markers: how a layer spanning processes gives a member who joins exactly the frames
//! published after its join, none from before.
//!
//! A node delivers a frame from Redis to whichever local members its room has when the frame
//! arrives. A frame published just before a member joined may still be on its way from Redis,
//! so a member added at once would get it (`model.programs` caught this). Instead the member
//! joins inactive ([`crate::rooms::Rooms::join_inactive`]); once the node's subscription or
//! group membership is confirmed, the node sends itself a marker through Redis on the same
//! path as the frames (its own channel on the subscriber connection, or its own queue), and
//! activates the member when the marker comes back: every frame Redis took before the marker
//! was delivered before it, every frame after it reaches the member. The handshake waits for
//! this before its 101, at most a deadline; when Redis cannot be reached the member is
//! activated anyway (delivery is local-only during an outage).
//!
//! Bound: one entry in [`Markers`] per handshake in that wait, which holds a connection slot
//! (`--max-connections`) and lasts at most the deadline (2 s); the entry goes when the
//! handshake's future is dropped, however it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::rooms::Activator;

const PREFIX: &str = "join-marker:";

/// The markers this node has sent and not yet seen come back.
#[derive(Debug, Default)]
pub struct Markers {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, (Activator, oneshot::Sender<()>)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Markers {
    /// A new marker for the member `activator` activates.
    pub fn register(self: &Arc<Self>, activator: Activator) -> Pending {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(seq, (activator.clone(), tx));
        Pending {
            seq,
            rx,
            activator,
            markers: Arc::clone(self),
        }
    }

    /// The marker came back (or cannot be sent): its member is activated now, in the caller's
    /// delivery order, and its handshake goes on. Unknown or late markers are ignored.
    pub fn arrived(&self, seq: u64) {
        if let Some((activator, done)) = lock(&self.waiting).remove(&seq) {
            activator.activate();
            let _ = done.send(());
        }
    }

    /// Handles `payload` if it is a marker; false if it is something else (checked by its
    /// prefix first, so a frame costs a few byte comparisons).
    pub fn on_payload(&self, payload: &[u8]) -> bool {
        let seq = payload
            .strip_prefix(PREFIX.as_bytes())
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u64>().ok());
        match seq {
            Some(seq) => {
                self.arrived(seq);
                true
            }
            None => false,
        }
    }

    /// How many handshakes wait for a marker (for tests).
    pub fn waiting(&self) -> usize {
        lock(&self.waiting).len()
    }
}

/// The text of marker `seq` as it travels through Redis.
pub fn text(seq: u64) -> String {
    format!("{PREFIX}{seq}")
}

/// A marker sent or about to be; forgotten when dropped.
#[derive(Debug)]
pub struct Pending {
    seq: u64,
    rx: oneshot::Receiver<()>,
    activator: Activator,
    markers: Arc<Markers>,
}

impl Pending {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits for the marker until `deadline` (not at all with `None`: it could not be sent),
    /// then activates the member whatever happened.
    pub async fn finish(mut self, deadline: Option<Instant>) {
        if let Some(deadline) = deadline
            && tokio::time::timeout_at(deadline, &mut self.rx)
                .await
                .is_err()
        {
            tracing::debug!(
                seq = self.seq,
                "join marker not back in time; member activated anyway"
            );
        }
        self.activator.activate();
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.markers.waiting).remove(&self.seq);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use futures_util::FutureExt;
    use protocol::RoomName;

    use super::{Markers, text};
    use crate::budget::MemoryBudget;
    use crate::metrics::Metrics;
    use crate::rooms::{DirectWrite, Member, Rooms};

    #[tokio::test]
    async fn a_marker_activates_its_member_and_is_forgotten_either_way() {
        let rooms = Rooms::new(Arc::new(Metrics::default()), DirectWrite::NEVER);
        let room = RoomName::parse("m").expect("room");
        let budget = Arc::new(MemoryBudget::new(1 << 20));
        let (member, mut rx, _) = Member::new(1 << 16, Arc::clone(&budget));
        let joined = rooms.join_inactive(&room, member);
        let markers = Arc::new(Markers::default());

        let pending = markers.register(joined.activator());
        rooms.deliver(&joined, &"before".into());
        assert!(markers.on_payload(text(pending.seq()).as_bytes()));
        assert!(!markers.on_payload(b"{\"message\": \"x\"}"));
        pending.finish(None).await;
        rooms.deliver(&joined, &"after".into());
        let first = std::future::poll_fn(|cx| rx.poll_recv(cx)).now_or_never();
        assert_eq!(first.flatten().as_deref(), Some("after"));
        assert_eq!(markers.waiting(), 0);

        // A marker that never comes back: activated at the deadline, and forgotten.
        let late = markers.register(joined.activator());
        let deadline = tokio::time::Instant::now() + Duration::from_millis(10);
        late.finish(Some(deadline)).await;
        assert_eq!(markers.waiting(), 0);
    }
}
