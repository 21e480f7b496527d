//! A rehearsal of the Kubernetes Indexed Job where no cluster runs: three loadgen processes
//! (the real binary, through the image's `deploy/loadgen-shard` wrapper) get exactly what the
//! Job gives its pods (the same flags, `--shards 3` and their own `JOB_COMPLETION_INDEX`),
//! each on its own 127.x source address, against two reference nodes sharing rooms over a
//! real redis-server, all starting at one `--start-at`; each result is cut out of the pod's
//! output after its marker line, as the `kubectl logs` loop of docs/deploy.md does.
//! Their results merge into one equal in totals to the plan: every connection, every message
//! expected at every member of its room, nothing lost, no room loaded by two shards (that
//! would show as duplicates or foreign stamps).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reports::run::Run;
use testkit::Redis;

const SHARDS: u32 = 3;
const ROOMS: u32 = 6;
const CLIENTS: u32 = 4;
const RATE: u32 = 20;
const DURATION_S: u32 = 2;

fn shard_args(targets: &[String], start_at: f64, index: u32) -> Vec<String> {
    let mut args: Vec<String> = targets
        .iter()
        .flat_map(|t| ["--target".to_owned(), t.clone()])
        .collect();
    args.extend(
        [
            "--rooms",
            &ROOMS.to_string(),
            "--clients",
            &CLIENTS.to_string(),
            "--rate",
            &RATE.to_string(),
            "--duration",
            &format!("{DURATION_S}s"),
            "--warmup",
            "1s",
            "--settle",
            "3s",
            "--seed",
            "7",
            "--shards",
            &SHARDS.to_string(),
            "--start-at",
            &format!("{start_at:.3}"),
            "--source-ip",
            &format!("127.0.0.{}", index + 2),
            "--threshold",
            "loss=0",
            "--quiet",
        ]
        .map(String::from),
    );
    args
}

/// Runs the shards through the image's wrapper, started together, and writes each one's
/// result to `dir/shard-K.json`.
async fn run_shards(targets: &[String], start_at: f64, dir: &Path) {
    // The wrapper runs `loadgen` from PATH, as in the image.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_loadgen"))
        .parent()
        .expect("a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/loadgen-shard");
    let children: Vec<_> = (0..SHARDS)
        .map(|k| {
            Command::new(&wrapper)
                .args(shard_args(targets, start_at, k))
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .env("PATH", &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("loadgen starts")
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("loadgen ends"))
            .collect::<Vec<_>>()
    });
    let outputs = tokio::time::timeout(Duration::from_secs(60), outputs)
        .await
        .expect("the shards end within 60 s")
        .expect("join");
    for (k, out) in outputs.iter().enumerate() {
        assert!(
            out.status.success(),
            "shard {k}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (_, json) = stdout
            .split_once("--- loadgen result ---\n")
            .expect("the marker line, then the result");
        std::fs::write(dir.join(format!("shard-{k}.json")), json).expect("write");
    }
}

/// The merge covers the whole plan: every connection, every send, each delivered once.
fn check_whole_plan(runs: &[Run], merged: &run_result::RunResult) {
    let s = &merged.summary;
    let whole = u64::from(ROOMS * CLIENTS);
    assert_eq!(s.connections.planned, whole);
    assert_eq!(s.connections.established, whole, "{:?}", s.errors);
    let planned_sends = u64::from(ROOMS * RATE * DURATION_S);
    assert!(
        s.sent.abs_diff(planned_sends) <= u64::from(ROOMS),
        "sent {} of a plan of {planned_sends}",
        s.sent
    );
    assert_eq!(
        s.expected,
        s.sent * u64::from(CLIENTS),
        "every member of every room"
    );
    assert_eq!(
        s.expected,
        runs.iter().map(|r| r.result.summary.expected).sum::<u64>()
    );
    assert_eq!((s.delivered, s.missing), (s.expected, 0));
    assert_eq!(
        (s.duplicates, s.foreign, s.cross_room),
        (0, 0, 0),
        "no room in two shards"
    );
    assert!(
        merged.thresholds.iter().all(|t| t.passed),
        "{:?}",
        merged.thresholds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_started_together_merge_into_the_whole_plan() {
    let redis = Redis::start().await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut config = reference_server::Config::local();
        config.layer = Some(redis.url());
        nodes.push(reference_server::spawn(config).await.expect("node"));
    }
    let targets: Vec<String> = nodes.iter().map(|n| n.http_url()).collect();
    let dir = tempfile::tempdir().expect("dir");
    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        + 4.0;

    run_shards(&targets, start_at, dir.path()).await;

    let runs: Vec<Run> = (0..SHARDS)
        .map(|k| Run::load(&dir.path().join(format!("shard-{k}.json"))).expect("a result"))
        .collect();
    for (k, run) in runs.iter().enumerate() {
        let shard = run.result.shard.as_ref().expect("a shard record");
        assert_eq!((shard.index, shard.count), (k as u32, SHARDS));
        assert_eq!(shard.rooms, ROOMS / SHARDS, "rooms k, k+3");
        assert_eq!(
            shard.plan_id,
            runs[0].result.shard.as_ref().expect("0").plan_id
        );
        assert_eq!(
            run.result.summary.connections.planned,
            u64::from(ROOMS / SHARDS * CLIENTS)
        );
    }
    let merged = reports::merge::merge(&runs, false).expect("one plan's complete set");
    let m = merged.merged_shards.as_ref().expect("recorded");
    assert_eq!(m.merged, [0, 1, 2]);
    assert!(!m.partial);

    check_whole_plan(&runs, &merged);

    // Shards and the merge are results the schema describes.
    for value in [
        serde_json::to_value(&runs[1].result).expect("json"),
        serde_json::to_value(&merged).expect("json"),
    ] {
        let errors = testkit::result_schema_errors(&value);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    for node in nodes {
        node.stop().await.expect("stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_shard_says_so_and_bad_shard_flags_are_refused() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let target = server.http_url();
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 5;
    let past = past.to_string();
    let plan = [
        "--target",
        &target,
        "--rooms",
        "4",
        "--clients",
        "2",
        "--rate",
        "10",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--settle",
        "1s",
        "--no-json",
    ];
    let mut args = plan.to_vec();
    args.extend(["--shard", "1/2", "--start-at", &past]);
    let r = common::run(&args).await;
    let shard = r.shard.expect("a shard record");
    assert_eq!((shard.index, shard.count, shard.rooms), (1, 2, 2));
    assert!(shard.late_ms >= 5000, "late by {} ms", shard.late_ms);
    assert_eq!(r.summary.connections.established, 4);
    assert_eq!(r.summary.missing, 0);

    for (extra, says) in [
        (vec!["--shards", "2"], "JOB_COMPLETION_INDEX is not set"),
        (vec!["--shard", "4/4"], "K must be below N"),
    ] {
        let mut args = plan.to_vec();
        args.extend(extra);
        let opts = <loadgen::Opts as clap::Parser>::try_parse_from(
            std::iter::once("loadgen").chain(args.iter().copied()),
        );
        let text = match opts {
            Err(e) => e.to_string(),
            Ok(_) => common::run_err(&args).await,
        };
        assert!(text.contains(says), "{text}");
    }
    let e = common::run_err(&["--rooms", "2", "--shard", "0/2", "--no-json"]).await;
    assert!(e.contains("need --target"), "{e}");
    let e = common::run_err(&[
        "--target",
        &target,
        "--rooms",
        "2",
        "--shard",
        "2/3",
        "--no-json",
    ])
    .await;
    assert!(e.contains("owns no room"), "{e}");
    server.stop().await.expect("stops");
}
