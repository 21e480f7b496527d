//! `--abort-on EXPR:DURATION`: ends the measurement early when a condition has been broken
//! for that long (k6's `abortOnFail` with `delayAbortEval`), so a run that has clearly failed
//! does not go on for its whole duration; the result says why (`aborted`).
//!
//! Only what is known while the run lasts can be watched: the fan-out latency percentiles
//! (`p50`, `p90`, `p99`, `p999`, `max`, over every measured delivery so far, as the workers
//! last copied them to the board, at most one copy interval old) and `errors` (the workers'
//! errors and the failed connections so far). Loss and the other counts are known only once
//! the settle time is over, so they are refused here.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use run_result::{Metric, Summary, Threshold, Totals};

use crate::live::Board;
use crate::shared::Shared;

/// One condition and how long it may stay broken.
#[derive(Debug, Clone, PartialEq)]
pub struct AbortOn {
    pub threshold: Threshold,
    pub after: Duration,
}

impl FromStr for AbortOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let help = "write EXPR:DURATION, e.g. p99<250ms:10s";
        let (expr, after) = s.rsplit_once(':').ok_or_else(|| format!("{s:?}: {help}"))?;
        let threshold: Threshold = expr.parse().map_err(|e| format!("{e} ({help})"))?;
        let watchable = matches!(
            threshold.metric,
            Metric::P50 | Metric::P90 | Metric::P99 | Metric::P999 | Metric::Max | Metric::Errors
        );
        if !watchable {
            return Err(format!(
                "{expr:?}: only p50, p90, p99, p999, max and errors are known while a run lasts \
                 (the others once it has settled: use --threshold for them)"
            ));
        }
        let after = humantime::parse_duration(after.trim())
            .map_err(|e| format!("{after:?}: {e} ({help})"))?;
        Ok(Self { threshold, after })
    }
}

/// Watches the conditions during the measurement.
#[derive(Debug)]
pub struct Watch {
    rules: Vec<AbortOn>,
    /// Per rule: since when (run clock, µs) it has been broken.
    broken_since: Vec<Option<u64>>,
}

impl Watch {
    pub fn new(rules: Vec<AbortOn>) -> Self {
        let n = rules.len();
        Self {
            rules,
            broken_since: vec![None; n],
        }
    }

    /// Checks every rule against the figures now; why the run must end, if one has been
    /// broken for its duration.
    pub fn check(&mut self, board: &Board, shared: &Shared, measured_s: f64) -> Option<String> {
        if self.rules.is_empty() {
            return None;
        }
        let merged = board.merged();
        let totals = Totals {
            latency: merged.latency,
            errors: merged.errors,
            connect_failed: shared.connect_failed.load(Ordering::Relaxed),
            ..Totals::default()
        };
        let summary = Summary::from_totals(&totals, 0, 0.0);
        let now = shared.now_us();
        for (rule, since) in self.rules.iter().zip(&mut self.broken_since) {
            let result = rule.threshold.check(&summary);
            // No samples yet is not broken: nothing has been delivered to judge.
            if result.passed || result.actual.is_none() {
                *since = None;
                continue;
            }
            let from = *since.get_or_insert(now);
            if now - from >= rule.after.as_micros() as u64 {
                return Some(format!(
                    "{} broken for {} (actual {}), {measured_s:.0}s into the measured run",
                    rule.threshold.text,
                    humantime::format_duration(rule.after),
                    result.actual_shown()
                ));
            }
        }
        None
    }
}
