//! `--sweep`: a capacity search. Each step is a full run (connect, warm-up, measure, settle)
//! at one per-room rate. From `--rate` the rate grows by `--sweep-factor` while every `--until`
//! bound holds; after the first step that breaks, bisection (geometric) between the last step
//! that held and the first that broke until they are within `--sweep-precision`. A first
//! step that breaks makes the search go down by the factor instead. `--sweep-steps` caps the
//! number of steps, `--sweep-max` the rate.
//!
//! The capacity is the highest rate that held; it is reported with the deliveries per second
//! offered (rate x rooms x members) and measured.

use std::time::SystemTime;

use run_result::Threshold;
use run_result::sweep::{self, Capacity, SweepResult, SweepStep};

use crate::opts::Opts;

/// The latency bound a step must meet when `--until` is not given; every step is also held to
/// the core contract (`Threshold::with_core`), as any run is.
pub const DEFAULT_UNTIL: [&str; 1] = ["p99<100ms"];

/// The search's state between steps: the highest rate that held and the lowest that broke.
#[derive(Debug, Default, Clone, Copy)]
struct Bracket {
    held: Option<f64>,
    broke: Option<f64>,
}

/// What to try next, or why to stop.
#[derive(Debug, PartialEq)]
enum Next {
    Rate(f64),
    Stop(String),
}

/// Settings of the search, checked.
#[derive(Debug, Clone)]
struct Search {
    from: f64,
    factor: f64,
    precision: f64,
    max_steps: u32,
    max_rate: Option<f64>,
}

impl Search {
    fn next(&self, b: Bracket, steps: u32, last: f64) -> Next {
        if steps >= self.max_steps {
            return Next::Stop(format!("--sweep-steps {} reached", self.max_steps));
        }
        match (b.held, b.broke) {
            (Some(lo), Some(hi)) => {
                if hi / lo <= 1.0 + self.precision {
                    Next::Stop(format!(
                        "the step that held and the one that broke are within {:.0} %",
                        self.precision * 100.0
                    ))
                } else {
                    Next::Rate((lo * hi).sqrt())
                }
            }
            (Some(lo), None) => match self.max_rate {
                Some(max) if lo >= max => {
                    Next::Stop(format!("--sweep-max {max} held: the capacity is above it"))
                }
                Some(max) => Next::Rate((lo * self.factor).min(max)),
                None => Next::Rate(lo * self.factor),
            },
            (None, Some(_)) => {
                let down = last / self.factor;
                // Below one message a minute per room there is nothing left to measure.
                if down < 1.0 / 60.0 {
                    Next::Stop("no rate held, down to one message a minute per room".into())
                } else {
                    Next::Rate(down)
                }
            }
            (None, None) => Next::Rate(self.from),
        }
    }
}

/// Runs the search. `on_step` sees each step as it ends (for a progress line).
pub async fn sweep(opts: Opts, mut on_step: impl FnMut(&SweepStep)) -> anyhow::Result<SweepResult> {
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let until: Vec<Threshold> = if opts.until.is_empty() {
        DEFAULT_UNTIL
            .iter()
            .map(|t| t.parse().expect("the default bounds parse"))
            .collect()
    } else {
        opts.until.clone()
    };
    let bounds: Vec<Threshold> =
        Threshold::with_core(&until, &crate::plan::relaxed(&opts, opts.reconnect))
            .into_iter()
            .map(|h| h.threshold)
            .collect();
    let search = Search {
        from: opts.rate,
        factor: opts.sweep_factor,
        precision: opts.sweep_precision,
        max_steps: opts.sweep_steps,
        max_rate: opts.sweep_max,
    };
    let per_rate = f64::from(opts.rooms) * f64::from(opts.clients);
    let mut bracket = Bracket::default();
    let mut steps: Vec<SweepStep> = Vec::new();
    let mut interrupted = false;
    let mut client_bound = false;
    let mut last = opts.rate;
    let stopped = loop {
        let rate = match search.next(bracket, steps.len() as u32, last) {
            Next::Rate(r) => r,
            Next::Stop(why) => break why,
        };
        last = rate;
        let mut step_opts = opts.clone();
        step_opts.rate = rate;
        step_opts.thresholds = until.clone();
        let result = crate::run(step_opts).await?;
        let broken: Vec<String> = result
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| {
                let bound = bounds.iter().find(|b| b.text == t.threshold);
                format!("{} (was {})", t.threshold, shown(bound, t.actual))
            })
            .collect();
        let held = broken.is_empty() && !result.interrupted;
        let step = SweepStep {
            rate,
            offered_per_s: rate * per_rate,
            held,
            broken,
            result,
        };
        on_step(&step);
        interrupted = step.result.interrupted;
        // A step that broke while loadgen itself was the bottleneck says nothing about the
        // server (one that held still shows the server carried that rate).
        let client = step.result.client.clone().filter(|c| c.bound && !held);
        steps.push(step);
        if interrupted {
            break "interrupted (Ctrl-C)".into();
        }
        if held {
            bracket.held = Some(bracket.held.map_or(rate, |h| h.max(rate)));
        } else if client.is_none() {
            bracket.broke = Some(bracket.broke.map_or(rate, |b| b.min(rate)));
        }
        // Stop there, and report what held as a lower bound.
        if let Some(c) = client {
            client_bound = true;
            break format!(
                "broke client-bound at {rate}/s per room ({}): the capacity is at least the \
                 highest rate that held",
                c.reason.unwrap_or_default()
            );
        }
    };
    let point = |rate: Option<f64>| {
        rate.and_then(|r| steps.iter().find(|s| s.rate == r))
            .map(SweepStep::point)
    };
    let capacity: Option<Capacity> = point(bracket.held);
    let broke_at = point(bracket.broke);
    Ok(SweepResult {
        kind: sweep::KIND.into(),
        schema_version: sweep::SWEEP_SCHEMA_VERSION,
        started_at,
        bounds: bounds.iter().map(|b| b.text.clone()).collect(),
        from_rate: search.from,
        factor: search.factor,
        precision: search.precision,
        max_steps: search.max_steps,
        max_rate: search.max_rate,
        capacity,
        broke_at,
        stopped,
        client_bound,
        interrupted,
        steps,
    })
}

/// A measured value in the unit of its bound; "no samples" for a latency that had none.
fn shown(bound: Option<&Threshold>, v: Option<f64>) -> String {
    match (bound, v) {
        (_, None) => "no samples".into(),
        (Some(b), Some(v)) => b.metric.show(v),
        (None, Some(v)) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> Search {
        Search {
            from: 10.0,
            factor: 2.0,
            precision: 0.1,
            max_steps: 12,
            max_rate: None,
        }
    }

    /// Drives the search against a backend whose capacity is `cap`: the rates it tries.
    fn trace(s: &Search, cap: f64) -> (Vec<f64>, Bracket) {
        let mut b = Bracket::default();
        let mut tried = Vec::new();
        let mut last = s.from;
        while let Next::Rate(r) = s.next(b, tried.len() as u32, last) {
            tried.push(r);
            last = r;
            if r <= cap {
                b.held = Some(b.held.map_or(r, |h: f64| h.max(r)));
            } else {
                b.broke = Some(b.broke.map_or(r, |h: f64| h.min(r)));
            }
        }
        (tried, b)
    }

    #[test]
    fn steps_up_then_bisects_to_the_precision() {
        let (tried, b) = trace(&search(), 55.0);
        assert_eq!(&tried[..4], &[10.0, 20.0, 40.0, 80.0]);
        let (lo, hi) = (b.held.unwrap(), b.broke.unwrap());
        assert!(lo <= 55.0 && hi > 55.0 && hi / lo <= 1.1, "{lo} {hi}");
        assert!(tried.len() <= 12);
    }

    #[test]
    fn a_first_step_that_breaks_goes_down() {
        let (tried, b) = trace(&search(), 3.0);
        assert_eq!(&tried[..3], &[10.0, 5.0, 2.5]);
        assert!(b.held.unwrap() <= 3.0 && b.broke.unwrap() > 3.0);
    }

    #[test]
    fn the_cap_and_the_step_limit_stop_it() {
        let capped = Search {
            max_rate: Some(30.0),
            ..search()
        };
        let (tried, b) = trace(&capped, 1000.0);
        assert_eq!(tried, [10.0, 20.0, 30.0]);
        assert_eq!((b.held, b.broke), (Some(30.0), None));
        let short = Search {
            max_steps: 2,
            ..search()
        };
        assert_eq!(trace(&short, 1000.0).0, [10.0, 20.0]);
    }
}
