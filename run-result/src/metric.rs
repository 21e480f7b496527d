//! The one metric vocabulary: what `--threshold` conditions (loadgen) and `compare` bounds
//! (reports) name. A new metric is one line in [`Metric::ALL`] and one arm in [`Metric::of`].

use crate::result::Summary;

/// A figure of a run's [`Summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Fan-out latency percentiles from the scheduled send time, in microseconds.
    P50,
    P90,
    P99,
    P999,
    Max,
    /// Connect latency p99, microseconds.
    ConnectP99,
    /// Whole-room completion latency p99, microseconds.
    CompletionP99,
    /// The load generator's send lateness p99 (actual minus scheduled), microseconds.
    LatenessP99,
    /// Missing deliveries over expected, a ratio.
    Loss,
    Missing,
    Duplicates,
    Reordered,
    CrossRoom,
    /// Frames without a loadgen stamp (the server sent something it was not asked to), a
    /// count.
    Foreign,
    /// Connection failures, errors and abnormal closes, a count.
    Errors,
    /// With churn: deliveries outside a member's membership, a count.
    Outside,
    /// Pairs of a room's messages two members received in opposite orders, a count (one
    /// common order per room: a reference-level promise, not core).
    OrderConflicts,
    /// Answers received before the message they answer, a count (causal order: core).
    CausalViolations,
    /// With churn: a rejoin's handshake start until its first delivery, p99, microseconds.
    JoinP99,
    /// With --reconnect: connections that ended without the run asking, a count.
    Reconnects,
    /// With --reconnect: a connection's end until the first delivery after reconnecting, p99,
    /// microseconds.
    ReconnectP99,
}

impl Metric {
    /// Every metric with its name, in the order help texts list them.
    pub const ALL: [(&'static str, Metric); 21] = [
        ("p50", Metric::P50),
        ("p90", Metric::P90),
        ("p99", Metric::P99),
        ("p999", Metric::P999),
        ("max", Metric::Max),
        ("connect_p99", Metric::ConnectP99),
        ("completion_p99", Metric::CompletionP99),
        ("lateness_p99", Metric::LatenessP99),
        ("loss", Metric::Loss),
        ("missing", Metric::Missing),
        ("duplicates", Metric::Duplicates),
        ("reordered", Metric::Reordered),
        ("cross_room", Metric::CrossRoom),
        ("foreign", Metric::Foreign),
        ("errors", Metric::Errors),
        ("outside", Metric::Outside),
        ("order_conflicts", Metric::OrderConflicts),
        ("causal_violations", Metric::CausalViolations),
        ("join_p99", Metric::JoinP99),
        ("reconnects", Metric::Reconnects),
        ("reconnect_p99", Metric::ReconnectP99),
    ];

    /// The core contract as a run can observe it (docs/protocol.md, sections 4 and 6): what
    /// `loadgen` holds a run to, a `--sweep` step to and `reports compare` a change to unless
    /// the user bounds the metric otherwise or relaxes it. Each is a core violation when above
    /// 0:
    /// - `loss`: a member missed a message it was a member for (6);
    /// - `duplicates`: a member got a message twice (6: exactly once);
    /// - `reordered`: a sender's messages out of their sent order (6);
    /// - `cross_room`: another room's message (6: rooms are isolated);
    /// - `foreign`: a frame that is no delivery (4: the server sends nothing else);
    /// - `outside`: a message from before a member joined or after it left (4, 6);
    /// - `causal_violations`: an answer received before the message it answers (6: in order of
    ///   broadcast; 0 unless the run sends answers, `--replies`);
    /// - `errors`: a failed handshake, an error or an abnormal close.
    pub const CORE: [Metric; 8] = [
        Metric::Loss,
        Metric::Duplicates,
        Metric::Reordered,
        Metric::CrossRoom,
        Metric::Foreign,
        Metric::Outside,
        Metric::CausalViolations,
        Metric::Errors,
    ];

    /// The metric called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, m)| *m)
    }

    /// A metric of the core contract (`--relax`), or why `name` is not one.
    pub fn parse_core(name: &str) -> Result<Self, String> {
        let core = || Self::CORE.map(Self::name).join(", ");
        match Self::parse(name) {
            Some(m) if Self::CORE.contains(&m) => Ok(m),
            Some(_) => Err(format!(
                "{name:?} has no default to relax; the core metrics are {}",
                core()
            )),
            None => Err(format!(
                "{name:?}: unknown metric; the core metrics are {}",
                core()
            )),
        }
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    /// The names, comma-separated, for error messages.
    pub fn names() -> String {
        Self::ALL.map(|(n, _)| n).join(", ")
    }

    /// True for latencies (microseconds).
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Self::P50
                | Self::P90
                | Self::P99
                | Self::P999
                | Self::Max
                | Self::ConnectP99
                | Self::CompletionP99
                | Self::LatenessP99
                | Self::JoinP99
                | Self::ReconnectP99
        )
    }

    /// `value` of this metric with its unit: latencies in ms, loss in percent, counts bare.
    pub fn show(self, value: f64) -> String {
        match self {
            m if m.is_latency() && value < 10_000.0 => format!("{:.3} ms", value / 1000.0),
            m if m.is_latency() => format!("{:.1} ms", value / 1000.0),
            Self::Loss => format!("{:.3} %", value * 100.0),
            _ => format!("{value:.0}"),
        }
    }

    /// The histogram a latency metric reads in `s`; `None` for a count or a ratio.
    fn histogram(self, s: &Summary) -> Option<&crate::result::Latency> {
        match self {
            Self::P50 | Self::P90 | Self::P99 | Self::P999 | Self::Max => Some(&s.latency_us),
            Self::ConnectP99 => Some(&s.connect_us),
            Self::CompletionP99 => Some(&s.completion_us),
            Self::LatenessP99 => Some(&s.send_lateness_us),
            Self::JoinP99 => Some(&s.join_us),
            Self::ReconnectP99 => Some(&s.reconnect_us),
            Self::Loss
            | Self::Missing
            | Self::Duplicates
            | Self::Reordered
            | Self::CrossRoom
            | Self::Foreign
            | Self::Errors
            | Self::Outside
            | Self::OrderConflicts
            | Self::CausalViolations
            | Self::Reconnects => None,
        }
    }

    /// The samples behind a latency metric (the count of its histogram); `None` for a count
    /// or a ratio.
    pub fn samples(self, s: &Summary) -> Option<u64> {
        self.histogram(s).map(|l| l.count)
    }

    /// The metric's value in `s`; `None` for a latency whose histogram has no samples: a
    /// figure from nothing is not 0, and is never compared as 0.
    pub fn value(self, s: &Summary) -> Option<f64> {
        match self.samples(s) {
            Some(0) => None,
            _ => Some(self.of(s)),
        }
    }

    /// The metric's value in `s`, 0 for an empty histogram: for a chart's point or a table
    /// that says the count beside it. Verdicts use [`Self::value`].
    pub fn of(self, s: &Summary) -> f64 {
        if let Some(l) = self.histogram(s) {
            let us = match self {
                Self::P50 => l.p50,
                Self::P90 => l.p90,
                Self::P999 => l.p999,
                Self::Max => l.max,
                _ => l.p99,
            };
            return us as f64;
        }
        match self {
            Self::P50
            | Self::P90
            | Self::P99
            | Self::P999
            | Self::Max
            | Self::ConnectP99
            | Self::CompletionP99
            | Self::LatenessP99
            | Self::JoinP99
            | Self::ReconnectP99 => unreachable!("a latency is read from its histogram above"),
            Self::Reconnects => s.reconnects.values().sum::<u64>() as f64,
            Self::Outside => s.outside_membership as f64,
            Self::OrderConflicts => s.order_conflicts as f64,
            Self::CausalViolations => s.causal_violations as f64,
            Self::Loss => s.loss,
            Self::Missing => s.missing as f64,
            Self::Duplicates => s.duplicates as f64,
            Self::Reordered => s.reordered as f64,
            Self::CrossRoom => s.cross_room as f64,
            Self::Foreign => s.foreign as f64,
            Self::Errors => {
                let abnormal: u64 = s
                    .closes
                    .iter()
                    .filter(|(code, _)| code.as_str() != "1000")
                    .map(|(_, n)| n)
                    .sum();
                (s.connections.failed + s.errors.values().sum::<u64>() + abnormal) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, metric) in Metric::ALL {
            assert_eq!(Metric::parse(name), Some(metric));
            assert_eq!(metric.name(), name);
        }
        assert_eq!(Metric::parse("p42"), None);
    }

    #[test]
    fn the_core_contract_is_counts_and_loss() {
        assert!(Metric::CORE.iter().all(|m| !m.is_latency()));
        assert!(Metric::CORE.contains(&Metric::Duplicates));
    }
}
