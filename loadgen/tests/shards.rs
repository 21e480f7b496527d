//! A rehearsal of the Kubernetes Indexed Job where no cluster runs: three loadgen processes
//! (the real binary) get exactly what the Job gives its pods (the same flags, `--shards 3`
//! and their own `JOB_COMPLETION_INDEX`), each on its own 127.x source address, against two
//! reference nodes sharing rooms over a real redis-server, all starting at one `--start-at`.
//! Their results merge into one equal in totals to the plan: every connection, every message
//! expected at every member of its room, nothing lost, no room loaded by two shards (that
//! would show as duplicates or foreign stamps).

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

fn shard_args(targets: &[String], start_at: f64, json: &Path, index: u32) -> Vec<String> {
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
            "--json",
            json.to_str().expect("utf-8"),
        ]
        .map(String::from),
    );
    args
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

    let children: Vec<_> = (0..SHARDS)
        .map(|k| {
            let json = dir.path().join(format!("shard-{k}.json"));
            Command::new(env!("CARGO_BIN_EXE_loadgen"))
                .args(shard_args(&targets, start_at, &json, k))
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .stdout(Stdio::null())
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
    }

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

    // Shards and the merge are results the schema describes.
    let schema: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../run-result/schema.json"
    )))
    .expect("schema.json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    for value in [
        serde_json::to_value(&runs[1].result).expect("json"),
        serde_json::to_value(&merged).expect("json"),
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    for node in nodes {
        node.stop().await.expect("stops");
    }
}
