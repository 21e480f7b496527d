//! Merging two halves of a load gives the whole: histograms, counters, thresholds.

mod common;

use reports::run::Run;

#[test]
fn merging_two_halves_equals_the_whole() {
    let a = common::stats(700, 800, 7, 3);
    let b = common::stats(500, 1500, 11, 3);
    let mut whole = a.clone();
    whole.merge(&b);
    // Each half saw half the connections.
    let (mut ra, mut rb) = (
        common::result(&a, &["p99<3ms"]),
        common::result(&b, &["p99<3ms"]),
    );
    ra.summary.connections.planned = 10;
    rb.summary.connections.planned = 10;
    let rw = common::result(&whole, &["p99<3ms"]);

    let dir = tempfile::tempdir().expect("dir");
    let runs = vec![
        Run::load(&common::write(dir.path(), "a", &ra)).expect("a"),
        Run::load(&common::write(dir.path(), "b", &rb)).expect("b"),
    ];
    let merged = reports::merge::merge(&runs, false).expect("merge");

    assert_eq!(
        serde_json::to_value(&merged.summary).expect("json"),
        serde_json::to_value(&rw.summary).expect("json")
    );
    for name in [
        "latency_us",
        "latency_sent_us",
        "completion_us",
        "first_us",
        "connect_us",
    ] {
        let m = run_result::histogram::decode(&merged.histograms[name]).expect("merged");
        let w = run_result::histogram::decode(&rw.histograms[name]).expect("whole");
        assert_eq!(m, w, "{name}");
    }
    assert_eq!(merged.thresholds, rw.thresholds);
    let sends: Vec<u64> = merged.series.iter().map(|s| s.sends).collect();
    let whole_sends: Vec<u64> = rw.series.iter().map(|s| s.sends).collect();
    assert_eq!(sends, whole_sends);
    let deliveries: u64 = merged.series.iter().map(|s| s.deliveries).sum();
    assert_eq!(deliveries, rw.summary.delivered);
    assert_eq!(merged.ramp.last().map(|p| p.connected), Some(40));
}

/// Shard `index` of `count` of plan `plan`, with some deliveries.
fn shard(dir: &std::path::Path, plan: &str, index: u32, count: u32, name: &str) -> Run {
    let mut r = common::result(&common::stats(100, 800, 7, 3), &["loss=0"]);
    r.shard = Some(run_result::result::ShardRecord {
        index,
        count,
        plan_id: plan.into(),
        start_at: Some("2026-11-26T10:00:00.000Z".into()),
        rooms: 1,
        late_ms: if index == 1 { 250 } else { 0 },
        connected_at_start: 20,
    });
    Run::load(&common::write(dir, name, &r)).expect("load")
}

#[test]
fn shards_merge_only_as_one_plans_complete_set() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let all = vec![
        shard(d, "p1", 0, 3, "s0"),
        shard(d, "p1", 1, 3, "s1"),
        shard(d, "p1", 2, 3, "s2"),
    ];
    let merged = reports::merge::merge(&all, false).expect("a complete set");
    let m = merged.merged_shards.as_ref().expect("recorded");
    assert_eq!(
        (m.merged.clone(), m.partial, m.count),
        (vec![0, 1, 2], false, 3)
    );
    assert_eq!(m.late.get(&1), Some(&250), "the late shard is named");
    assert_eq!(merged.summary.delivered, 300, "the shards' totals summed");
    assert!(
        merged.thresholds.iter().all(|t| t.passed),
        "evaluated on the merge"
    );

    let two = vec![all[0].clone(), all[2].clone()];
    let e = reports::merge::merge(&two, false).expect_err("shard 1 is missing");
    assert!(
        e.to_string().contains("[1]") && e.to_string().contains("--allow-partial"),
        "{e}"
    );
    let partial = reports::merge::merge(&two, true).expect("allowed");
    let m = partial.merged_shards.expect("recorded");
    assert!(m.partial && m.missing == [1], "{m:?}");

    let twice = vec![
        all[0].clone(),
        all[1].clone(),
        shard(d, "p1", 1, 3, "s1-again"),
    ];
    let e = reports::merge::merge(&twice, false).expect_err("shard 1 twice");
    assert!(e.to_string().contains("shard 1 is there twice"), "{e}");

    let other = vec![
        all[0].clone(),
        all[1].clone(),
        shard(d, "p2", 2, 3, "other"),
    ];
    let e = reports::merge::merge(&other, false).expect_err("another plan");
    assert!(e.to_string().contains("different plans"), "{e}");

    let whole = common::result(&common::stats(10, 800, 7, 3), &[]);
    let mixed = vec![
        all[0].clone(),
        Run::load(&common::write(d, "whole", &whole)).expect("load"),
    ];
    let e = reports::merge::merge(&mixed, false).expect_err("a shard and a whole run");
    assert!(e.to_string().contains("whole run"), "{e}");
}
