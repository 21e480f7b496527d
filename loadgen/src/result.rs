//! The JSON result (`--json`), described by the committed `loadgen/schema.json`.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::opts::{Arrival, Opts};
use crate::stats::WorkerStats;
use crate::threshold::{Metric, Percentile, Threshold};

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
    pub size: usize,
    pub seed: u64,
    pub source_ips: Vec<String>,
    pub workers: usize,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    fn of(h: &Histogram<u64>) -> Self {
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
    pub connect_us: Latency,
    /// Close frames the server sent, by code.
    pub closes: BTreeMap<String, u64>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub threshold: String,
    pub actual: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondResult {
    pub second: usize,
    pub sends: u64,
    pub deliveries: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampPoint {
    /// Milliseconds since the run's clock started.
    pub ms: u64,
    pub connected: u64,
    pub failed: u64,
}

/// What a result is made of, besides the measurements themselves.
#[derive(Debug)]
pub struct Parts<'a> {
    pub stats: &'a WorkerStats,
    pub config: Config,
    pub machine: Machine,
    pub started_at: String,
    pub interrupted: bool,
    /// Connections planned.
    pub planned: u64,
    pub measured_s: f64,
    pub thresholds: &'a [Threshold],
    pub ramp: Vec<RampPoint>,
}

impl RunResult {
    /// The result of `parts.stats`: summary, thresholds, series and histograms all derived
    /// from the one set of stats.
    pub fn assemble(parts: Parts<'_>) -> Self {
        let stats = parts.stats;
        let summary = Summary::from_stats(stats, parts.planned, parts.measured_s);
        let histograms = [
            ("latency_us", &stats.latency),
            ("latency_sent_us", &stats.latency_sent),
            ("completion_us", &stats.completion),
            ("connect_us", &stats.connect),
        ]
        .into_iter()
        .map(|(name, h)| (name.to_owned(), encode_histogram(h)))
        .collect();
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "loadgen".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            started_at: parts.started_at,
            interrupted: parts.interrupted,
            config: parts.config,
            machine: parts.machine,
            thresholds: check_thresholds(&summary, parts.thresholds),
            summary,
            series: series(stats),
            ramp: parts.ramp,
            histograms,
        }
    }
}

/// The HdrHistogram V2 compressed encoding, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serialising into a Vec only fails on values the histogram cannot hold.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Summary {
    pub fn from_stats(stats: &WorkerStats, planned: u64, measured_s: f64) -> Self {
        let missing = stats.expected.saturating_sub(stats.delivered);
        Self {
            connections: Connections {
                planned,
                established: stats.connected,
                failed: stats.connect_failed,
            },
            sent: stats.sent,
            expected: stats.expected,
            delivered: stats.delivered,
            missing,
            loss: if stats.expected == 0 {
                0.0
            } else {
                missing as f64 / stats.expected as f64
            },
            duplicates: stats.duplicates,
            reordered: stats.reordered,
            cross_room: stats.cross_room,
            foreign: stats.foreign,
            completed_messages: stats.completion.len(),
            measured_s,
            deliveries_per_s: if measured_s > 0.0 {
                stats.delivered as f64 / measured_s
            } else {
                0.0
            },
            latency_us: Latency::of(&stats.latency),
            latency_sent_us: Latency::of(&stats.latency_sent),
            completion_us: Latency::of(&stats.completion),
            connect_us: Latency::of(&stats.connect),
            closes: stats
                .closes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            errors: stats.errors.clone(),
        }
    }

    /// The value a threshold is compared with.
    pub fn value_of(&self, metric: Metric) -> f64 {
        let l = &self.latency_us;
        match metric {
            Metric::Latency(Percentile::P50) => l.p50 as f64,
            Metric::Latency(Percentile::P90) => l.p90 as f64,
            Metric::Latency(Percentile::P99) => l.p99 as f64,
            Metric::Latency(Percentile::P999) => l.p999 as f64,
            Metric::Latency(Percentile::Max) => l.max as f64,
            Metric::ConnectP99 => self.connect_us.p99 as f64,
            Metric::CompletionP99 => self.completion_us.p99 as f64,
            Metric::Loss => self.loss,
            Metric::Missing => self.missing as f64,
            Metric::Duplicates => self.duplicates as f64,
            Metric::Reordered => self.reordered as f64,
            Metric::CrossRoom => self.cross_room as f64,
            Metric::Errors => {
                let abnormal: u64 = self
                    .closes
                    .iter()
                    .filter(|(code, _)| code.as_str() != "1000")
                    .map(|(_, n)| n)
                    .sum();
                (self.connections.failed + self.errors.values().sum::<u64>() + abnormal) as f64
            }
        }
    }
}

pub fn check_thresholds(summary: &Summary, thresholds: &[Threshold]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let actual = summary.value_of(t.metric);
            ThresholdResult {
                threshold: t.to_string(),
                actual,
                passed: t.holds(actual),
            }
        })
        .collect()
}

pub fn series(stats: &WorkerStats) -> Vec<SecondResult> {
    stats
        .series
        .iter()
        .enumerate()
        .map(|(second, s)| SecondResult {
            second,
            sends: s.sends,
            deliveries: s.deliveries,
            p50_us: s.latency.value_at_quantile(0.5),
            p99_us: s.latency.value_at_quantile(0.99),
            max_us: s.latency.max(),
        })
        .collect()
}

pub fn config(
    opts: &Opts,
    targets: &[String],
    embedded: bool,
    sources: &[String],
    workers: usize,
) -> Config {
    Config {
        targets: targets.to_vec(),
        embedded_server: embedded,
        rooms: opts.rooms,
        clients: opts.clients,
        senders: opts.senders,
        rate: opts.rate,
        arrival: opts.arrival,
        duration_s: opts.duration.as_secs_f64(),
        warmup_s: opts.warmup.as_secs_f64(),
        settle_s: opts.settle.as_secs_f64(),
        connect_rate: opts.connect_rate,
        size: opts.size,
        seed: opts.seed,
        source_ips: sources.to_vec(),
        workers,
    }
}

pub fn machine() -> Machine {
    Machine {
        hostname: hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
