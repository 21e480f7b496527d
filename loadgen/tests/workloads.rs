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

/// The HTML report of `r`.
fn report(r: &RunResult) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workload.json");
    std::fs::write(&path, serde_json::to_string(r).expect("json")).expect("write");
    let run = reports::run::Run::load(&path).expect("a result");
    reports::html::render(&[run]).expect("rendered")
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
    // The report's timeline marks where "spike" and "after" start.
    let html = report(&r);
    let timeline = &html[html.find("Timeline: workload").expect("a timeline")..];
    assert!(timeline.contains(">\nspike\n<") && timeline.contains(">\nafter\n<"));
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
    let html = report(&r);
    assert!(html.contains("workload: by part"), "the parts' section");
    assert!(html.contains("<td>big</td>") && html.contains("<td>17-32 members</td>"));
    assert!(html.contains("Whole-room latency by room size"));
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

#[test]
fn every_shipped_workload_reads_and_fits_this_machine_beside_the_embedded_server() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workloads");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("workloads/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let w = loadgen::workload::file::parse(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // At most a minute: warm-up, stages and settle, with the connecting on top.
        let total = w.warmup + w.duration() + w.settle;
        assert!(
            total <= Duration::from_secs(55),
            "{}: {total:?}",
            path.display()
        );
        let layout = loadgen::workload::Layout::new(&w);
        let members: u64 = layout.rooms.iter().map(|r| u64::from(r.members)).sum();
        // Two descriptors per connection beside the embedded server, within 20,000.
        assert!(members * 2 + 256 <= 20_000, "{}: {members}", path.display());
        assert!(text.lines().take_while(|l| l.starts_with('#')).count() >= 3);
        names.push(path.file_stem().map(|s| s.to_string_lossy().into_owned()));
    }
    names.sort();
    let expected = ["community", "daily", "hot-room", "mixed-sizes", "spike"];
    assert_eq!(names, expected.map(|n| Some(n.to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_of_a_workload_merge_into_its_parts_exactly() {
    let server = fault_server::spawn(Faults {
        drop_rate: 0.2,
        drop_over_members: Some(10),
        seed: 6,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let workload = dir.path().join("w.toml");
    std::fs::write(&workload, TWO_GROUPS).expect("write");
    let mut parts = Vec::new();
    for k in 0..2 {
        let json = dir.path().join(format!("shard-{k}.json"));
        let shard = format!("{k}/2");
        let args = [
            "--workload",
            workload.to_str().expect("utf-8"),
            "--target",
            &url,
            "--shard",
            &shard,
            "--json",
            json.to_str().expect("utf-8"),
        ];
        let r = common::run(&args).await;
        std::fs::write(&json, serde_json::to_string(&r).expect("json")).expect("write");
        parts.push(reports::run::Run::load(&json).expect("a result"));
    }
    let merged = reports::merge::merge(&parts, false).expect("one plan's shards");
    adds_up(&merged);
    for name in ["big", "small"] {
        let m = part(&merged.groups, name);
        let shards: Vec<&PartResult> = parts.iter().map(|p| part(&p.result.groups, name)).collect();
        assert_eq!(m.delivered, shards.iter().map(|s| s.delivered).sum::<u64>());
        assert_eq!(m.missing, shards.iter().map(|s| s.missing).sum::<u64>());
        assert_eq!(m.rooms, Some(shards.iter().filter_map(|s| s.rooms).sum()));
        assert_eq!(m.latency_us.count, m.delivered, "the histograms merged too");
    }
    // The big rooms (rooms 0 and 1) fall one in each shard; only they lose.
    assert!(part(&merged.groups, "big").missing > 0);
    assert_eq!(part(&merged.groups, "small").missing, 0);
}

/// Stages that keep 40% of each room's receivers, then all of them again (a herd leaving and
/// coming back, as after a deploy), padded with the words of a file beside the workload.
const HERD: &str = r#"
warmup = "1s"
settle = "2s"
[[group]]
name = "rooms"
rooms = 20
members = 10
senders = 1
rate = 5
text = "words:chat-words.txt"
[[stage]]
name = "all"
duration = "3s"
[[stage]]
name = "herd"
duration = "3s"
members = "40%"
[[stage]]
name = "back"
duration = "3s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_leaves_and_comes_back_and_each_stay_gets_its_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("chat-words.txt"), "gg wp\nbrb afk\nlol\n").expect("words");
    let path = dir.path().join("herd.toml");
    std::fs::write(&path, HERD).expect("write the workload");
    let path = path.display().to_string();
    let r = common::run(&["--workload", path.as_str(), "--no-json"]).await;
    let s = &r.summary;
    // Of each room's 9 receivers the ranks 0/9..3/9 are below 40%: 5 per room leave, once.
    assert_eq!(s.leaves, 20 * 5, "{s:?}");
    assert_eq!(
        s.join_us.count,
        20 * 5,
        "each rejoin's first delivery timed"
    );
    assert_eq!((s.missing, s.duplicates, s.outside_membership), (0, 0, 0));
    assert!(s.delivered > 0 && s.delivered == s.expected, "{s:?}");
    // Members in their rooms at the end of each second: 200, then 20 senders + 80 during the
    // herd, then 200 again.
    let connected: Vec<u64> = r.series.iter().map(|x| x.connected).collect();
    assert_eq!(connected.get(1), Some(&200), "{connected:?}");
    assert_eq!(connected.get(4), Some(&100), "{connected:?}");
    assert_eq!(connected.get(7), Some(&200), "{connected:?}");
    // The herd stage's messages were for the 5 members who stayed in each room; a message
    // sent in the instant the others left may have been theirs too (one per room).
    let herd = part(&r.stages, "herd");
    assert_eq!(herd.members, Some(100));
    assert!(
        herd.expected >= herd.sent * 5 && herd.expected <= herd.sent * 5 + 20 * 5,
        "{herd:?}"
    );
    assert_eq!(part(&r.stages, "all").members, Some(200));
    assert!(r.thresholds.iter().all(|t| t.passed), "{:?}", r.thresholds);
    let words = dir.path().join("chat-words.txt").display().to_string();
    assert_eq!(r.config.text, Some(format!("words:{words}")));
    let html = report(&r);
    assert!(
        html.contains("seconds, rate, members"),
        "the stages' members"
    );
}

#[test]
fn reconnect_flags_beside_a_file_replace_its_reconnect_table() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[reconnect]\nmin = \"20ms\"\n[[group]]\nrooms = 1\nmembers = 2\n",
    )
    .expect("write");
    let path = path.display().to_string();
    let file_only = loadgen::Opts::try_parse_from(["loadgen", "--workload", &path])
        .expect("flags")
        .workload()
        .expect("workload");
    let both = loadgen::Opts::try_parse_from([
        "loadgen",
        "--workload",
        &path,
        "--reconnect",
        "--reconnect-min",
        "50ms",
    ])
    .expect("flags")
    .workload()
    .expect("workload");
    let bounds = |w: &loadgen::workload::Workload| w.reconnect.map(|r| (r.min, r.max));
    let ms = Duration::from_millis;
    assert_eq!(bounds(&file_only), Some((ms(20), ms(5000))));
    assert_eq!(bounds(&both), Some((ms(50), ms(5000))));
}
