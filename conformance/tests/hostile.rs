//! `--profile hostile`: the reference server passes every case, its memory and descriptors
//! back after each (`--server-metrics`), and is left with no connection open; a server whose
//! writes all wait on one socket (the fault server's `one_writer`) fails
//! `hostile.never-reads`, with its wire log; a server that never closes a socket (the fault
//! server's `keep_sockets`) fails `hostile.idle-connections` on its descriptors, and passes
//! it without `--server-metrics`; without `--target` the profile is refused.
//!
//! The servers run in this test process and conformance in a process of its own
//! ([`grade_process`]), so the descriptors and memory `--server-metrics` reads are this
//! process's: the tests that run a hostile case hold [`ONE_AT_A_TIME`].

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// Held by each test that runs hostile cases: the process's figures are then one server's.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The conformance binary run as a process with `args`, off the runtime's threads.
async fn conformance_process(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args(args)
            .output()
            .expect("run conformance")
    })
    .await
    .expect("the command's thread")
}

/// The conformance binary's JSON report on `target` with `extra` flags, run as a process.
async fn grade_process(target: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut args: Vec<String> = vec!["--target".into(), target.into(), "--json".into()];
    args.push(json.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let output = conformance_process(args).await;
    let text =
        std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no report ({e}): {output:?}"));
    serde_json::from_str(&text).expect("the report is JSON")
}

fn gauge(server: &reference_server::RunningServer, name: &str) -> u64 {
    let metrics = server.metrics.render();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_every_hostile_case_and_nothing_stays_open() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let started = Instant::now();
    let metrics = format!("{}/metrics", server.http_url());
    let report = grade_process(
        &server.http_url(),
        &["--profile", "hostile", "--server-metrics", &metrics],
    )
    .await;
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 8, "{report}");
    for c in cases {
        assert_eq!(c["verdict"], "PASS", "{c}");
        // Graded on its memory and descriptors too.
        let evidence = c["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("descriptors"), "{evidence}");
        assert!(evidence.contains("memory"), "{evidence}");
    }
    assert!(started.elapsed() < Duration::from_secs(120));
    // Every attacker's connection, and the probe rooms', closed: nothing left open on the
    // server once the suite has ended (pages and handshakes included).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = (
            gauge(&server, "chat_open_connections"),
            gauge(&server, "chat_pending_connections"),
        );
        if open == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still open 10 s after the suite: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_for_the_whole_server_fails_never_reads_with_its_trace() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = fault_server::spawn(fault_server::Faults {
        one_writer: true,
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    let dir = tempfile::tempdir().expect("tempdir");
    let traces = dir.path().join("traces");
    let report = common::grade_cli(
        &server.url(),
        &[
            "--profile",
            "hostile",
            "--case",
            "hostile.never-reads",
            "--trace-failed",
            traces.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    let case = &report["cases"][0];
    assert_eq!(case["verdict"], "FAIL", "{report}");
    let evidence = case["evidence"].as_str().expect("evidence");
    assert!(evidence.contains("the probe room"), "{evidence}");
    assert!(traces.join("hostile.never-reads.txt").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_closes_a_socket_fails_on_its_descriptors() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = fault_server::spawn(fault_server::Faults {
        keep_sockets: true,
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    let case = ["--profile", "hostile", "--case", "hostile.idle-connections"];
    // Without the figures the case is graded by the probe room alone, which the leak does
    // not stall.
    let report = grade_process(&server.url(), &case).await;
    assert_eq!(report["cases"][0]["verdict"], "PASS", "{report}");
    let metrics = server.metrics_url();
    let report = grade_process(
        &server.url(),
        &[&case[..], &["--server-metrics", &metrics]].concat(),
    )
    .await;
    let case = &report["cases"][0];
    assert_eq!(case["verdict"], "FAIL", "{report}");
    let evidence = case["evidence"].as_str().expect("evidence");
    assert!(evidence.contains("descriptors still open"), "{evidence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_endpoint_that_does_not_answer_is_refused_before_anything_runs() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    // Nothing listens on the discard port.
    let args = [
        "--profile",
        "hostile",
        "--target",
        &server.http_url(),
        "--server-metrics",
        "http://127.0.0.1:9/metrics",
    ];
    let output = conformance_process(args.map(str::to_owned).to_vec()).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--server-metrics: http://127.0.0.1:9/metrics"),
        "{stderr}"
    );
    // No case ran: no attacker sent the server anything.
    assert_eq!(gauge(&server, "chat_messages_received_total"), 0);
}

#[test]
fn without_a_target_the_profile_is_refused_and_all_leaves_it_out() {
    let conformance = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args(args)
            .env_remove("CHAT_TARGET")
            .output()
            .expect("run conformance")
    };
    let refused = conformance(&["--profile", "hostile"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--target"), "{stderr}");
    let listed = conformance(&["--profile", "all", "--list"]);
    assert!(listed.status.success());
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(!stdout.contains("hostile."), "{stdout}");
    assert!(stdout.contains("slow.evicted"), "{stdout}");
    assert!(String::from_utf8_lossy(&listed.stderr).contains("need --target"));
}
