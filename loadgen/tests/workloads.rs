//! Workloads (`--workload FILE`): loss injected in one room group, or in one stage, is counted
//! there and nowhere else, and every part adds up to the run; a room of 5,000 members gets
//! every message.

mod common;

use std::time::Duration;

use fault_server::Faults;
use loadgen::RunResult;
use run_result::part::PartResult;

/// Writes `toml` to a file of its own and runs it against `target` (the embedded server when
/// `None`).
async fn run_workload(toml: &str, target: Option<&str>) -> RunResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("w.toml");
    std::fs::write(&path, toml).expect("write the workload");
    let path = path.display().to_string();
    let mut args = vec!["--workload", path.as_str(), "--no-json"];
    if let Some(t) = target {
        args.extend(["--target", t]);
    }
    common::run(&args).await
}

fn part<'a>(parts: &'a [PartResult], name: &str) -> &'a PartResult {
    parts
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no part {name:?} in {parts:?}"))
}

/// Within each breakdown the parts add up to the summary.
fn adds_up(r: &RunResult) {
    for (what, parts) in [
        ("groups", &r.groups),
        ("size classes", &r.size_classes),
        ("stages", &r.stages),
    ] {
        let delivered: u64 = parts.iter().map(|p| p.delivered).sum();
        let missing: u64 = parts.iter().map(|p| p.missing).sum();
        let sent: u64 = parts.iter().map(|p| p.sent).sum();
        assert_eq!(delivered, r.summary.delivered, "{what}: delivered");
        assert_eq!(missing, r.summary.missing, "{what}: missing");
        assert_eq!(sent, r.summary.sent, "{what}: sent");
    }
}

const TWO_GROUPS: &str = r#"
warmup = "0s"
settle = "1s"
duration = "2s"
[[group]]
name = "big"
rooms = 2
members = 20
rate = 20
[[group]]
name = "small"
rooms = 6
members = 4
senders = 2
rate = 20
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_in_big_rooms_is_counted_in_their_group_and_size_only() {
    let server = fault_server::spawn(Faults {
        drop_rate: 0.2,
        drop_over_members: Some(10),
        seed: 4,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let r = run_workload(TWO_GROUPS, Some(&server.url())).await;
    adds_up(&r);
    let (big, small) = (part(&r.groups, "big"), part(&r.groups, "small"));
    assert!(big.missing > 0, "{big:?}");
    assert_eq!(small.missing, 0, "{small:?}");
    assert!(small.delivered > 0 && big.delivered > 0);
    assert_eq!((big.rooms, big.members), (Some(2), Some(40)));
    assert_eq!(part(&r.size_classes, "17-32 members").missing, big.missing);
    assert_eq!(part(&r.size_classes, "3-4 members").missing, 0);
    // About a fifth of the big rooms' deliveries.
    assert!((0.1..0.3).contains(&big.loss), "{}", big.loss);
    assert!(
        r.thresholds
            .iter()
            .any(|t| t.threshold == "loss=0" && !t.passed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_in_one_stage_is_counted_in_that_stage_only() {
    // The warm-up's first send is the server's first broadcast: 1 s later the measured run
    // starts, so the window 3.3-4.7 s after it is 2.3-3.7 s into the measured run, inside the
    // stage "spike" (2-4 s) with 300 ms to spare on either side.
    let server = fault_server::spawn(Faults {
        drop_rate: 0.3,
        drop_window: Some((Duration::from_millis(3300), Duration::from_millis(4700))),
        seed: 5,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let toml = r#"
        warmup = "1s"
        settle = "1s"
        [[group]]
        rooms = 4
        members = 5
        rate = 20
        [[stage]]
        name = "before"
        duration = "2s"
        [[stage]]
        name = "spike"
        duration = "2s"
        rate = 3
        [[stage]]
        name = "after"
        duration = "2s"
    "#;
    let r = run_workload(toml, Some(&server.url())).await;
    adds_up(&r);
    let spike = part(&r.stages, "spike");
    assert!(spike.missing > 0, "{spike:?}");
    assert_eq!(part(&r.stages, "before").missing, 0);
    assert_eq!(part(&r.stages, "after").missing, 0);
    // Three times the rate: three times the sends of a stage as long at rate 1.
    let before = part(&r.stages, "before");
    let ratio = spike.sent as f64 / before.sent as f64;
    assert!(
        (2.8..3.2).contains(&ratio),
        "{} vs {}",
        spike.sent,
        before.sent
    );
    assert_eq!((spike.from_s, spike.to_s), (Some(2.0), Some(4.0)));
    for s in &r.series {
        if !(2..4).contains(&s.second) {
            assert_eq!(s.missing, 0, "second {}", s.second);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_free_server_loses_nothing_in_any_part() {
    let server = fault_server::spawn(Faults::default())
        .await
        .expect("fault server");
    let r = run_workload(TWO_GROUPS, Some(&server.url())).await;
    adds_up(&r);
    assert!(r.groups.iter().all(|g| g.missing == 0 && g.delivered > 0));
    assert!(r.thresholds.iter().all(|t| t.passed), "{:?}", r.thresholds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_of_5000_members_gets_every_message() {
    let toml = r#"
        warmup = "1s"
        settle = "5s"
        duration = "3s"
        [[group]]
        name = "hot"
        members = [5000]
        senders = 2
        rate = 2
    "#;
    let r = run_workload(toml, None).await;
    let hot = part(&r.groups, "hot");
    assert_eq!(r.summary.connections.established, 5000);
    assert_eq!(hot.sent, 6);
    assert_eq!(hot.expected, 6 * 5000);
    assert_eq!((hot.delivered, hot.missing), (30_000, 0));
    assert_eq!(
        hot.completion_us.count, 6,
        "every message reached the whole room"
    );
    assert!(hot.completion_us.p99 > 0);
}
