//! `--threshold` conditions such as `p99<25ms`, `loss=0`, `loss<0.1%`, `duplicates=0`.

use std::fmt;
use std::str::FromStr;

use crate::metric::Metric;
use crate::result::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
}

/// A parsed `--threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    /// Microseconds for latencies, a ratio for loss, a count otherwise.
    pub bound: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    #[error("{0:?}: write METRIC<VALUE, METRIC<=VALUE or METRIC=VALUE, e.g. p99<25ms or loss=0")]
    Syntax(String),
    #[error("{0:?}: unknown metric; use one of {names}", names = Metric::names())]
    Metric(String),
    #[error("{0:?}: a latency needs a unit, e.g. 25ms, 500us or 1s")]
    Unit(String),
    #[error("{0:?}: cannot read the value")]
    Value(String),
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (name, op, value) = if let Some((n, v)) = text.split_once("<=") {
            (n, Op::Le, v)
        } else if let Some((n, v)) = text.split_once('<') {
            (n, Op::Lt, v)
        } else if let Some((n, v)) = text.split_once('=') {
            (n, Op::Eq, v)
        } else {
            return Err(ThresholdError::Syntax(s.into()));
        };
        let metric = Metric::parse(name).ok_or_else(|| ThresholdError::Metric(s.into()))?;
        let value = value.trim();
        let bound = match metric {
            m if m.is_latency() => {
                if value.chars().all(|c| c.is_ascii_digit() || c == '.') && value != "0" {
                    return Err(ThresholdError::Unit(s.into()));
                }
                if value == "0" {
                    0.0
                } else {
                    humantime::parse_duration(value)
                        .map_err(|_| ThresholdError::Value(s.into()))?
                        .as_micros() as f64
                }
            }
            Metric::Loss => match value.strip_suffix('%') {
                Some(pct) => {
                    pct.trim()
                        .parse::<f64>()
                        .map_err(|_| ThresholdError::Value(s.into()))?
                        / 100.0
                }
                None => value.parse().map_err(|_| ThresholdError::Value(s.into()))?,
            },
            _ => value.parse().map_err(|_| ThresholdError::Value(s.into()))?,
        };
        Ok(Self {
            text: text.into(),
            metric,
            op,
            bound,
        })
    }
}

/// A bound a run is held to, and whether the user gave it or it is a default.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub threshold: Threshold,
    /// Applied by the tool: a core metric (see [`Metric::CORE`]) the user did not bound.
    pub default: bool,
}

impl Threshold {
    /// `metric=0`, the default bound of a core metric.
    pub fn zero(metric: Metric) -> Threshold {
        format!("{}=0", metric.name())
            .parse()
            .expect("metric=0 parses for every metric")
    }

    /// What a run is held to: every bound in `given`, then `metric=0` for each core metric
    /// ([`Metric::CORE`]) that `given` does not name and `relaxed` does not list, marked as a
    /// default. A user who bounds a core metric (`--threshold 'loss<0.1%'`) replaces its
    /// default; one who relaxes it (`--relax reordered`) drops it.
    pub fn with_core(given: &[Threshold], relaxed: &[Metric]) -> Vec<Held> {
        let named = |m: Metric| given.iter().any(|t| t.metric == m);
        let defaults = Metric::CORE
            .into_iter()
            .filter(|m| !named(*m) && !relaxed.contains(m))
            .map(|m| Held {
                threshold: Threshold::zero(m),
                default: true,
            });
        given
            .iter()
            .map(|t| Held {
                threshold: t.clone(),
                default: false,
            })
            .chain(defaults)
            .collect()
    }

    /// Evaluates the threshold on `summary`. A latency bound on a histogram with no samples
    /// fails: nothing was measured to hold it.
    pub fn check(&self, summary: &Summary) -> crate::result::ThresholdResult {
        let actual = self.metric.value(summary);
        crate::result::ThresholdResult {
            threshold: self.text.clone(),
            actual,
            passed: actual.is_some_and(|a| self.holds(a)),
            default: false,
        }
    }

    pub fn holds(&self, actual: f64) -> bool {
        match self.op {
            Op::Lt => actual < self.bound,
            Op::Le => actual <= self.bound,
            Op::Eq => actual == self.bound,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t: Threshold = "p99<25ms".parse().expect("valid");
        assert_eq!((t.metric, t.op, t.bound), (Metric::P99, Op::Lt, 25_000.0));
        let t: Threshold = "loss<0.1%".parse().expect("valid");
        assert!((t.bound - 0.001).abs() < 1e-12);
        let t: Threshold = "loss=0".parse().expect("valid");
        assert_eq!((t.op, t.bound), (Op::Eq, 0.0));
        let t: Threshold = "duplicates<=3".parse().expect("valid");
        assert!(t.holds(3.0) && !t.holds(4.0));
        assert!(matches!(
            "p99<25".parse::<Threshold>(),
            Err(ThresholdError::Unit(_))
        ));
        assert!(matches!(
            "p42<1ms".parse::<Threshold>(),
            Err(ThresholdError::Metric(_))
        ));
        assert!(matches!(
            "p99".parse::<Threshold>(),
            Err(ThresholdError::Syntax(_))
        ));
        let t: Threshold = "foreign=0".parse().expect("valid");
        assert_eq!(t.metric, Metric::Foreign);
    }

    #[test]
    fn the_core_bounds_fill_what_the_user_did_not_name() {
        let given: Vec<Threshold> = vec!["loss<1%".parse().unwrap(), "p99<5ms".parse().unwrap()];
        let held = Threshold::with_core(&given, &[Metric::Reordered]);
        let text: Vec<(&str, bool)> = held
            .iter()
            .map(|h| (h.threshold.text.as_str(), h.default))
            .collect();
        assert_eq!(
            text,
            [
                ("loss<1%", false),
                ("p99<5ms", false),
                ("duplicates=0", true),
                ("cross_room=0", true),
                ("foreign=0", true),
                ("outside=0", true),
                ("causal_violations=0", true),
                ("errors=0", true),
            ]
        );
        let all = Threshold::with_core(&[], &[]);
        assert_eq!(all.len(), Metric::CORE.len());
        assert!(all.iter().all(|h| h.default && h.threshold.bound == 0.0));
    }

    #[test]
    fn a_latency_bound_over_no_samples_fails() {
        let summary = Summary::from_totals(&crate::Totals::default(), 10, 1.0);
        let t: Threshold = "completion_p99<1s".parse().unwrap();
        let r = t.check(&summary);
        assert_eq!((r.actual, r.passed), (None, false));
        let t: Threshold = "loss=0".parse().unwrap();
        assert_eq!(t.check(&summary).actual, Some(0.0));
    }
}
