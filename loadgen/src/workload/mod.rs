//! A workload: what load a run makes, as room groups and stages in time. `--workload FILE`
//! reads one ([`file`]); a run of flags is the one-group, one-stage workload they mean
//! (`Opts::flags_workload`), and `--print-workload` writes either as TOML ([`print`]).
//! [`layout`] draws every room's size, senders and rates from it (seeded: the same workload
//! and seed give the same rooms, in every shard); [`curve`] is the stages' rate over time.
//!
//! The format is documented in docs/loadgen.md ("Workloads").

mod arrival;
pub mod curve;
pub mod file;
pub mod fill;
mod impaired;
pub mod layout;
pub mod presence;
pub mod print;
mod slow;
mod values;

pub use arrival::{Arrivals, Process};
pub use curve::Curve;
pub use impaired::{Impair, Link};
pub use layout::{Layout, RoomPlan};
pub use presence::Presence;
pub use slow::SlowReaders;
pub(crate) use values::chance;

use std::time::Duration;

use crate::dist::Dist;
use run_result::Threshold;
use stamp::Fill;

/// The whole workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Seeds every draw: room sizes, rates, schedules, message lengths and text.
    pub seed: u64,
    /// Sending before the measurement starts, at the first stage's rate.
    pub warmup: Duration,
    /// After the last send, how long to wait for late deliveries.
    pub settle: Duration,
    pub groups: Vec<Group>,
    /// At least one; the measured run is their durations end to end.
    pub stages: Vec<Stage>,
    /// Added to `--threshold`'s.
    pub thresholds: Vec<Threshold>,
    /// How a member whose connection ended unasked comes back; `None`: it does not.
    pub reconnect: Option<Reconnect>,
}

/// `--reconnect`: a member whose connection ended unasked connects again after a backoff with
/// full jitter, from `min` doubling up to `max` (`comeback.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    pub min: Duration,
    pub max: Duration,
}

/// Rooms alike in how they are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub rooms: u32,
    pub members: Members,
    pub senders: Senders,
    pub activity: Activity,
    pub rate: Rate,
    pub arrival: Process,
    /// Each message's text length in bytes (a draw below the stamp's 48 is raised to it).
    pub size: Dist,
    pub text: Fill,
    /// Receiving members leave and rejoin after an exponential time in the room with this
    /// mean (churn); `None`: they stay.
    pub session: Option<Duration>,
    /// The chance that a sending member answers a measured message of another sender it
    /// receives: its next send then names that message (causal order, `--replies`).
    pub replies: f64,
    /// Receiving members that read slowly (`--slow-readers`), if any.
    pub slow_readers: Option<SlowReaders>,
    /// Receiving members on an impaired link (`--impair`), if any; a member is either
    /// impaired or a slow reader, never both.
    pub impair: Option<Impair>,
}

/// Each room's number of members.
#[derive(Debug, Clone, PartialEq)]
pub enum Members {
    /// Drawn per room.
    Drawn(Dist),
    /// One room per entry, of that many members.
    List(Vec<u32>),
}

/// Which members of a room send: the first ones; the rest only receive (lurkers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Senders {
    /// This many (at most the room's members).
    Count(u32),
    /// This per cent of the room's members, rounded, at least one.
    Share(f64),
}

/// How a room's rate is split among its senders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activity {
    /// Evenly.
    Even,
    /// The k-th sender (from 1) in proportion to `1 / k^s`: a few send most messages.
    Zipf(f64),
}

/// Messages per second of each room, at a stage rate of 1.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    /// Drawn per room, in messages per minute (a long tail of quiet rooms).
    PerMinute(Dist),
}

/// A span of the measured run at one rate multiplier, reached by a linear ramp from the
/// previous stage's.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    /// Whole seconds, so that stages line up with the per-second series.
    pub duration: Duration,
    /// Multiplies every room's rate (0 pauses sending).
    pub rate: f64,
    /// The first part of the stage, during which the multiplier goes linearly from the
    /// previous stage's to this one's; zero for the first stage.
    pub ramp: Duration,
    /// The share of each room's receiving members in the room (0 to 1; senders stay), reached
    /// by the same ramp: the members above the share leave, and come back when it rises.
    pub members: f64,
}

/// The group a run of flags makes.
pub const FLAGS_GROUP: &str = "rooms";
/// The stage a run of flags makes.
pub const FLAGS_STAGE: &str = "run";

impl Workload {
    /// The measured run: every stage end to end.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Rooms in all.
    pub fn rooms(&self) -> u32 {
        self.groups.iter().map(Group::room_count).sum()
    }

    /// Whether any members leave and rejoin: a group's churn, or a stage that keeps only a
    /// share of the members.
    pub fn churns(&self) -> bool {
        self.groups.iter().any(|g| g.session.is_some()) || self.presence().is_some()
    }

    /// Who is in the room over the run, if not everyone always.
    pub fn presence(&self) -> Option<Presence> {
        Presence::new(self.warmup, &self.stages)
    }

    /// Longest a leaving member waits for the messages of its stay before it closes.
    pub fn drain(&self) -> Duration {
        self.settle.max(Duration::from_secs(1))
    }

    /// The rate multiplier over time.
    pub fn curve(&self) -> Curve {
        Curve::new(self.warmup, &self.stages)
    }
}

impl Group {
    pub fn room_count(&self) -> u32 {
        match &self.members {
            Members::List(list) => list.len() as u32,
            Members::Drawn(_) => self.rooms,
        }
    }

    /// The most members a room of this group can have.
    pub fn max_members(&self) -> u64 {
        match &self.members {
            Members::List(list) => list.iter().copied().max().map_or(0, u64::from),
            Members::Drawn(d) => d.max(),
        }
    }
}
