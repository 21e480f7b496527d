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

/// The thresholds a run is held to when it names none: a run that lost a delivery or had
/// an error fails without any configuration.
pub const DEFAULTS: [&str; 2] = ["loss=0", "errors=0"];

impl Threshold {
    /// [`DEFAULTS`], parsed.
    pub fn defaults() -> Vec<Threshold> {
        DEFAULTS
            .iter()
            .map(|t| t.parse().expect("the defaults parse"))
            .collect()
    }

    /// Evaluates the threshold on `summary`.
    pub fn check(&self, summary: &Summary) -> crate::result::ThresholdResult {
        let actual = self.metric.of(summary);
        crate::result::ThresholdResult {
            threshold: self.text.clone(),
            actual,
            passed: self.holds(actual),
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
    }
}
