//! `--abort-on EXPR:DURATION`: a server past the bound ends the run early, with the reason in
//! the result and exit code 2; a server within it runs its whole duration; a condition that
//! cannot be watched while the run lasts is refused.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use fault_server::Faults;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_ends_the_run_early_and_says_why() {
    let server = slow_server().await;
    let url = server.url();
    let started = Instant::now();
    let r = common::run(&[
        "--target",
        &url,
        "--rooms",
        "2",
        "--clients",
        "3",
        "--rate",
        "20",
        "--duration",
        "30s",
        "--warmup",
        "0s",
        "--settle",
        "1s",
        "--no-json",
        "--abort-on",
        "p99<50ms:1s",
    ])
    .await;
    let why = r.aborted.as_deref().expect("aborted");
    assert!(why.starts_with("p99<50ms broken for 1s"), "{why}");
    // Ended within a few seconds of the measured 30.
    assert!(r.summary.measured_s < 10.0, "{}", r.summary.measured_s);
    assert!(started.elapsed() < Duration::from_secs(20));
    // What was sent before the abort was still delivered and counted: nothing missing.
    assert!(r.summary.sent > 0);
    assert_eq!(r.summary.missing, 0);
    let held = r.thresholds.iter().find(|t| t.threshold == "p99<50ms");
    assert!(held.is_some_and(|t| !t.passed), "{:?}", r.thresholds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_within_the_bound_runs_its_course() {
    let r = common::run(&[
        "--rooms",
        "2",
        "--clients",
        "3",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--settle",
        "1s",
        "--no-json",
        "--abort-on",
        "p99<5s:1s",
        "--abort-on",
        "errors<1:1s",
    ])
    .await;
    assert_eq!(r.aborted, None);
    assert!(
        (r.summary.measured_s - 2.0).abs() < 0.2,
        "{}",
        r.summary.measured_s
    );
}

#[test]
fn conditions_it_cannot_watch_are_refused() {
    let text = refused("loss<1%:5s");
    assert!(text.contains("known while a run lasts"), "{text}");
    let text = refused("p99<5ms");
    assert!(text.contains("EXPR:DURATION"), "{text}");
}

/// Every delivery held 300 ms: p99 < 50 ms is broken from the first delivery on.
async fn slow_server() -> fault_server::FaultServer {
    fault_server::spawn(Faults {
        delay: Duration::from_millis(300),
        ..Faults::default()
    })
    .await
    .expect("fault server")
}

/// The binary's complaint about `--abort-on RULE`, which it must refuse (exit 1).
fn refused(rule: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--abort-on", rule, "--no-json"])
        .output()
        .expect("loadgen runs");
    assert_eq!(out.status.code(), Some(1), "{rule}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_2_on_an_abort() {
    let server = slow_server().await;
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args([
                "--target",
                &url,
                "--rooms",
                "2",
                "--clients",
                "3",
                "--rate",
                "20",
            ])
            .args(["--duration", "30s", "--warmup", "0s", "--settle", "1s"])
            .args(["--quiet", "--no-json", "--abort-on", "p99<50ms:1s"])
            .output()
            .expect("loadgen runs")
    })
    .await
    .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ABORTED (--abort-on): p99<50ms"));
}
