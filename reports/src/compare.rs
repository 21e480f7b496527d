//! `reports compare`: a new run (or the median of several) against a baseline, with bounds.
//!
//! CI machines are noisy, so latency bounds are ratios of the baseline (`p99=100%`: at most
//! twice the baseline), and correctness bounds are absolute increases (`loss=0`: no more loss
//! than the baseline had). Several new runs can be given; each metric's median is compared.

use std::fmt::Write as _;
use std::str::FromStr;

use loadgen::result::Summary;

use crate::markdown::ms;

/// What a bound looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P90,
    P99,
    P999,
    Max,
    CompletionP99,
    ConnectP99,
    Loss,
    Duplicates,
    Reordered,
    CrossRoom,
}

impl Metric {
    const ALL: [(&'static str, Metric); 11] = [
        ("p50", Metric::P50),
        ("p90", Metric::P90),
        ("p99", Metric::P99),
        ("p999", Metric::P999),
        ("max", Metric::Max),
        ("completion_p99", Metric::CompletionP99),
        ("connect_p99", Metric::ConnectP99),
        ("loss", Metric::Loss),
        ("duplicates", Metric::Duplicates),
        ("reordered", Metric::Reordered),
        ("cross_room", Metric::CrossRoom),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_latency(self) -> bool {
        matches!(
            self,
            Self::P50
                | Self::P90
                | Self::P99
                | Self::P999
                | Self::Max
                | Self::CompletionP99
                | Self::ConnectP99
        )
    }

    pub fn of(self, s: &Summary) -> f64 {
        match self {
            Self::P50 => s.latency_us.p50 as f64,
            Self::P90 => s.latency_us.p90 as f64,
            Self::P99 => s.latency_us.p99 as f64,
            Self::P999 => s.latency_us.p999 as f64,
            Self::Max => s.latency_us.max as f64,
            Self::CompletionP99 => s.completion_us.p99 as f64,
            Self::ConnectP99 => s.connect_us.p99 as f64,
            Self::Loss => s.loss,
            Self::Duplicates => s.duplicates as f64,
            Self::Reordered => s.reordered as f64,
            Self::CrossRoom => s.cross_room as f64,
        }
    }

    fn show(self, v: f64) -> String {
        if self.is_latency() {
            ms(v.round() as u64)
        } else if self == Self::Loss {
            format!("{:.3} %", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    }
}

/// How far a metric may move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// At most this fraction above the baseline (`20%` is 0.2).
    Ratio(f64),
    /// At most this much above the baseline, in the metric's unit (a ratio for loss).
    Increase(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub metric: Metric,
    pub limit: Limit,
}

#[derive(Debug, thiserror::Error)]
pub enum BoundError {
    #[error("{0:?}: write METRIC=LIMIT, e.g. p99=20% or loss=0")]
    Syntax(String),
    #[error(
        "{0:?}: unknown metric; use p50, p90, p99, p999, max, completion_p99, connect_p99, loss, duplicates, reordered or cross_room"
    )]
    Metric(String),
    #[error("{0:?}: cannot read the limit")]
    Limit(String),
}

impl FromStr for Bound {
    type Err = BoundError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, limit) = s
            .split_once('=')
            .ok_or_else(|| BoundError::Syntax(s.into()))?;
        let metric = Metric::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, m)| *m)
            .ok_or_else(|| BoundError::Metric(s.into()))?;
        let limit = limit.trim();
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| BoundError::Limit(s.into()))
        };
        let limit = match limit.strip_suffix('%') {
            Some(pct) if metric == Metric::Loss => Limit::Increase(number(pct)? / 100.0),
            Some(pct) => Limit::Ratio(number(pct)? / 100.0),
            None if metric.is_latency() => {
                return Err(BoundError::Limit(format!(
                    "{s} (a latency bound is a percentage)"
                )));
            }
            None => Limit::Increase(number(limit)?),
        };
        Ok(Self { metric, limit })
    }
}

/// Parses `p99=20%,loss=0` (one or more, comma-separated).
pub fn parse_bounds(s: &str) -> Result<Vec<Bound>, BoundError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// The bounds used when none are given: latency may double at p99 and grow half at p50 (CI
/// machines are noisy); loss, duplicates, reordering and cross-room deliveries may not grow.
pub fn default_bounds() -> Vec<Bound> {
    parse_bounds("p50=50%,p99=100%,loss=0,duplicates=0,reordered=0,cross_room=0")
        .unwrap_or_default()
}

/// One metric's comparison.
#[derive(Debug, Clone)]
pub struct Row {
    pub bound: Bound,
    pub base: f64,
    pub new: f64,
    pub allowed: f64,
    pub ok: bool,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Compares the median of `news` with `base` under `bounds`.
pub fn compare(base: &Summary, news: &[&Summary], bounds: &[Bound]) -> Vec<Row> {
    bounds
        .iter()
        .map(|bound| {
            let base_v = bound.metric.of(base);
            let new_v = median(news.iter().map(|s| bound.metric.of(s)).collect());
            let allowed = match bound.limit {
                Limit::Ratio(r) => base_v * (1.0 + r),
                Limit::Increase(a) => base_v + a,
            };
            Row {
                bound: *bound,
                base: base_v,
                new: new_v,
                allowed,
                ok: new_v <= allowed + f64::EPSILON,
            }
        })
        .collect()
}

/// The comparison as a Markdown table.
pub fn render(rows: &[Row], runs: usize) -> String {
    let mut out = format!(
        "| metric | baseline | new{} | change | allowed | verdict |\n|---|---|---|---|---|---|\n",
        if runs > 1 {
            format!(" (median of {runs})")
        } else {
            String::new()
        }
    );
    for r in rows {
        let m = r.bound.metric;
        let change = if r.base > 0.0 {
            format!("{:+.1} %", (r.new / r.base - 1.0) * 100.0)
        } else if r.new > 0.0 {
            "new".into()
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} | {} | {} |",
            m.name(),
            m.show(r.base),
            m.show(r.new),
            m.show(r.allowed),
            if r.ok { "ok" } else { "**REGRESSION**" }
        );
    }
    out
}
