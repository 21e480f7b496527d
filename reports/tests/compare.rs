//! The baseline gate: passes on the same figures, fails on a synthetic regression.

mod common;

use std::process::Command;

use reports::compare::{self, parse_bounds};

#[test]
fn the_same_run_passes_and_a_slower_one_fails() {
    let base = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let same = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let slower = common::result(&common::stats(1000, 3000, 6, 3), &[]);
    let bounds = compare::default_bounds();
    assert!(
        compare::compare(&base.summary, &[&same.summary], &bounds)
            .iter()
            .all(|r| r.verdict == compare::Verdict::Ok)
    );
    let rows = compare::compare(&base.summary, &[&slower.summary], &bounds);
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.is_regression())
        .map(|r| r.bound.metric.name())
        .collect();
    assert_eq!(failed, ["p50", "p99"]);
}

#[test]
fn loss_may_not_grow_and_the_median_of_repeats_is_used() {
    let base = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let mut lossy = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    lossy.summary.loss = 0.01;
    let bounds = parse_bounds("loss=0").expect("bounds");
    assert!(compare::compare(&base.summary, &[&lossy.summary], &bounds)[0].is_regression());
    // One bad run of three: the median is fine.
    let ok = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let rows = compare::compare(
        &base.summary,
        &[&ok.summary, &lossy.summary, &ok.summary],
        &bounds,
    );
    assert_eq!(rows[0].verdict, compare::Verdict::Ok);
}

#[test]
fn slower_runs_that_agree_fail_and_runs_that_disagree_are_inconclusive() {
    let base = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let bounds = parse_bounds("p99=100%").expect("bounds");
    // Three runs, all about three times the baseline: a regression.
    let slow =
        [3000, 3300, 3600].map(|us| common::result(&common::stats(1000, us, us / 500, 3), &[]));
    let slow: Vec<_> = slow.iter().map(|r| &r.summary).collect();
    let rows = compare::compare(&base.summary, &slow, &bounds);
    assert!(rows[0].is_regression(), "{:?}", rows[0]);
    // The same median, but the runs range over 10x: noise wider than the bound.
    let noisy =
        [1000, 3300, 10_000].map(|us| common::result(&common::stats(1000, us, us / 500, 3), &[]));
    let noisy: Vec<_> = noisy.iter().map(|r| &r.summary).collect();
    let rows = compare::compare(&base.summary, &noisy, &bounds);
    assert!(
        matches!(rows[0].verdict, compare::Verdict::Inconclusive { .. }),
        "{:?}",
        rows[0]
    );
    // Correctness is never inconclusive.
    let mut lossy = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    lossy.summary.loss = 0.5;
    let fine = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let rows = compare::compare(
        &base.summary,
        &[&lossy.summary, &lossy.summary, &fine.summary],
        &parse_bounds("loss=0").expect("bounds"),
    );
    assert!(rows[0].is_regression());
}

#[test]
fn bounds_parse_and_refuse_nonsense() {
    assert_eq!(parse_bounds("p99=20%,loss=0").expect("valid").len(), 2);
    assert!(
        parse_bounds("p99=20").is_err(),
        "a latency bound is a percentage"
    );
    assert!(parse_bounds("p42=1%").is_err());
    assert!(parse_bounds("p99").is_err());
}

#[test]
fn the_binary_exits_1_on_a_regression_and_2_on_bad_input() {
    let dir = tempfile::tempdir().expect("dir");
    let base = common::write(
        dir.path(),
        "base",
        &common::result(&common::stats(1000, 1000, 2, 3), &[]),
    );
    let slower = common::write(
        dir.path(),
        "slower",
        &common::result(&common::stats(1000, 5000, 9, 3), &[]),
    );
    let reports = env!("CARGO_BIN_EXE_reports");
    let same = Command::new(reports)
        .args(["compare"])
        .arg(&base)
        .arg(&base)
        .output()
        .expect("runs");
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let worse = Command::new(reports)
        .args(["compare", "--max-regression", "p99=20%"])
        .arg(&base)
        .arg(&slower)
        .output()
        .expect("runs");
    assert_eq!(worse.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&worse.stdout).contains("REGRESSION"));
    let bad = Command::new(reports)
        .args(["render", "/nonexistent.json", "--out"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read /nonexistent.json"));
}

/// A latency with no samples is no figure: new runs without it fail the bound, a baseline
/// without it leaves the bound not compared; neither is read as 0 ms.
#[test]
fn a_latency_without_samples_is_never_compared_as_zero() {
    let base = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let mut empty = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    empty.summary.completion_us = run_result::result::Latency::default();
    let bounds = parse_bounds("completion_p99=10%").expect("bounds");
    let rows = compare::compare(&base.summary, &[&empty.summary], &bounds);
    assert_eq!(rows[0].verdict, compare::Verdict::NoSamples);
    assert!(rows[0].is_regression());
    let rows = compare::compare(&empty.summary, &[&base.summary], &bounds);
    assert_eq!(rows[0].verdict, compare::Verdict::NotCompared);
    assert!(!rows[0].is_regression());
    let table = compare::render(&rows, 1);
    assert!(
        table.contains("| completion_p99 | - (no samples) |"),
        "{table}"
    );
}

/// Bounds given on the command line keep the core contract beside them, unless relaxed.
#[test]
fn the_core_contract_is_compared_unless_relaxed() {
    let given = parse_bounds("p99=20%,loss=1%").expect("bounds");
    let names: Vec<&str> = compare::with_core(&given, &[compare::Metric::Reordered])
        .iter()
        .map(|b| b.metric.name())
        .collect();
    assert_eq!(
        names,
        [
            "p99",
            "loss",
            "duplicates",
            "cross_room",
            "foreign",
            "outside",
            "causal_violations",
            "errors"
        ]
    );
    let base = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    let mut dup = common::result(&common::stats(1000, 1000, 2, 3), &[]);
    dup.summary.duplicates = 3;
    let rows = compare::compare(&base.summary, &[&dup.summary], &compare::default_bounds());
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.is_regression())
        .map(|r| r.bound.metric.name())
        .collect();
    assert_eq!(failed, ["duplicates"]);
}
