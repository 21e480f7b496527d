//! The result crate's own promises: merging totals is exact (two halves of any load merge
//! into exactly what recording the whole gives, histograms included), and what it writes is
//! what `schema.json` describes.

use proptest::prelude::*;
use run_result::histogram::record;
use run_result::{Parts, RunResult, Threshold, Totals};

/// One delivery: its latency in microseconds and the second it fell in.
fn deliver(t: &mut Totals, latency_us: u64, second: usize) {
    record(&mut t.latency, latency_us);
    record(&mut t.latency_sent, latency_us / 2 + 1);
    t.delivered += 1;
    t.expected += 1;
    let bucket = t.second(second);
    bucket.deliveries += 1;
    record(&mut bucket.latency, latency_us);
}

proptest! {
    #[test]
    fn two_halves_of_any_load_merge_into_the_whole(
        deliveries in prop::collection::vec((1u64..60_000_000, 0usize..6), 0..400),
        cut in 0usize..400,
        closes in prop::collection::vec(prop::sample::select(vec![1000u16, 1006, 1011, 1013]), 0..20),
    ) {
        let (mut whole, mut first, mut second) = (Totals::default(), Totals::default(), Totals::default());
        for (i, &(latency_us, at)) in deliveries.iter().enumerate() {
            deliver(&mut whole, latency_us, at);
            deliver(if i < cut { &mut first } else { &mut second }, latency_us, at);
        }
        for (i, &code) in closes.iter().enumerate() {
            whole.closed(code);
            (if i % 2 == 0 { &mut first } else { &mut second }).closed(code);
        }
        first.merge(&second);
        prop_assert!(first.latency == whole.latency, "latency histograms differ");
        prop_assert!(first.latency_sent == whole.latency_sent);
        prop_assert_eq!(first.delivered, whole.delivered);
        prop_assert_eq!(first.expected, whole.expected);
        prop_assert_eq!(&first.closes, &whole.closes);
        prop_assert_eq!(first.series.len(), whole.series.len());
        for (m, w) in first.series.iter().zip(&whole.series) {
            prop_assert_eq!(m.deliveries, w.deliveries);
            prop_assert!(m.latency == w.latency, "a second's histogram differs");
        }
    }
}

fn errors(result: &RunResult) -> Vec<String> {
    testkit::result_schema_errors(&serde_json::to_value(result).expect("serialises"))
}

/// A result read from an older file, and one assembled from its merged totals, are written
/// as the schema says.
#[test]
fn what_it_writes_matches_the_schema() {
    let old: RunResult =
        serde_json::from_str(include_str!("../testdata/before-send-lateness.json")).expect("parse");
    let read_back = errors(&old);
    assert!(read_back.is_empty(), "{read_back:#?}");

    let mut totals = Totals::from_result(&old).expect("totals");
    totals.merge(&Totals::from_result(&old).expect("totals"));
    // A bound on a latency the run never measured (no churn, no joins) writes `actual: null`.
    let given: Vec<Threshold> = ["p99<5ms", "loss=0", "join_p99<1s"]
        .iter()
        .map(|t| t.parse().expect("a threshold"))
        .collect();
    let thresholds = Threshold::with_core(&given, &[]);
    let assembled = RunResult::assemble(Parts {
        totals: &totals,
        config: old.config.clone(),
        machine: old.machine.clone(),
        started_at: old.started_at.clone(),
        interrupted: false,
        planned: old.summary.connections.planned * 2,
        measured_s: 3.0,
        thresholds: &thresholds,
        ramp: old.ramp.clone(),
        breakdown: &Default::default(),
    });
    assert_eq!(assembled.summary.delivered, 2 * old.summary.delivered);
    let join = &assembled.thresholds[2];
    assert_eq!(
        (join.actual, join.passed, join.default),
        (None, false, false)
    );
    assert!(assembled.thresholds[3..].iter().all(|t| t.default));
    let written = errors(&assembled);
    assert!(written.is_empty(), "{written:#?}");

    // The schema is not a formality: a result without its summary is refused.
    let mut value = serde_json::to_value(&assembled).expect("json");
    value.as_object_mut().expect("an object").remove("summary");
    assert!(
        !testkit::result_schema_errors(&value).is_empty(),
        "a result without a summary passed"
    );
}
