//! Who is in the room over the run: the stages' `members` share of each room's receiving
//! members, ramped like the rate. A receiver has a rank in [0, 1) (its place among the room's
//! receivers over their count) and is in the room while the share is above its rank, so a
//! share of 0.4 keeps the first 40% of each room's receivers, a drop from 1 to 0.4 with no
//! ramp makes the other 60% leave at once (a herd), and the rise back brings them in again
//! (a deploy's reconnect storm); a ramp spreads the leaves or the joins over its length.
//! Senders stay, so a stage's rate is what is sent. Times are seconds from the start of the
//! warm-up, which has the first stage's share.

use std::time::Duration;

use super::Stage;
use super::curve::{Piece, piece_at, pieces};

/// After a rising share crosses a rank, how much later the member counts as in the room:
/// one millisecond, so that the share then is above the rank beyond rounding.
const PAST_CROSSING: f64 = 1e-3;

/// The share of receivers in their rooms over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pieces: Vec<Piece>,
}

impl Presence {
    /// `None` when every stage keeps every member.
    pub fn new(warmup: Duration, stages: &[Stage]) -> Option<Self> {
        stages.iter().any(|s| s.members < 1.0).then(|| Self {
            pieces: pieces(warmup, stages, |s| s.members),
        })
    }

    /// The share at `t`.
    pub fn share_at(&self, t: f64) -> f64 {
        let p = piece_at(&self.pieces, t);
        p.at(t - p.from)
    }

    /// Whether a receiver of `rank` is in the room at `t`.
    pub fn present(&self, t: f64, rank: f64) -> bool {
        in_room(self.share_at(t), rank)
    }

    /// The first time from `t` at which a receiver of `rank` is in the room (`present`) or
    /// out of it; infinite if never.
    pub fn next(&self, t: f64, rank: f64, present: bool) -> f64 {
        let t = t.max(0.0);
        let first = self.pieces.partition_point(|p| p.from + p.len <= t);
        for p in &self.pieces[first.min(self.pieces.len() - 1)..] {
            let start = t.max(p.from);
            let s0 = p.at(start - p.from);
            if in_room(s0, rank) == present {
                return start;
            }
            // Not so at its start: a ramp that ends so crosses the rank.
            let crosses = in_room(p.m1, rank) == present && p.m1 != p.m0;
            if crosses && p.len.is_finite() {
                let at = p.from + (rank - p.m0) / (p.m1 - p.m0) * p.len;
                let at = at.max(start);
                return if present {
                    (at + PAST_CROSSING).min(p.from + p.len)
                } else {
                    at
                };
            }
        }
        f64::INFINITY
    }
}

/// The rank of a room's `k`-th receiver (from 0) among `n`.
pub fn rank(k: u32, n: u32) -> f64 {
    f64::from(k) / f64::from(n.max(1))
}

/// Whether a receiver of `rank` is in its room at a share of `share`.
fn in_room(share: f64, rank: f64) -> bool {
    share > rank
}

/// How many of a room's `n` receivers a share of `share` keeps in the room.
pub fn kept(n: u32, share: f64) -> u32 {
    (0..n).filter(|k| in_room(share, rank(*k, n))).count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: u64, members: f64, ramp: u64) -> Stage {
        Stage {
            name: String::new(),
            duration: Duration::from_secs(secs),
            rate: 1.0,
            ramp: Duration::from_secs(ramp),
            members,
        }
    }

    #[test]
    fn every_member_stays_unless_a_stage_says_otherwise() {
        assert_eq!(
            Presence::new(Duration::from_secs(1), &[stage(5, 1.0, 0)]),
            None
        );
    }

    #[test]
    fn a_herd_leaves_at_once_and_comes_back_at_once() {
        // Warm-up 2 s, 10 s of everyone, 5 s of 40%, then everyone again.
        let p = Presence::new(
            Duration::from_secs(2),
            &[stage(10, 1.0, 0), stage(5, 0.4, 0), stage(10, 1.0, 0)],
        )
        .expect("members change");
        let ranks: Vec<f64> = (0..10).map(|k| rank(k, 10)).collect();
        let present = |t: f64| ranks.iter().filter(|r| p.present(t, **r)).count();
        assert_eq!([present(0.0), present(11.9), present(12.0)], [10, 10, 4]);
        assert_eq!([present(16.9), present(17.0), present(99.0)], [4, 10, 10]);
        // The fifth receiver leaves at 12 s and is back at 17 s; the first never leaves.
        assert_eq!(p.next(3.0, rank(4, 10), false), 12.0);
        assert_eq!(p.next(12.0, rank(4, 10), true), 17.0);
        assert_eq!(p.next(17.0, rank(4, 10), false), f64::INFINITY);
        assert_eq!(p.next(0.0, rank(0, 10), false), f64::INFINITY);
    }

    #[test]
    fn a_ramp_spreads_the_leaves_and_the_joins() {
        // Warm-up 0, 4 s of everyone, a 4 s ramp down to 0 (then 2 s of none), a 2 s ramp up.
        let p = Presence::new(
            Duration::ZERO,
            &[stage(4, 1.0, 0), stage(6, 0.0, 4), stage(4, 1.0, 2)],
        )
        .expect("members change");
        // Rank 0.75 leaves when the share falls to 0.75, one second into the ramp down,
        // and is back just after the share climbs past it, 1.5 s into the ramp up.
        let leave = p.next(0.0, 0.75, false);
        assert!((leave - 5.0).abs() < 1e-9, "{leave}");
        let back = p.next(leave, 0.75, true);
        assert!((back - 11.5).abs() < 2e-3, "{back}");
        assert!(p.present(back, 0.75) && !p.present(back - 0.01, 0.75));
        // Rank 0 leaves at the end of the ramp down (share 0) and is back at once on the rise.
        assert!((p.next(0.0, 0.0, false) - 8.0).abs() < 1e-9);
        let first_back = p.next(8.0, 0.0, true);
        assert!(first_back > 10.0 && first_back < 10.01, "{first_back}");
    }

    #[test]
    fn members_absent_from_the_start_leave_as_the_warm_up_begins() {
        let p = Presence::new(
            Duration::from_secs(2),
            &[stage(5, 0.5, 0), stage(5, 1.0, 0)],
        )
        .expect("members change");
        assert_eq!(p.next(0.0, rank(1, 2), false), 0.0);
        assert_eq!(p.next(0.0, rank(1, 2), true), 7.0);
        assert_eq!(p.next(0.0, rank(0, 2), false), f64::INFINITY);
    }
}
