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
    let merged = reports::merge::merge(&runs).expect("merge");

    assert_eq!(
        serde_json::to_value(&merged.summary).expect("json"),
        serde_json::to_value(&rw.summary).expect("json")
    );
    for name in [
        "latency_us",
        "latency_sent_us",
        "completion_us",
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
