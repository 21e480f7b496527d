//! `reports merge`: runs of several loadgen processes (shards of one load) become one result.
//!
//! Exact where the data allows: histograms are added (so every percentile of the merged run is
//! exact), counters are summed, thresholds are evaluated again on the merged summary. The
//! per-second series is aligned by second: sends and deliveries are summed exactly; a second's
//! p50 is the delivery-weighted mean of the shards' and its p99 and max the largest of them
//! (the files hold no per-second histograms).
//!
//! Shards of one plan (`loadgen --shard K/N`) are checked first (`shards`): one plan, each
//! shard once, none missing unless allowed; the merged result records which were merged.

use std::collections::BTreeMap;

use run_result::part::Breakdown;
use run_result::result::{self, RampPoint, SecondResult};
use run_result::threshold::Held;
use run_result::{Parts, RunResult, Threshold, Totals};

use crate::run::{LoadError, Run};
use crate::shards::ShardSetError;

/// Why runs cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Shards(#[from] ShardSetError),
}

/// Merges `runs`; shards must make one plan's complete set unless `allow_partial`.
pub fn merge(runs: &[Run], allow_partial: bool) -> Result<RunResult, MergeError> {
    let shards = crate::shards::check(runs, allow_partial)?;
    let mut merged = merge_runs(runs)?;
    merged.merged_shards = shards;
    Ok(merged)
}

fn merge_runs(runs: &[Run]) -> Result<RunResult, LoadError> {
    let first = runs
        .first()
        .map(|r| r.result.clone())
        .ok_or_else(|| LoadError::NoVersion {
            path: "(no input)".into(),
        })?;
    let breakdown = Breakdown::of_results(runs.iter().map(|r| &r.result));
    let mut totals = Totals::default();
    for run in runs {
        let mut part = Totals::from_result(&run.result).map_err(|e| LoadError::Histogram {
            path: run.path.clone(),
            name: e.name,
            reason: e.reason,
        })?;
        part.align_parts(&run.result, &breakdown);
        totals.merge(&part);
    }
    let planned = runs
        .iter()
        .map(|r| r.result.summary.connections.planned)
        .sum();
    let measured_s = runs
        .iter()
        .map(|r| r.result.summary.measured_s)
        .fold(0.0, f64::max);

    let mut thresholds: Vec<Held> = Vec::new();
    for run in runs {
        for t in &run.result.thresholds {
            if let Ok(parsed) = t.threshold.parse::<Threshold>() {
                if !thresholds.iter().any(|x| x.threshold.text == parsed.text) {
                    thresholds.push(Held {
                        threshold: parsed,
                        default: t.default,
                    });
                }
            }
        }
    }
    let mut targets: Vec<String> = Vec::new();
    for run in runs {
        for t in &run.result.config.targets {
            if !targets.contains(t) {
                targets.push(t.clone());
            }
        }
    }
    let mut merged = RunResult::assemble(Parts {
        totals: &totals,
        config: result::Config {
            targets,
            ..first.config
        },
        machine: first.machine,
        started_at: runs
            .iter()
            .map(|r| r.result.started_at.clone())
            .min()
            .unwrap_or_default(),
        interrupted: runs.iter().any(|r| r.result.interrupted),
        planned,
        measured_s,
        thresholds: &thresholds,
        ramp: merge_ramp(runs),
        breakdown: &breakdown,
    });
    // The totals hold no per-second histograms: the series is merged from the files.
    merged.series = merge_series(runs);
    merged.tool = first.tool;
    Ok(merged)
}

fn merge_series(runs: &[Run]) -> Vec<SecondResult> {
    let mut by_second: BTreeMap<usize, (SecondResult, f64)> = BTreeMap::new();
    for run in runs {
        for s in &run.result.series {
            let entry = by_second.entry(s.second).or_insert_with(|| {
                (
                    SecondResult {
                        second: s.second,
                        sends: 0,
                        deliveries: 0,
                        p50_us: 0,
                        p99_us: 0,
                        max_us: 0,
                        connected: 0,
                        reconnects: 0,
                        missing: 0,
                    },
                    0.0,
                )
            });
            entry.0.sends += s.sends;
            entry.0.deliveries += s.deliveries;
            entry.0.connected += s.connected;
            entry.0.reconnects += s.reconnects;
            entry.0.missing += s.missing;
            entry.0.p99_us = entry.0.p99_us.max(s.p99_us);
            entry.0.max_us = entry.0.max_us.max(s.max_us);
            entry.1 += s.p50_us as f64 * s.deliveries as f64;
        }
    }
    by_second
        .into_values()
        .map(|(mut s, weighted)| {
            if s.deliveries > 0 {
                s.p50_us = (weighted / s.deliveries as f64).round() as u64;
            }
            s
        })
        .collect()
}

/// The shards' ramps added up: at each sampled time, each shard's last sample before it.
fn merge_ramp(runs: &[Run]) -> Vec<RampPoint> {
    let mut times: Vec<u64> = runs
        .iter()
        .flat_map(|r| r.result.ramp.iter().map(|p| p.ms))
        .collect();
    times.sort_unstable();
    times.dedup();
    times
        .into_iter()
        .map(|ms| {
            let mut point = RampPoint {
                ms,
                connected: 0,
                failed: 0,
            };
            for run in runs {
                if let Some(p) = run.result.ramp.iter().rev().find(|p| p.ms <= ms) {
                    point.connected += p.connected;
                    point.failed += p.failed;
                }
            }
            point
        })
        .collect()
}
