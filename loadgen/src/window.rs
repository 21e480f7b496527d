//! With churn, what one stay of a member in its room should get: by sequence number, per
//! sender of the room.
//!
//! - From its 101 on, the member is in the room (the server joins a member before it accepts
//!   it, docs/protocol.md): every message whose sending began after the 101 arrived (`from`: the
//!   sender's `published` count then) is **expected**.
//! - When the member decides to leave, `until` is the sender's `published` count: messages
//!   below it are expected; the member reads until it has them (or a bound passes), then
//!   closes. Messages above it may or may not come before the close: neither is counted.
//! - A message the server had already broadcast when the member began to connect (its
//!   sender had received it back: below `echoed_before`) cannot be the member's: a delivery of
//!   one is **outside membership** (for a member that rejoined, one sent after it left).
//! - Messages sent while the handshake was under way (between the two) may or may not come:
//!   neither is counted.

/// What a delivery is to this stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Broadcast before the member asked to join: must not reach it.
    Outside,
    /// In flight while it joined or left: not counted either way.
    Edge,
    /// Sent while it was a member: expected.
    Inside,
}

/// One stay's window over each sender's sequence numbers.
#[derive(Debug, Clone)]
pub struct Window {
    echoed_before: Vec<u32>,
    from: Vec<u32>,
    until: Option<Vec<u32>>,
    /// Distinct messages received inside the window, per sender (warm-up ones included).
    got: Vec<u32>,
    /// Handshake start on the run clock, microseconds.
    started_us: u64,
    /// Whether the first inside delivery has been timed (rejoins only).
    timed: bool,
}

impl Window {
    /// A stay that began connecting when `echoed_before` held and got its 101 when `from` did.
    pub fn new(echoed_before: Vec<u32>, from: Vec<u32>, started_us: u64, rejoin: bool) -> Self {
        let senders = from.len();
        Self {
            echoed_before,
            from,
            until: None,
            got: vec![0; senders],
            started_us,
            // Only a rejoin's first delivery is a join latency: a first connection waits for
            // the sending to start.
            timed: !rejoin,
        }
    }

    /// Where message `seq` of `sender` falls.
    pub fn place(&self, sender: usize, seq: u32) -> Place {
        if seq < self.echoed_before[sender] {
            return Place::Outside;
        }
        let after_leave = self.until.as_ref().is_some_and(|u| seq >= u[sender]);
        if seq < self.from[sender] || after_leave {
            return Place::Edge;
        }
        Place::Inside
    }

    /// Counts a new (not duplicate) inside delivery arriving at `now_us`; the first of a
    /// rejoin returns its join latency (handshake start to this delivery).
    pub fn got(&mut self, sender: usize, now_us: u64) -> Option<u64> {
        self.got[sender] += 1;
        if self.timed {
            return None;
        }
        self.timed = true;
        Some(now_us.saturating_sub(self.started_us))
    }

    /// The member decides to leave: messages from here on are not expected.
    pub fn leave(&mut self, published: Vec<u32>) {
        self.until = Some(published);
    }

    /// True when every message of the stay (up to the leave) has arrived.
    pub fn complete(&self) -> bool {
        let Some(until) = &self.until else {
            return false;
        };
        (0..self.from.len()).all(|s| self.got[s] >= until[s].saturating_sub(self.from[s]))
    }

    /// The measured messages the stay should have got: per sender, those from
    /// `max(from, first_measured)` up to the leave, or up to `published` (everything sent)
    /// for a stay that lasted to the end.
    pub fn expected(&self, first_measured: &[u32], published: &[u32]) -> u64 {
        (0..self.from.len())
            .map(|s| self.range(s, first_measured, published).len() as u64)
            .sum()
    }

    /// The sequence numbers of `sender` the stay should have got (see [`Self::expected`]).
    pub fn range(
        &self,
        sender: usize,
        first_measured: &[u32],
        published: &[u32],
    ) -> std::ops::Range<u32> {
        let end = self.until.as_deref().unwrap_or(published)[sender];
        let start = self.from[sender].max(first_measured[sender]);
        start..end.max(start)
    }

    /// Per sender, where the stay's expectations began (its 101).
    pub fn from(&self) -> &[u32] {
        &self.from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stay_expects_what_was_sent_between_its_101_and_its_leave() {
        // Two senders: 3 and 5 of their messages echoed when it began to connect, 4 and 7
        // published when the 101 came.
        let mut w = Window::new(vec![3, 5], vec![4, 7], 0, true);
        assert_eq!(w.place(0, 2), Place::Outside);
        assert_eq!(w.place(0, 3), Place::Edge);
        assert_eq!(w.place(0, 4), Place::Inside);
        assert_eq!(w.place(1, 6), Place::Edge);
        assert!(!w.complete(), "not leaving yet");
        w.leave(vec![6, 7]);
        assert_eq!(w.place(0, 6), Place::Edge, "sent after it decided to leave");
        assert!(!w.complete());
        // A rejoin (started at 0): its first inside delivery is its join latency.
        assert_eq!(w.got(0, 700), Some(700));
        assert_eq!(w.got(0, 900), None);
        assert!(w.complete(), "4 and 5 of sender 0, none of sender 1");
        // Measured from message 5 of sender 0: only 5 counts.
        assert_eq!(w.expected(&[5, 0], &[100, 100]), 1);
        assert_eq!(w.expected(&[0, 0], &[100, 100]), 2);
    }

    #[test]
    fn a_stay_to_the_end_expects_everything_published() {
        let w = Window::new(vec![0], vec![0], 0, false);
        assert_eq!(w.expected(&[10], &[50]), 40);
        // Nothing measured yet (a run interrupted in its warm-up): nothing expected.
        assert_eq!(w.expected(&[u32::MAX], &[50]), 0);
    }
}
