//! When a receiving member leaves its room of its own accord and when it comes back: churn
//! (each stay exponential with the group's mean, then an immediate rejoin) and the stages'
//! `members` share (`crate::workload::presence`: out while the share is at or below its
//! rank, back when it rises above). Both at once: it leaves at whichever comes first and
//! rejoins only while the share lets it. `window.rs` accounts for each stay either way.

use std::time::Duration;

use crate::shared::{Schedule, Shared};
use crate::workload::Presence;

/// What decides one stay's end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leave<'a> {
    /// Churn: the stay lasts this long (from the start of sending, if it began before).
    pub after: Option<Duration>,
    /// The stages' share, and the member's rank among its room's receivers.
    pub presence: Option<(&'a Presence, f64)>,
}

impl Leave<'_> {
    /// When the member leaves on the run clock, for a stay under way at `now_us`: `None`
    /// if it stays to the end of sending (after which every member stays to the end).
    pub fn at(&self, now_us: u64, schedule: &Schedule) -> Option<u64> {
        let from_us = now_us.max(schedule.warmup_start_us);
        let churn = self
            .after
            .map(|d| from_us + d.as_micros() as u64)
            .filter(|at| *at < schedule.end_us);
        let presence = self
            .presence
            .and_then(|(presence, rank)| change(presence, rank, false, from_us, schedule));
        churn.into_iter().chain(presence).min()
    }
}

/// Before a (re)join: waits until the member of `rank` is in the room. False if it is not
/// again before sending ends, or the run finished meanwhile. Before the schedule is known
/// (the first connection) every member joins: one the first stage leaves out leaves as the
/// warm-up begins.
pub async fn until_present(shared: &Shared, presence: Option<(&Presence, f64)>) -> bool {
    let (Some((presence, rank)), Some(schedule)) = (presence, *shared.schedule.borrow()) else {
        return true;
    };
    let Some(at_us) = change(presence, rank, true, shared.now_us(), &schedule) else {
        return false;
    };
    tokio::select! {
        () = tokio::time::sleep_until(shared.at(at_us).into()) => true,
        () = shared.finish.cancelled() => false,
    }
}

/// The first instant on the run clock, from `now_us` (or the warm-up's start) and before
/// sending ends, at which a receiver of `rank` is in the room (`present`) or out of it.
fn change(
    presence: &Presence,
    rank: f64,
    present: bool,
    now_us: u64,
    schedule: &Schedule,
) -> Option<u64> {
    let from_s = now_us.saturating_sub(schedule.warmup_start_us) as f64 / 1e6;
    let t = presence.next(from_s, rank, present);
    // An infinite time (never) saturates past the end of sending.
    let at_us = schedule.warmup_start_us.saturating_add((t * 1e6) as u64);
    (at_us < schedule.end_us).then_some(at_us)
}
