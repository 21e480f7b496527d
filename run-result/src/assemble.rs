//! Totals into a result: the summary, the per-second series, the thresholds and the encoded
//! histograms are all derived from one [`Totals`], by loadgen and by `reports merge` alike.

use crate::histogram;
use crate::part::{Breakdown, Part, PartInfo};
use crate::result::PartResult;
use crate::result::{
    Config, Connections, Latency, Machine, RampPoint, RunResult, SCHEMA_VERSION, SecondResult,
    Summary, ThresholdResult, Tool,
};
use crate::threshold::Held;
use crate::totals::{HISTOGRAMS, Totals};

/// What a result is made of, besides the measurements themselves.
#[derive(Debug)]
pub struct Parts<'a> {
    pub totals: &'a Totals,
    pub config: Config,
    pub machine: Machine,
    pub started_at: String,
    pub interrupted: bool,
    /// Connections planned.
    pub planned: u64,
    pub measured_s: f64,
    /// What the run is held to, each marked as given or a default.
    pub thresholds: &'a [Held],
    pub ramp: Vec<RampPoint>,
    /// What the parts of the run are (groups, size classes, stages).
    pub breakdown: &'a Breakdown,
}

impl RunResult {
    /// The result of `parts.totals`: summary, thresholds, series and histograms all derived
    /// from the one set of totals.
    pub fn assemble(parts: Parts<'_>) -> Self {
        let totals = parts.totals;
        let summary = Summary::from_totals(totals, parts.planned, parts.measured_s);
        let histograms = HISTOGRAMS
            .iter()
            .map(|named| {
                let h = (named.get)(totals);
                (named.name.to_owned(), histogram::encode(h))
            })
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
            groups: parts_of(&totals.groups, &parts.breakdown.groups, parts.measured_s),
            size_classes: parts_of(&totals.classes, &parts.breakdown.classes, parts.measured_s),
            stages: stages(totals, &parts.breakdown.stages, parts.measured_s),
            readers: parts_of(&totals.readers, &parts.breakdown.readers, parts.measured_s),
            summary,
            series: series(totals),
            ramp: parts.ramp,
            histograms,
            shard: None,
            merged_shards: None,
            client: None,
            server: None,
            wire: None,
            aborted: None,
        }
    }
}

impl Summary {
    pub fn from_totals(t: &Totals, planned: u64, measured_s: f64) -> Self {
        let missing = t.expected.saturating_sub(t.delivered);
        Self {
            connections: Connections {
                planned,
                established: t.connected,
                failed: t.connect_failed,
            },
            sent: t.sent,
            expected: t.expected,
            delivered: t.delivered,
            missing,
            loss: if t.expected == 0 {
                0.0
            } else {
                missing as f64 / t.expected as f64
            },
            duplicates: t.duplicates,
            reordered: t.reordered,
            cross_room: t.cross_room,
            foreign: t.foreign,
            completed_messages: t.completion.len(),
            measured_s,
            deliveries_per_s: if measured_s > 0.0 {
                t.delivered as f64 / measured_s
            } else {
                0.0
            },
            latency_us: Latency::of(&t.latency),
            latency_sent_us: Latency::of(&t.latency_sent),
            completion_us: Latency::of(&t.completion),
            first_us: Latency::of(&t.first),
            connect_us: Latency::of(&t.connect),
            send_lateness_us: Latency::of(&t.send_lateness),
            tcp_connect_us: Latency::of(&t.tcp_connect),
            tls_handshake_us: Latency::of(&t.tls_handshake),
            upgrade_us: Latency::of(&t.upgrade),
            leaves: t.leaves,
            outside_membership: t.outside_membership,
            order_conflicts: t.order_conflicts,
            order_witness: t.order_witness.clone(),
            causal_violations: t.causal_violations,
            causal_witness: t.causal_witness.clone(),
            causal_unchecked: t.causal_unchecked,
            join_us: Latency::of(&t.join),
            reconnects: t.reconnects.clone(),
            away: t.away,
            reconnect_us: Latency::of(&t.reconnect),
            closes: t
                .closes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            errors: t.errors.clone(),
        }
    }
}

pub fn check_thresholds(summary: &Summary, thresholds: &[Held]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|h| ThresholdResult {
            default: h.default,
            ..h.threshold.check(summary)
        })
        .collect()
}

/// Each part of a breakdown, named by its info (a part nothing was recorded in is empty).
fn parts_of(parts: &[Part], infos: &[PartInfo], measured_s: f64) -> Vec<PartResult> {
    let empty = Part::default();
    infos
        .iter()
        .enumerate()
        .map(|(i, info)| parts.get(i).unwrap_or(&empty).result(info, measured_s))
        .collect()
}

/// How much above the level before a spike a second's p99 may be and count as recovered.
pub const RECOVERED_WITHIN: f64 = 1.2;

/// The stages, each after a spike with its recovery time: from the spike's end to the start of
/// the first measured second whose p99 is at most [`RECOVERED_WITHIN`] times the p99 of the
/// stage before the spike.
fn stages(totals: &Totals, infos: &[PartInfo], measured_s: f64) -> Vec<PartResult> {
    let mut out = parts_of(&totals.stages, infos, measured_s);
    for i in 1..out.len().saturating_sub(1) {
        let (before, spike, after) = (&infos[i - 1], &infos[i], &infos[i + 1]);
        let rate = |p: &PartInfo| p.rate.unwrap_or(1.0);
        if rate(spike) <= rate(before) || rate(spike) <= rate(after) {
            continue;
        }
        if out[i - 1].latency_us.count == 0 {
            continue;
        }
        let level = out[i - 1].latency_us.p99 as f64 * RECOVERED_WITHIN;
        let end = spike.span.map_or(0.0, |s| s.1);
        out[i].recovery_s = totals
            .series
            .iter()
            .enumerate()
            .skip(end.ceil() as usize)
            .find(|(_, s)| {
                !s.latency.is_empty() && s.latency.value_at_quantile(0.99) as f64 <= level
            })
            .map(|(second, _)| (second as f64 - end).max(0.0));
    }
    out
}

/// The per-second series of `totals`.
pub fn series(totals: &Totals) -> Vec<SecondResult> {
    totals
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
            connected: s.connected,
            reconnects: s.reconnects,
            missing: s.missing,
        })
        .collect()
}
