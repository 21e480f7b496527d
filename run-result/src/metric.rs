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
    /// Connection failures, errors and abnormal closes, a count.
    Errors,
    /// With churn: deliveries outside a member's membership, a count.
    Outside,
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
    pub const ALL: [(&'static str, Metric); 18] = [
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
        ("errors", Metric::Errors),
        ("outside", Metric::Outside),
        ("join_p99", Metric::JoinP99),
        ("reconnects", Metric::Reconnects),
        ("reconnect_p99", Metric::ReconnectP99),
    ];

    /// The metric called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, m)| *m)
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

    /// The metric's value in `s`.
    pub fn of(self, s: &Summary) -> f64 {
        let l = &s.latency_us;
        match self {
            Self::P50 => l.p50 as f64,
            Self::P90 => l.p90 as f64,
            Self::P99 => l.p99 as f64,
            Self::P999 => l.p999 as f64,
            Self::Max => l.max as f64,
            Self::ConnectP99 => s.connect_us.p99 as f64,
            Self::CompletionP99 => s.completion_us.p99 as f64,
            Self::LatenessP99 => s.send_lateness_us.p99 as f64,
            Self::JoinP99 => s.join_us.p99 as f64,
            Self::Reconnects => s.reconnects.values().sum::<u64>() as f64,
            Self::ReconnectP99 => s.reconnect_us.p99 as f64,
            Self::Outside => s.outside_membership as f64,
            Self::Loss => s.loss,
            Self::Missing => s.missing as f64,
            Self::Duplicates => s.duplicates as f64,
            Self::Reordered => s.reordered as f64,
            Self::CrossRoom => s.cross_room as f64,
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
}
