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
//!
//! A latency whose histogram has no samples is no figure: it is never compared as 0. New runs
//! without samples fail the bound (nothing shows that it held); a baseline without samples
//! leaves the bound NOT COMPARED (shown, not failing).

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

/// The latency bounds used when none are given: p99 may double and p50 grow by half (CI
/// machines are noisy). The core contract is added to them by [`with_core`].
pub const DEFAULT_LATENCY: &str = "p50=50%,p99=100%";

/// `given` (or [`DEFAULT_LATENCY`] when empty), then, for every core metric
/// ([`Metric::CORE`]) neither named there nor in `relaxed`, a bound that it may not grow
/// above the baseline.
pub fn with_core(given: &[Bound], relaxed: &[Metric]) -> Vec<Bound> {
    let mut bounds = if given.is_empty() {
        parse_bounds(DEFAULT_LATENCY).expect("the default bounds parse")
    } else {
        given.to_vec()
    };
    for metric in Metric::CORE {
        if !relaxed.contains(&metric) && !bounds.iter().any(|b| b.metric == metric) {
            bounds.push(Bound {
                metric,
                limit: Limit::Increase(0.0),
            });
        }
    }
    bounds
}

/// The bounds used when none are given: [`DEFAULT_LATENCY`] and the core contract.
pub fn default_bounds() -> Vec<Bound> {
    with_core(&[], &[])
}

/// One metric's comparison; `None` for a latency with no samples.
#[derive(Debug, Clone)]
pub struct Row {
    pub bound: Bound,
    pub base: Option<f64>,
    pub new: Option<f64>,
    pub allowed: Option<f64>,
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
    /// A new run has no samples of this latency: nothing shows the bound held. Fails.
    NoSamples,
    /// The baseline has no samples of this latency: there is nothing to compare with.
    NotCompared,
}

impl Row {
    /// Fails the gate: a regression, or new runs with nothing to show for a latency bound.
    pub fn is_regression(&self) -> bool {
        matches!(self.verdict, Verdict::Regression | Verdict::NoSamples)
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
            let values: Option<Vec<f64>> = news.iter().map(|s| bound.metric.value(s)).collect();
            let (base_v, values) = match (bound.metric.value(base), values) {
                (Some(b), Some(v)) => (b, v),
                (b, v) => {
                    return Row {
                        bound: *bound,
                        base: b,
                        new: v.map(median),
                        allowed: None,
                        verdict: if b.is_none() {
                            Verdict::NotCompared
                        } else {
                            Verdict::NoSamples
                        },
                    };
                }
            };
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
                base: Some(base_v),
                new: Some(new_v),
                allowed: Some(allowed),
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
        let change = match (r.base, r.new) {
            (Some(base), Some(new)) if base > 0.0 => {
                format!("{:+.1} %", (new / base - 1.0) * 100.0)
            }
            (Some(_), Some(new)) if new > 0.0 => "new".into(),
            _ => "-".into(),
        };
        let shown = |v: Option<f64>| v.map_or_else(|| "- (no samples)".to_owned(), |v| show(m, v));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} | {} | {} |",
            m.name(),
            shown(r.base),
            shown(r.new),
            r.allowed.map_or_else(|| "-".to_owned(), |v| show(m, v)),
            match r.verdict {
                Verdict::NoSamples => {
                    "**NO SAMPLES**: a new run measured none of this latency".to_owned()
                }
                Verdict::NotCompared => {
                    "NOT COMPARED: the baseline measured none of this latency".to_owned()
                }
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
