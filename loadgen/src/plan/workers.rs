//! Who connects where and when: the plan spread over the worker threads, and what each
//! worker's connections need (how senders pace themselves, how members leave and come back).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Plan;
use crate::handshake::HandshakePlan;
use crate::target::Target;
use crate::workload::{Presence, Process, presence};

impl Plan {
    /// Each worker's connections. Rooms fill evenly as the ramp goes on (every room's first
    /// member, then every room's second, ...); members spread over the targets and the source
    /// addresses.
    pub fn workers(&self, targets: &[Target]) -> Vec<WorkerPlan> {
        let sources = &self.sources.0;
        let layout = &self.layout;
        let most = self
            .rooms
            .iter()
            .map(|r| layout.rooms[*r as usize].members)
            .max()
            .unwrap_or(0);
        let mut conns = Vec::with_capacity(self.connections as usize);
        // Per group: receivers planned so far, which picks its impaired members, and those
        // not impaired, which picks its slow readers.
        let mut receivers_of = vec![0u64; self.workload.groups.len()];
        let mut others_of = vec![0u64; self.workload.groups.len()];
        let kinds = self.reader_kinds();
        for member in 0..most {
            for &room in &self.rooms {
                let plan = &layout.rooms[room as usize];
                if member >= plan.members {
                    continue;
                }
                let i = conns.len();
                let rate = plan.senders.get(member as usize).copied();
                let senders = plan.senders.len() as u32;
                let group = usize::from(plan.group);
                let g = &self.workload.groups[group];
                let mut impaired = None;
                let mut slow = None;
                if rate.is_none() {
                    let j = receivers_of[group];
                    receivers_of[group] += 1;
                    impaired = g
                        .impair
                        .zip(kinds[group].impaired)
                        .and_then(|(i, kind)| i.picks(j).then_some(kind));
                    if impaired.is_none() {
                        let k = others_of[group];
                        others_of[group] += 1;
                        slow = g
                            .slow_readers
                            .zip(kinds[group].slow)
                            .and_then(|(s, kind)| s.picks(k).then_some((s.rate, kind)));
                    }
                }
                conns.push(ConnPlan {
                    room,
                    room_name: self.room_style.name(self.run_id, room),
                    group,
                    sender: rate.map(|rate| (member, rate)),
                    target: targets[member as usize % targets.len()].clone(),
                    // One default address: let connect() choose the port per destination.
                    // bind() to a port-0 address picks from one range shared by every
                    // destination, which runs out under TIME_WAIT long before the
                    // per-destination range does.
                    source: self.bind_sources.then(|| sources[i % sources.len()]),
                    connect_at_us: (i as f64 * 1e6 / self.connect_rate) as u64,
                    rank: presence::rank(
                        member.saturating_sub(senders),
                        plan.members.saturating_sub(senders),
                    ),
                    read_rate: slow.map(|s| s.0),
                    reader: slow.map(|s| s.1).or(impaired).unwrap_or(0),
                    impaired: impaired.is_some(),
                    via: None,
                });
            }
        }
        let (senders, receivers): (Vec<_>, Vec<_>) =
            conns.into_iter().partition(|c| c.sender.is_some());
        let presence = self.workload.presence().map(Arc::new);
        let plan = |conns| WorkerPlan {
            conns,
            sends: Arc::clone(&self.sends),
            connect_timeout: self.connect_timeout,
            handshake: Arc::clone(&self.handshake),
            churns: self.churns.clone(),
            presence: presence.clone(),
            drain: self.workload.drain(),
            reconnect: self.reconnect.clone(),
            windows: self.timing.windows,
            readers: kinds
                .iter()
                .any(|k| k.slow.is_some() || k.impaired.is_some()),
        };
        // Senders run on workers of their own, so a due send waits behind a few other senders
        // at most, not behind the frames of thousands of receiving connections (`pacer.rs`):
        // their share of `workers`, at least one. Receivers fill `workers`.
        let send_workers = match senders.len() {
            0 => 0,
            n => (n * self.workers)
                .div_ceil(self.connections as usize)
                .clamp(1, self.workers),
        };
        let receive_workers = if receivers.is_empty() {
            0
        } else {
            self.workers
        };
        let mut plans: Vec<WorkerPlan> = (0..send_workers + receive_workers)
            .map(|_| plan(Vec::new()))
            .collect();
        for (k, conn) in senders.into_iter().enumerate() {
            plans[k % send_workers].conns.push(conn);
        }
        for (k, conn) in receivers.into_iter().enumerate() {
            plans[send_workers + k % receive_workers].conns.push(conn);
        }
        plans
    }
}

/// One connection to open.
#[derive(Debug, Clone)]
pub struct ConnPlan {
    pub room: u32,
    pub room_name: String,
    /// Its room's group in the workload.
    pub group: usize,
    /// If this member sends: its index among the room's senders, and its messages per
    /// work second (`crate::workload::curve`).
    pub sender: Option<(u32, f64)>,
    pub target: Target,
    pub source: Option<IpAddr>,
    /// Microseconds on the run clock when to connect.
    pub connect_at_us: u64,
    /// A receiver's rank among its room's receivers (`crate::workload::presence`).
    pub rank: f64,
    /// A slow reader's pace, bytes a second (`--slow-readers`); `None` for a healthy member.
    pub read_rate: Option<u64>,
    /// Its reader kind (`Plan::reader_kinds`): 0 healthy.
    pub reader: usize,
    /// On its group's impaired link (`--impair`).
    pub impaired: bool,
    /// How it reaches the target when impaired: set once the link is built
    /// (`Links::route`, in loadgen's impair module).
    pub via: Option<endpoint::connect::Via>,
}

#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub conns: Vec<ConnPlan>,
    /// By group: how its senders pace themselves.
    pub sends: Arc<Vec<SendPlan>>,
    pub connect_timeout: Duration,
    pub handshake: Arc<HandshakePlan>,
    /// By group: how its receiving members leave and rejoin, if they do.
    pub churns: Vec<Option<ChurnPlan>>,
    /// Who is in the room over the run (the stages' `members`), if not everyone always.
    pub presence: Option<Arc<Presence>>,
    /// Longest a leaving member waits for the messages of its stay before it closes.
    pub drain: Duration,
    /// With --reconnect: how a member whose connection ended comes back.
    pub reconnect: Option<ReconnectPlan>,
    /// Whether each stay is held to what was sent while it lasted (`crate::window`).
    pub windows: bool,
    /// Whether members are counted by reader kind too (`--slow-readers`).
    pub readers: bool,
}

impl WorkerPlan {
    /// Whether each stay is held to what was sent while it lasted (`crate::window`).
    pub fn windows(&self) -> bool {
        self.windows
    }
}

/// How a member whose connection ended comes back (`--reconnect`): after a delay drawn
/// uniformly from zero to `min * 2^attempt`, at most `max` (full jitter), until the run ends.
#[derive(Debug, Clone)]
pub struct ReconnectPlan {
    pub min: Duration,
    pub max: Duration,
    pub seed: u64,
}

impl ReconnectPlan {
    /// The delay before attempt `attempt` (0 for the first after a drop), given a uniform
    /// draw `u` in [0, 1).
    pub fn delay(&self, attempt: u32, u: f64) -> Duration {
        let bound = self.min.saturating_mul(1 << attempt.min(20)).min(self.max);
        bound.mul_f64(u)
    }
}

/// How a receiving member leaves and rejoins (the worker's loop; `window.rs` accounts).
#[derive(Debug, Clone)]
pub struct ChurnPlan {
    /// Mean time in the room; each stay is exponential with this mean.
    pub mean_session: Duration,
    pub seed: u64,
}

/// How each sender of a group paces itself (its own rate is in its `ConnPlan`).
#[derive(Debug, Clone)]
pub struct SendPlan {
    pub arrival: Process,
    /// Each message's text length, drawn per message from the sender's generator.
    pub size: crate::dist::Dist,
    /// What pads each message after its stamp.
    pub text: stamp::Fill,
    pub seed: u64,
    /// The most senders a room has, and rooms in all, to spread the first sends over one gap.
    pub senders: u32,
    pub rooms: u32,
    /// With churn or --reconnect, each member's stay counts what it should get
    /// (`crate::window`), not the sender at send time.
    pub windows: bool,
    /// The chance of answering a received message (`--replies`).
    pub replies: f64,
}
