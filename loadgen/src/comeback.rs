//! `--reconnect`: a member whose connection ended without the run asking (a close frame, a
//! reset, the end of TCP) connects again after a backoff with full jitter, and again after
//! each failed attempt, until the run ends. One place owns the policy and its accounting:
//!
//! - the lost stay stops expecting after the last message it received from each sender (what
//!   was in flight when the connection went cannot be told from what the loss took);
//! - the loss is counted by its cause, in the second it happened;
//! - what was sent from there until the next 101 is `away`, not expected of the member;
//! - the time from the loss to the first delivery after reconnecting is recorded
//!   (`receive.rs`, through `Member::dropped_at_us`).

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::plan::{ConnPlan, ReconnectPlan};
use crate::receive::Member;
use crate::shared::Shared;
use run_result::Totals;

/// One member's reconnection state across its connections.
#[derive(Debug)]
pub struct Comeback {
    plan: Option<ReconnectPlan>,
    rng: StdRng,
    /// Failed attempts since the connection was lost.
    attempt: u32,
    /// When the connection was lost (run clock, µs), until the next 101.
    lost_at_us: Option<u64>,
    /// Per sender, where the lost stay stopped expecting.
    away_from: Option<Vec<u32>>,
}

impl Comeback {
    pub fn new(plan: Option<ReconnectPlan>, conn: &ConnPlan) -> Self {
        let seed = plan.as_ref().map_or(0, |p| p.seed);
        Self {
            plan,
            rng: StdRng::seed_from_u64(seed ^ conn.connect_at_us.rotate_left(17) ^ 0x5eed),
            attempt: 0,
            lost_at_us: None,
            away_from: None,
        }
    }

    /// Before a connection attempt: after a loss, waits the backoff (a uniform draw up to
    /// `min * 2^attempt`, at most `max`). False if the run finished meanwhile.
    pub async fn wait(&mut self, shared: &Shared) -> bool {
        let (Some(plan), Some(_)) = (&self.plan, self.lost_at_us) else {
            return true;
        };
        let delay = plan.delay(self.attempt, self.rng.random());
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = shared.finish.cancelled() => false,
        }
    }

    /// An attempt failed: true when the member is coming back and tries again.
    pub fn failed(&mut self) -> bool {
        if self.plan.is_some() && self.lost_at_us.is_some() {
            self.attempt += 1;
            return true;
        }
        false
    }

    /// A connection's 101: after a loss, what was sent while away is counted, and the
    /// member's first delivery will be timed from the loss.
    pub fn connected(&mut self, member: &mut Member, shared: &Shared, stats: &RefCell<Totals>) {
        self.attempt = 0;
        if let (Some(away_from), Some(window)) = (self.away_from.take(), &member.window) {
            let first_measured = shared.of_room(&shared.first_measured, member.room);
            let away: u64 = window
                .from()
                .iter()
                .zip(&away_from)
                .zip(&first_measured)
                .map(|((back, gone), first)| u64::from(back.saturating_sub(*gone.max(first))))
                .sum();
            stats.borrow_mut().away += away;
        }
        member.dropped_at_us = self.lost_at_us.take();
    }

    /// The connection ended unasked (`cause`): with `--reconnect`, and unless the run is
    /// finishing, the loss is accounted for and the member comes back (true).
    pub fn lost(
        &mut self,
        cause: &str,
        member: &mut Member,
        shared: &Shared,
        stats: &RefCell<Totals>,
    ) -> bool {
        if self.plan.is_none() || shared.finish.is_cancelled() {
            return false;
        }
        let published = shared.of_room(&shared.published, member.room);
        let until: Vec<u32> = match &member.window {
            Some(w) => member
                .received_until(w.from())
                .into_iter()
                .zip(&published)
                .map(|(got, sent)| got.min(*sent))
                .collect(),
            None => published,
        };
        if let Some(w) = &mut member.window {
            w.leave(until.clone());
        }
        self.away_from = Some(until);
        let now = shared.now_us();
        self.lost_at_us = Some(now);
        stats
            .borrow_mut()
            .reconnected(cause, shared.measured_second(now));
        true
    }
}
