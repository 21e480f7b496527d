//! `--sweep` against servers whose capacity is known: the fault server serving at most N
//! broadcasts a second (above it latency grows without bound), and one that loses messages
//! (no rate holds `loss=0`). The search must bracket the known capacity, and the binary must
//! say when nothing held.

use std::process::Command;
use std::time::Duration;

use clap::Parser as _;
use fault_server::Faults;
use loadgen::Opts;

/// 2 rooms x 3 members, one sender per room: broadcasts per second = 2 x the per-room rate.
const PLAN: &[&str] = &[
    "--rooms",
    "2",
    "--clients",
    "3",
    "--duration",
    "1500ms",
    "--warmup",
    "500ms",
    "--settle",
    "1s",
    "--no-json",
    "--quiet",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brackets_a_known_capacity() {
    // 100 broadcasts a second: a per-room rate of 50.
    const CAPACITY: f64 = 100.0;
    let server = fault_server::spawn(Faults {
        max_broadcasts_per_s: Some(CAPACITY),
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let mut args = vec!["loadgen", "--target", &url, "--sweep", "--rate", "10"];
    args.extend_from_slice(PLAN);
    args.extend(["--until", "p99<100ms", "--sweep-steps", "8"]);
    let opts = Opts::try_parse_from(args).expect("valid flags");
    let mut seen = 0;
    let sweep = tokio::time::timeout(
        Duration::from_secs(120),
        loadgen::sweep::sweep(opts, |_| seen += 1),
    )
    .await
    .expect("the sweep ends in time")
    .expect("the sweep runs");
    let report = loadgen::sweep_summary::render(&sweep);
    assert_eq!(seen, sweep.steps.len());
    let capacity = sweep.capacity.expect("a step held");
    let broke = sweep.broke_at.expect("a step broke");
    let broadcasts = |rate: f64| rate * 2.0;
    // Every step above 115 % of the capacity queues more than 100 ms within its 2 s of
    // sending, so it must break; a step at half of it has 10 ms between broadcasts and must
    // hold.
    assert!(broadcasts(capacity.rate) <= CAPACITY * 1.15, "{report}");
    assert!(broadcasts(capacity.rate) >= CAPACITY * 0.5, "{report}");
    assert!(broke.rate > capacity.rate, "{report}");
    assert!(
        sweep.steps.iter().all(|s| s.result.summary.duplicates == 0),
        "{report}"
    );
    // Steps up by the factor first, then bisection between the bracket's ends.
    let rates: Vec<f64> = sweep.steps.iter().map(|s| s.rate).collect();
    assert_eq!(&rates[..3], &[10.0, 20.0, 40.0], "{report}");
    assert!(report.contains("capacity: "), "{report}");
    // The --until bound, then the core contract every step is also held to.
    assert_eq!(
        sweep.bounds,
        [
            "p99<100ms",
            "loss=0",
            "duplicates=0",
            "reordered=0",
            "cross_room=0",
            "foreign=0",
            "outside=0",
            "causal_violations=0",
            "errors=0"
        ]
    );
    assert_eq!(sweep.bounds_shown(), "p99<100ms and the core contract");
    for s in &sweep.steps {
        assert_eq!(
            s.held,
            s.result.thresholds.iter().all(|t| t.passed),
            "{report}"
        );
        assert_eq!(s.offered_per_s, s.rate * 6.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_holds_on_a_lossy_server_and_the_binary_exits_2() {
    let server = fault_server::spawn(Faults {
        drop_rate: 0.2,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("sweep.json");
    let url = server.url();
    let mut args: Vec<String> = [
        "--target",
        &url,
        "--sweep",
        "--rate",
        "20",
        "--sweep-steps",
        "2",
    ]
    .map(String::from)
    .to_vec();
    args.extend(
        PLAN.iter()
            .filter(|a| **a != "--no-json")
            .map(|a| a.to_string()),
    );
    args.extend(["--json".into(), json.to_str().expect("utf-8").into()]);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(&args)
            .output()
            .expect("loadgen runs")
    });
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the sweep ends in time")
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("step 1: 20/s per room"), "{stderr}");
    assert!(stderr.contains("broke: loss=0 (was "), "{stderr}");
    assert!(
        stdout.contains("capacity: below every rate tried"),
        "{stdout}"
    );
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the sweep file"))
            .expect("JSON");
    assert_eq!(sweep["kind"], "sweep");
    assert_eq!(sweep["capacity"], serde_json::Value::Null);
    let rates: Vec<f64> = sweep["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["rate"].as_f64().expect("rate"))
        .collect();
    // Down by the factor after the first step broke; unless loadgen itself was short of CPU
    // when a step broke (the whole workspace's tests share two cores), which stops the search
    // at that step by design: a step broken client-bound says nothing about the server.
    if sweep["client_bound"] == true {
        assert!(
            !rates.is_empty() && [20.0, 10.0].starts_with(&rates),
            "{rates:?}\n{stdout}"
        );
        let stopped = sweep["stopped"].as_str().unwrap_or_default();
        assert!(stopped.starts_with("broke client-bound"), "{stopped}");
    } else {
        assert_eq!(rates, [20.0, 10.0], "{stdout}");
    }
    assert!(sweep["steps"][0]["result"]["summary"]["missing"].as_u64() > Some(0));
}

#[test]
fn sweep_flags_are_checked() {
    for (args, says) in [
        (&["--until", "p99<1ms"][..], "--sweep"),
        (&["--sweep", "--sweep-factor", "1"], "must be above 1"),
        (&["--sweep", "--sweep-precision", "0"], "above zero"),
        (&["--sweep", "--threshold", "loss=0"], "cannot be used with"),
        (&["--sweep", "--shard", "0/2"], "cannot be used with"),
        (&["--sweep", "--until", "p99<1"], "needs a unit"),
    ] {
        let mut full = vec!["loadgen"];
        full.extend_from_slice(args);
        let err = Opts::try_parse_from(full).expect_err("refused").to_string();
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
