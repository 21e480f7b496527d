//! `--profile hostile`: the reference server passes every case and is left with no connection
//! open; a server whose writes all wait on one socket (the fault server's `one_writer`) fails
//! `hostile.never-reads`, with its wire log; without `--target` the profile is refused.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

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
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let started = Instant::now();
    let report = common::grade_cli(&server.http_url(), &["--profile", "hostile"]).await;
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 8, "{report}");
    for c in cases {
        assert_eq!(c["verdict"], "PASS", "{c}");
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
