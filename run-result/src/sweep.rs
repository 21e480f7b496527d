//! A capacity search (`loadgen --sweep`): every step's full result, which bounds each step had
//! to meet, and the capacity found. `reports render` draws its curve, `reports compare` gates on
//! its capacity.

use serde::{Deserialize, Serialize};

use crate::RunResult;

/// What `kind` holds in a sweep file (a plain result has no `kind`).
pub const KIND: &str = "sweep";
/// Bumped whenever a field of the sweep (not of its steps' results) changes meaning.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Always [`KIND`].
    pub kind: String,
    pub schema_version: u32,
    pub started_at: String,
    /// The bounds every step had to meet to hold, as written: `--until` (or its default),
    /// then the core contract's defaults.
    pub bounds: Vec<String>,
    /// The search's settings: first rate, factor between steps, bisection precision.
    pub from_rate: f64,
    pub factor: f64,
    pub precision: f64,
    pub max_steps: u32,
    /// The highest rate tried, if capped (`--sweep-max`).
    #[serde(default)]
    pub max_rate: Option<f64>,
    /// The highest step that held; `None` when none did.
    pub capacity: Option<Capacity>,
    /// The lowest step that broke; `None` when none did (the capacity is then at least the
    /// highest rate tried).
    pub broke_at: Option<Capacity>,
    /// Why the search stopped, one sentence.
    pub stopped: String,
    /// The search stopped at a step that broke while loadgen, not the server, was the
    /// bottleneck (`RunResult::client`): the capacity is at least `capacity`, not a
    /// measurement of it.
    #[serde(default)]
    pub client_bound: bool,
    /// True when Ctrl-C ended it.
    pub interrupted: bool,
    /// In the order they ran.
    pub steps: Vec<SweepStep>,
}

impl SweepResult {
    /// The bounds for people: as written, with the core contract's seven `METRIC=0` said as
    /// "the core contract" when all of them are there.
    pub fn bounds_shown(&self) -> String {
        let core: Vec<String> = crate::Metric::CORE
            .iter()
            .map(|m| crate::Threshold::zero(*m).text)
            .collect();
        if !core.iter().all(|c| self.bounds.contains(c)) {
            return self.bounds.join(", ");
        }
        let own: Vec<&str> = self
            .bounds
            .iter()
            .filter(|b| !core.contains(b))
            .map(String::as_str)
            .collect();
        if own.is_empty() {
            "the core contract".into()
        } else {
            format!("{} and the core contract", own.join(", "))
        }
    }
}

/// A point of the search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Messages per second per room (`--rate`).
    pub rate: f64,
    /// Deliveries per second offered: rate x rooms x members.
    pub offered_per_s: f64,
    /// Deliveries per second measured.
    pub deliveries_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    pub rate: f64,
    pub offered_per_s: f64,
    /// Every bound held (and the step ran to its end).
    pub held: bool,
    /// The bounds that did not hold, with the value measured (`p99<100ms (was 143.2 ms)`).
    pub broken: Vec<String>,
    /// The step's whole result, its `thresholds` the bounds.
    pub result: RunResult,
}

impl SweepStep {
    pub fn point(&self) -> Capacity {
        Capacity {
            rate: self.rate,
            offered_per_s: self.offered_per_s,
            deliveries_per_s: self.result.summary.deliveries_per_s,
        }
    }
}

impl SweepResult {
    /// The steps in increasing rate (the order of a curve).
    pub fn by_rate(&self) -> Vec<&SweepStep> {
        let mut steps: Vec<&SweepStep> = self.steps.iter().collect();
        steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        steps
    }
}
