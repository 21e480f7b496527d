//! `reports compare`: a new run (or the median of several) against a baseline, with bounds.
//!
//! CI machines are noisy, so latency bounds are ratios of the baseline (`p99=100%`: at most
//! twice the baseline), and correctness bounds are absolute increases (`loss=0`: no more loss
//! than the baseline had). Several new runs can be given; each metric's median is compared.
//!
//! A latency median over its bound is a regression only if the new runs agree with each other
//! within that bound. When they differ among themselves by more than the bound allows (on
//! the 2-core test machine, identical runs ranged from p99 4.7 ms to 299 ms within minutes,
//! 2026-11-26), the machine's noise is larger than the change the bound looks for: the
//! verdict is INCONCLUSIVE, printed with the spread, and does not fail the gate. Correctness
//! bounds are never inconclusive.

use std::fmt::Write as _;
use std::str::FromStr;

pub use run_result::Metric;
use run_result::Summary;

use crate::markdown::ms;

/// How a metric's value is shown.
fn show(metric: Metric, v: f64) -> String {
    if metric.is_latency() {
        ms(v.round() as u64)
    } else if metric == Metric::Loss {
        format!("{:.3} %", v * 100.0)
    } else {
        format!("{v:.0}")
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
    #[error("{0:?}: unknown metric; use one of {names}", names = Metric::names())]
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
        let metric = Metric::parse(name).ok_or_else(|| BoundError::Metric(s.into()))?;
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
    pub verdict: Verdict,
}

/// What a comparison found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Ok,
    Regression,
    /// Over the bound, but the new runs ranged from `low` to `high`: wider apart than the
    /// bound, so the machine's noise cannot be told from a regression.
    Inconclusive {
        low: f64,
        high: f64,
    },
}

impl Row {
    pub fn is_regression(&self) -> bool {
        self.verdict == Verdict::Regression
    }
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
            let values: Vec<f64> = news.iter().map(|s| bound.metric.of(s)).collect();
            let (low, high) = values.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
            let new_v = median(values);
            let allowed = match bound.limit {
                Limit::Ratio(r) => base_v * (1.0 + r),
                Limit::Increase(a) => base_v + a,
            };
            let noisy = match bound.limit {
                Limit::Ratio(r) => news.len() > 1 && high > low.max(1.0) * (1.0 + r),
                Limit::Increase(_) => false,
            };
            let verdict = if new_v <= allowed + f64::EPSILON {
                Verdict::Ok
            } else if noisy {
                Verdict::Inconclusive { low, high }
            } else {
                Verdict::Regression
            };
            Row {
                bound: *bound,
                base: base_v,
                new: new_v,
                allowed,
                verdict,
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
            show(m, r.base),
            show(m, r.new),
            show(m, r.allowed),
            match r.verdict {
                Verdict::Ok => "ok".to_owned(),
                Verdict::Regression => "**REGRESSION**".to_owned(),
                Verdict::Inconclusive { low, high } => format!(
                    "INCONCLUSIVE: the runs ranged {} to {}, wider than the bound",
                    show(m, low),
                    show(m, high)
                ),
            }
        );
    }
    out
}
