//! Where `drop_rate` applies: everywhere, or only in big rooms (`drop_over_members`), or only
//! for a while (`drop_window`): loss a test can place in one room group or one stage of a
//! workload and then look for there and nowhere else.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use crate::Faults;

/// When the server broadcast its first message: the origin of `drop_window`.
#[derive(Debug, Default)]
pub(crate) struct FirstBroadcast(OnceLock<Instant>);

impl FirstBroadcast {
    /// Time since the first broadcast (this one, if it is the first).
    fn since(&self) -> Duration {
        self.0.get_or_init(Instant::now).elapsed()
    }
}

/// Whether this broadcast, in a room of `members`, may drop deliveries.
pub(crate) fn dropping(faults: &Faults, members: usize, first: &FirstBroadcast) -> bool {
    if faults.drop_rate <= 0.0 {
        return false;
    }
    let big_enough = faults.drop_over_members.is_none_or(|n| members > n);
    let in_window = faults
        .drop_window
        .is_none_or(|(from, to)| (from..to).contains(&first.since()));
    big_enough && in_window
}
