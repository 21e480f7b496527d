//! The result's types: what `loadgen --json` writes, described by `run-result/schema.json`.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::witness::{CausalWitness, OrderWitness};

/// How sends are spaced in time (`--arrival`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced.
    Fixed,
    /// Exponential gaps (a Poisson process) with the same mean.
    Poisson,
}

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    pub tool: Tool,
    pub started_at: String,
    /// True when Ctrl-C ended the run early: the figures cover only what ran.
    pub interrupted: bool,
    pub config: Config,
    pub machine: Machine,
    pub summary: Summary,
    pub thresholds: Vec<ThresholdResult>,
    pub series: Vec<SecondResult>,
    /// Connections established during the ramp-up, sampled every 100 ms.
    pub ramp: Vec<RampPoint>,
    /// Every histogram in the HdrHistogram V2 compressed format, base64: merge runs exactly.
    pub histograms: BTreeMap<String, String>,
    /// The shard of a plan this run was (`--shard K/N`); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// The shards `reports merge` made this result from; absent for a single run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<MergedShards>,
    /// How loaded loadgen itself was, and whether it limited the run; absent in merged
    /// results and in results from before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::client::ClientLoad>,
    /// The server's CPU per delivery and memory per connection (`--server-metrics`, or the
    /// embedded server's threads); absent when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::server::ServerLoad>,
    /// Bytes on the wire in the measured window, and permessage-deflate; absent in merged
    /// results and in results from before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<crate::wire::WireLoad>,
    /// By room group of the workload, in its order (absent in results from before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<PartResult>,
    /// By room-size class: rooms of 1, 2, 3-4, 5-8, ... members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub size_classes: Vec<PartResult>,
    /// By stage of the workload: the messages scheduled in each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<PartResult>,
    /// By reader: the healthy members and each kind of slow reader (`--slow-readers`), by
    /// the receiving member; absent without slow readers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<PartResult>,
    /// Why `--abort-on` ended the measurement early; absent when it ran its course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
}

/// One shard's place in its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// K of K/N, from 0.
    pub index: u32,
    /// N.
    pub count: u32,
    /// Identifies the plan (every flag that shapes the load, the shard count and the start
    /// time, hashed): shards of one plan carry the same.
    pub plan_id: String,
    /// `--start-at`, RFC 3339 (UTC), if given.
    #[serde(default)]
    pub start_at: Option<String>,
    /// Rooms this shard owned (rooms K, K+N, ...).
    pub rooms: u32,
    /// How late its warm-up started after `--start-at`, in ms (0: on time).
    #[serde(default)]
    pub late_ms: u64,
    /// Connections open when sending started (of `summary.connections.planned`).
    #[serde(default)]
    pub connected_at_start: u64,
}

impl std::fmt::Display for MergedShards {
    /// `shards [0, 1, 2] of 3 (plan ...)`, and what was missing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shards {:?} of {} (plan {})",
            self.merged, self.count, self.plan_id
        )?;
        if self.partial {
            write!(f, ", PARTIAL: missing {:?}", self.missing)?;
        }
        Ok(())
    }
}

/// What a merge of shards held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShards {
    pub plan_id: String,
    /// N.
    pub count: u32,
    /// The indices merged.
    pub merged: Vec<u32>,
    /// Indices missing (only with `--allow-partial`).
    pub missing: Vec<u32>,
    /// True when shards were missing: the totals cover only the merged shards' rooms.
    pub partial: bool,
    /// Shards whose warm-up started after `--start-at`, with how late (ms).
    #[serde(default)]
    pub late: BTreeMap<u32, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub targets: Vec<String>,
    /// True when the targets are the embedded reference server.
    pub embedded_server: bool,
    pub rooms: u32,
    pub clients: u32,
    pub senders: u32,
    pub rate: f64,
    pub arrival: Arrival,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub settle_s: f64,
    pub connect_rate: f64,
    /// Each message's text length in bytes; with `sizes`, the smallest that can be sent.
    pub size: usize,
    /// The distribution message lengths were drawn from (`--size lognormal:...`); absent for
    /// one fixed size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizes: Option<String>,
    /// What padded the text after the stamp when not `x`: `words`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub seed: u64,
    pub source_ips: Vec<String>,
    pub workers: usize,
    /// The socket's path template (`--ws-path`); empty in results from before it existed.
    #[serde(default)]
    pub ws_path: String,
    /// How rooms were named (`--room-style`); `word` in results from before it existed (the
    /// only style then).
    #[serde(default = "word")]
    pub room_style: String,
    /// The names (never the values) of the extra handshake headers (`--header`, `--cookie`).
    #[serde(default)]
    pub headers: Vec<String>,
    /// With churn: a member's mean time in its room, in seconds, before it leaves and
    /// rejoins (`--session`, or receivers / `--churn`); absent without churn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn_session_s: Option<f64>,
    /// With answers (`--replies`, or a group's `replies`): the largest chance of answering a
    /// received message; absent without answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<f64>,
    /// With `--reconnect`: the backoff's bounds in seconds (first, largest); absent without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_s: Option<[f64; 2]>,
    /// The workload, as `loadgen --print-workload` writes it (TOML): what shaped the load,
    /// whether it came from `--workload FILE` or from the flags. Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// `--workload`'s file as given; absent for a run of flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_file: Option<String>,
}

impl Config {
    /// What the messages were, when not one size padded with `x`: `lognormal:... bytes of
    /// words`.
    pub fn messages_shown(&self) -> Option<String> {
        (self.sizes.is_some() || self.text.is_some()).then(|| {
            format!(
                "{} bytes of {}",
                self.sizes.clone().unwrap_or_else(|| self.size.to_string()),
                self.text.as_deref().unwrap_or("x")
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    pub planned: u64,
    pub established: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    /// The figures of one histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub connections: Connections,
    /// Measured messages sent (warm-up excluded).
    pub sent: u64,
    /// Sum over sent messages of the members present when each was sent.
    pub expected: u64,
    /// Distinct deliveries of measured messages to members of their own room.
    pub delivered: u64,
    /// Expected deliveries that had not arrived when the settle time ended.
    pub missing: u64,
    /// `missing / expected`.
    pub loss: f64,
    pub duplicates: u64,
    /// Deliveries that arrived after a later message of the same sender.
    pub reordered: u64,
    /// Deliveries of another room's message.
    pub cross_room: u64,
    /// Frames without a loadgen stamp.
    pub foreign: u64,
    /// Messages every member present received.
    pub completed_messages: u64,
    pub measured_s: f64,
    pub deliveries_per_s: f64,
    /// Fan-out latency from the scheduled send time (free of coordinated omission).
    pub latency_us: Latency,
    /// Fan-out latency from the actual send time.
    pub latency_sent_us: Latency,
    /// Scheduled send until the last member present had the message.
    pub completion_us: Latency,
    /// Scheduled send until the first member had the message (absent from results written
    /// before it was measured).
    #[serde(default)]
    pub first_us: Latency,
    pub connect_us: Latency,
    /// Actual minus scheduled send time, per measured send: how late the load generator was
    /// (absent from results written before it was measured).
    #[serde(default)]
    pub send_lateness_us: Latency,
    /// The connect's parts (absent from results written before they were measured): TCP
    /// connect, TLS handshake (count 0 without TLS), WebSocket upgrade.
    #[serde(default)]
    pub tcp_connect_us: Latency,
    #[serde(default)]
    pub tls_handshake_us: Latency,
    #[serde(default)]
    pub upgrade_us: Latency,
    /// With churn (`--churn`, `--session`) or stages that keep a share of the members (0
    /// otherwise and in older files): members that left, deliveries of a message broadcast before the member asked to join (after it left,
    /// for a member that rejoined), and a rejoining member's handshake start until its first
    /// delivery.
    #[serde(default)]
    pub leaves: u64,
    #[serde(default)]
    pub outside_membership: u64,
    /// Pairs of a room's messages two members received in opposite orders (0 in older
    /// files), and the first such pair's evidence.
    #[serde(default)]
    pub order_conflicts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_witness: Option<OrderWitness>,
    /// With answers (`--replies`): answers a member received before the message they
    /// answer (0 in older files), and the first one's evidence.
    #[serde(default)]
    pub causal_violations: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causal_witness: Option<CausalWitness>,
    /// With answers: answers that came before their question while the stay held its bound
    /// of such answers (4,096), so not checked (0 in older files).
    #[serde(default)]
    pub causal_unchecked: u64,
    #[serde(default)]
    pub join_us: Latency,
    /// With `--reconnect` (empty or 0 otherwise and in older files): connections that ended
    /// without the run asking, by cause (each followed by reconnecting); measured messages
    /// sent to a member's room while it was away, which are not expected of it; and from a
    /// connection's end to the member's first delivery after reconnecting.
    #[serde(default)]
    pub reconnects: BTreeMap<String, u64>,
    #[serde(default)]
    pub away: u64,
    #[serde(default)]
    pub reconnect_us: Latency,
    /// Close frames the server sent, by code.
    pub closes: BTreeMap<String, u64>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub threshold: String,
    /// The metric's value; null for a latency whose histogram had no samples (such a
    /// threshold fails).
    pub actual: Option<f64>,
    pub passed: bool,
    /// A bound the tool applied: a core metric the run did not name (`loss=0`, ...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

impl ThresholdResult {
    /// The actual figure in its metric's unit (`1.250 ms`, `0.100 %`, `3`), or `no samples`.
    pub fn actual_shown(&self) -> String {
        match self.actual {
            None => "no samples".into(),
            Some(v) => self
                .threshold
                .parse::<crate::Threshold>()
                .map_or_else(|_| v.to_string(), |t| t.metric.show(v)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondResult {
    pub second: usize,
    pub sends: u64,
    pub deliveries: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Members connected at the end of the second (0 in older files).
    #[serde(default)]
    pub connected: u64,
    /// Connections that ended without the run asking, in this second.
    #[serde(default)]
    pub reconnects: u64,
    /// Deliveries of this second's messages that never arrived.
    #[serde(default)]
    pub missing: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampPoint {
    /// Milliseconds since the run's clock started.
    pub ms: u64,
    pub connected: u64,
    pub failed: u64,
}

/// The room style of results written before `--room-style` existed.
fn word() -> String {
    "word".into()
}

/// One part of a run in its result: a room group, a room-size class or a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartResult {
    pub name: String,
    /// A group or size class: its rooms and their members (this shard's, in a shard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u64>,
    /// A stage: the seconds of the measured run it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_s: Option<f64>,
    /// A stage: its rate multiplier once any ramp is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub sent: u64,
    /// `delivered + missing`.
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    pub loss: f64,
    /// Deliveries per second: over the stage's span, or over the measured run.
    pub deliveries_per_s: f64,
    pub latency_us: Latency,
    pub first_us: Latency,
    pub completion_us: Latency,
    /// A stage whose rate is above the next one's (a spike): seconds from its end until the
    /// first second whose p99 is back within the level before it; null if not within the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_s: Option<f64>,
    /// A reader kind: close codes its members' connections ended with, by code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub closes: BTreeMap<String, u64>,
    /// An impaired reader kind on a kernel link (`--impair` with loss or rate): the TCP
    /// segments retransmitted over its link, each way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmits: Option<Retransmits>,
    /// `latency_us`, `first_us`, `completion_us` in HdrHistogram V2, base64.
    pub histograms: BTreeMap<String, String>,
}

/// TCP segments retransmitted over an impaired link (the kernel's `RetransSegs` of each end's
/// network namespace, which holds only that link's sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Retransmits {
    /// By the relay's end: segments toward the members (deliveries).
    pub to_members: u64,
    /// By the members' end: their sends and handshakes.
    pub from_members: u64,
}
