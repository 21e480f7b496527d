//! The mergeable totals of a run: histograms are added, counters summed, seconds aligned, so
//! the totals of several workers (or of several saved results) merge exactly.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::histogram::{self, DecodeError};
use crate::part::Part;
use crate::result::PartResult;
use crate::result::RunResult;
use crate::witness::{CausalWitness, OrderWitness};

/// One second of the measured run.
#[derive(Debug, Clone)]
pub struct Second {
    pub sends: u64,
    pub deliveries: u64,
    pub latency: Histogram<u64>,
    /// Members connected at the end of the second (sampled by the coordinator).
    pub connected: u64,
    /// Connections that ended without the run asking.
    pub reconnects: u64,
    /// Deliveries of this second's messages (by scheduled time) that never arrived.
    pub missing: u64,
}

impl Second {
    fn new() -> Self {
        Self {
            sends: 0,
            deliveries: 0,
            latency: histogram::new(),
            connected: 0,
            reconnects: 0,
            missing: 0,
        }
    }
}

/// Everything measured: one per loadgen worker while it runs, merged into one at the end,
/// and rebuilt from saved results to merge them ([`Totals::from_result`]).
#[derive(Debug, Clone)]
pub struct Totals {
    /// Fan-out latency of each delivery, from the scheduled send time.
    pub latency: Histogram<u64>,
    /// Fan-out latency of each delivery, from the actual send time.
    pub latency_sent: Histogram<u64>,
    /// Per message: scheduled send until the last member present had it.
    pub completion: Histogram<u64>,
    /// Per message: scheduled send until its first receiver had it (the rest of the whole
    /// room's time is the fan-out's spread).
    pub first: Histogram<u64>,
    /// TCP connect plus TLS handshake (if any) plus WebSocket upgrade.
    pub connect: Histogram<u64>,
    /// Its parts: the TCP connect,
    pub tcp_connect: Histogram<u64>,
    /// the TLS handshake (empty without TLS),
    pub tls_handshake: Histogram<u64>,
    /// and the WebSocket upgrade (request sent until the 101 read).
    pub upgrade: Histogram<u64>,
    /// Per measured send: actual send time minus scheduled time (the load generator's own
    /// lateness, which the scheduled-time latency includes).
    pub send_lateness: Histogram<u64>,
    /// With churn: a rejoining member's handshake start until its first delivery.
    pub join: Histogram<u64>,
    /// With --reconnect: a connection's end until the member's first delivery after it
    /// reconnected.
    pub reconnect: Histogram<u64>,
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub cross_room: u64,
    /// Frames that carried no loadgen stamp.
    pub foreign: u64,
    /// With churn: members that left (and rejoined, unless sending had ended).
    pub leaves: u64,
    /// With churn: deliveries of a message the server had broadcast before the member asked
    /// to join (after it left, for a member that rejoined).
    pub outside_membership: u64,
    /// Pairs of a room's messages that two members received in opposite orders (one common
    /// order per room), and the first such pair's evidence.
    pub order_conflicts: u64,
    pub order_witness: Option<OrderWitness>,
    /// With answers (`--replies`): answers a member received before the message they answer,
    /// and the first one's evidence.
    pub causal_violations: u64,
    pub causal_witness: Option<CausalWitness>,
    /// With answers: answers that arrived before their question while the stay already held
    /// its bound of such answers, so not checked.
    pub causal_unchecked: u64,
    /// With --reconnect: connections that ended without the run asking, by cause.
    pub reconnects: BTreeMap<String, u64>,
    /// With --reconnect: measured messages sent to a member's room while it was away.
    pub away: u64,
    pub connected: u64,
    pub connect_failed: u64,
    /// Close codes the server sent, by code.
    pub closes: BTreeMap<u16, u64>,
    /// Errors, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Per second of the measured run.
    pub series: Vec<Second>,
    /// By room group of a workload, in its order (one group for a run of flags).
    pub groups: Vec<Part>,
    /// By room-size class ([`crate::part::size_class`]).
    pub classes: Vec<Part>,
    /// By stage of a workload, the messages scheduled in it.
    pub stages: Vec<Part>,
    /// By reader kind of the receiving member (healthy, slow readers), with slow readers.
    pub readers: Vec<Part>,
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            latency: histogram::new(),
            latency_sent: histogram::new(),
            completion: histogram::new(),
            first: histogram::new(),
            connect: histogram::new(),
            tcp_connect: histogram::new(),
            tls_handshake: histogram::new(),
            upgrade: histogram::new(),
            send_lateness: histogram::new(),
            join: histogram::new(),
            reconnect: histogram::new(),
            sent: 0,
            expected: 0,
            delivered: 0,
            duplicates: 0,
            reordered: 0,
            cross_room: 0,
            foreign: 0,
            leaves: 0,
            outside_membership: 0,
            order_conflicts: 0,
            order_witness: None,
            causal_violations: 0,
            causal_witness: None,
            causal_unchecked: 0,
            reconnects: BTreeMap::new(),
            away: 0,
            connected: 0,
            connect_failed: 0,
            closes: BTreeMap::new(),
            errors: BTreeMap::new(),
            series: Vec::new(),
            groups: Vec::new(),
            classes: Vec::new(),
            stages: Vec::new(),
            readers: Vec::new(),
        }
    }
}

impl Totals {
    /// The bucket for second `s` of the measured run.
    pub fn second(&mut self, s: usize) -> &mut Second {
        if self.series.len() <= s {
            self.series.resize_with(s + 1, Second::new);
        }
        &mut self.series[s]
    }

    /// Part `i` of a breakdown (`groups`, `classes` or `stages`), made if new.
    pub fn part(parts: &mut Vec<Part>, i: usize) -> &mut Part {
        if parts.len() <= i {
            parts.resize_with(i + 1, Part::default);
        }
        &mut parts[i]
    }

    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    pub fn closed(&mut self, code: u16) {
        *self.closes.entry(code).or_default() += 1;
    }

    /// Counts a connection that ended without the run asking, in `second`, by `cause`.
    pub fn reconnected(&mut self, cause: impl Into<String>, second: Option<usize>) {
        *self.reconnects.entry(cause.into()).or_default() += 1;
        if let Some(s) = second {
            self.second(s).reconnects += 1;
        }
    }

    /// Adds `other` into `self`: histograms added, counters summed, seconds aligned.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds everywhere, so adding cannot fail.
        for named in HISTOGRAMS {
            let _ = (named.get_mut)(self).add((named.get)(other));
        }
        self.sent += other.sent;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.cross_room += other.cross_room;
        self.foreign += other.foreign;
        self.leaves += other.leaves;
        self.outside_membership += other.outside_membership;
        self.order_conflicts += other.order_conflicts;
        if self.order_witness.is_none() {
            self.order_witness.clone_from(&other.order_witness);
        }
        self.causal_violations += other.causal_violations;
        if self.causal_witness.is_none() {
            self.causal_witness.clone_from(&other.causal_witness);
        }
        self.causal_unchecked += other.causal_unchecked;
        self.away += other.away;
        for (cause, n) in &other.reconnects {
            *self.reconnects.entry(cause.clone()).or_default() += n;
        }
        self.connected += other.connected;
        self.connect_failed += other.connect_failed;
        for (code, n) in &other.closes {
            *self.closes.entry(*code).or_default() += n;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        for (s, second) in other.series.iter().enumerate() {
            let mine = self.second(s);
            mine.sends += second.sends;
            mine.deliveries += second.deliveries;
            mine.connected += second.connected;
            mine.reconnects += second.reconnects;
            mine.missing += second.missing;
            let _ = mine.latency.add(&second.latency);
        }
        for (mine, theirs) in [
            (&mut self.groups, &other.groups),
            (&mut self.classes, &other.classes),
            (&mut self.stages, &other.stages),
            (&mut self.readers, &other.readers),
        ] {
            for (i, part) in theirs.iter().enumerate() {
                Self::part(mine, i).merge(part);
            }
        }
    }
}

/// A saved result whose histograms cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("histogram {name}: {reason}")]
pub struct FromResultError {
    pub name: String,
    pub reason: String,
}

/// One of the totals' histograms as a result names it (`histograms` in the JSON).
#[derive(Debug, Clone, Copy)]
pub struct Named {
    pub name: &'static str,
    /// In every result; the others are absent from results written before they existed.
    pub required: bool,
    pub get: fn(&Totals) -> &Histogram<u64>,
    pub get_mut: fn(&mut Totals) -> &mut Histogram<u64>,
}

/// The fan-out latency from the scheduled send time: the headline figure.
pub const FAN_OUT: &str = "latency_us";

/// A [`Named`] for the field `$field` of [`Totals`].
macro_rules! named {
    ($name:expr, $field:ident, $required:expr) => {
        Named {
            name: $name,
            required: $required,
            get: |t| &t.$field,
            get_mut: |t| &mut t.$field,
        }
    };
}

/// Every histogram of [`Totals`] a result holds, by its name there: the one table that
/// assembling a result and reading one back both use.
pub const HISTOGRAMS: [Named; 11] = [
    named!(FAN_OUT, latency, true),
    named!("latency_sent_us", latency_sent, true),
    named!("completion_us", completion, true),
    named!("connect_us", connect, true),
    named!("send_lateness_us", send_lateness, false),
    named!("tcp_connect_us", tcp_connect, false),
    named!("tls_handshake_us", tls_handshake, false),
    named!("upgrade_us", upgrade, false),
    named!("join_us", join, false),
    named!("reconnect_us", reconnect, false),
    named!("first_us", first, false),
];

impl Totals {
    /// The totals a saved result was assembled from, as far as the file holds them: every
    /// histogram and counter exactly; the per-second series is not rebuilt (the file holds no
    /// per-second histograms).
    pub fn from_result(result: &RunResult) -> Result<Self, FromResultError> {
        let decode = |name: &str| {
            let fail = |reason: String| FromResultError {
                name: name.into(),
                reason,
            };
            let text = result
                .histograms
                .get(name)
                .ok_or_else(|| fail("missing".into()))?;
            histogram::decode(text).map_err(|e: DecodeError| fail(e.to_string()))
        };
        let s = &result.summary;
        let mut totals = Self {
            sent: s.sent,
            expected: s.expected,
            delivered: s.delivered,
            duplicates: s.duplicates,
            reordered: s.reordered,
            cross_room: s.cross_room,
            foreign: s.foreign,
            leaves: s.leaves,
            outside_membership: s.outside_membership,
            order_conflicts: s.order_conflicts,
            order_witness: s.order_witness.clone(),
            causal_violations: s.causal_violations,
            causal_witness: s.causal_witness.clone(),
            causal_unchecked: s.causal_unchecked,
            reconnects: s.reconnects.clone(),
            away: s.away,
            connected: s.connections.established,
            connect_failed: s.connections.failed,
            errors: s.errors.clone(),
            ..Self::default()
        };
        for named in HISTOGRAMS {
            // Results written before an optional one existed have none: it stays empty.
            if named.required || result.histograms.contains_key(named.name) {
                *(named.get_mut)(&mut totals) = decode(named.name)?;
            }
        }
        for (code, n) in &s.closes {
            if let Ok(code) = code.parse() {
                totals.closes.insert(code, *n);
            }
        }
        totals.groups = parts_of(&result.groups)?;
        totals.classes = parts_of(&result.size_classes)?;
        totals.stages = parts_of(&result.stages)?;
        totals.readers = parts_of(&result.readers)?;
        Ok(totals)
    }
}

impl Totals {
    /// Puts the parts read from `result` ([`Totals::from_result`]) in `breakdown`'s order, by
    /// name, so that results whose lists differ (a shard without a size class) add up right.
    pub fn align_parts(&mut self, result: &RunResult, breakdown: &crate::part::Breakdown) {
        for (parts, written, infos) in [
            (&mut self.groups, &result.groups, &breakdown.groups),
            (&mut self.classes, &result.size_classes, &breakdown.classes),
            (&mut self.stages, &result.stages, &breakdown.stages),
            (&mut self.readers, &result.readers, &breakdown.readers),
        ] {
            let mine = std::mem::take(parts);
            *parts = infos
                .iter()
                .map(|info| {
                    written
                        .iter()
                        .position(|w| w.name == info.name)
                        .and_then(|i| mine.get(i).cloned())
                        .unwrap_or_default()
                })
                .collect();
        }
    }
}

/// The parts a result wrote, in its order.
fn parts_of(parts: &[PartResult]) -> Result<Vec<Part>, FromResultError> {
    parts
        .iter()
        .map(|p| {
            Part::from_result(p).map_err(|(name, e)| FromResultError {
                name,
                reason: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::record;

    #[test]
    fn a_result_from_before_send_lateness_still_loads() {
        // CI's baseline of 2026-11-25, written before send lateness was measured.
        let old: RunResult =
            serde_json::from_str(include_str!("../testdata/before-send-lateness.json"))
                .expect("parse");
        assert!(!old.histograms.contains_key("send_lateness_us"));
        assert_eq!(old.summary.send_lateness_us.count, 0);
        let totals = Totals::from_result(&old).expect("totals");
        assert!(totals.send_lateness.is_empty());
        assert_eq!(totals.latency.len(), old.summary.latency_us.count);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = Totals::default();
        let mut b = Totals::default();
        record(&mut a.latency, 100);
        record(&mut b.latency, 300);
        a.delivered = 1;
        b.delivered = 2;
        b.second(3).deliveries = 5;
        b.closed(1013);
        a.merge(&b);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.delivered, 3);
        assert_eq!(a.series.len(), 4);
        assert_eq!(a.series[3].deliveries, 5);
        assert_eq!(a.closes[&1013], 1);
    }
}
