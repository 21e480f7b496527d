//! `--trace-failed DIR`: a failed case's wire log, every head and frame of each of its
//! connections with the evidence on top; none for a case that passed (unless `--trace-all`).

mod common;

use fault_server::Faults;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_case_leaves_its_wire_log_and_a_passed_one_none() {
    let server = fault_server::spawn(Faults {
        no_self_echo: true,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let dir = tempfile::tempdir().expect("tempdir");
    let traces = dir.path().join("traces");
    let traces_arg = traces.to_str().expect("utf-8 path");
    let cases = ["--case", "broadcast.self-echo", "--case", "life.ping-pong"];
    let mut args = vec!["--trace-failed", traces_arg];
    args.extend_from_slice(&cases);
    let report = common::grade_cli(&server.url(), &args).await;
    assert_eq!(report["failed"], 1, "{report}");
    let failed = std::fs::read_to_string(traces.join("broadcast.self-echo.txt"))
        .expect("the failed case's trace");
    let mut lines = failed.lines();
    assert_eq!(lines.next(), Some("broadcast.self-echo (core) FAIL"));
    let evidence = report["cases"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "broadcast.self-echo"))
        .map(|c| c["evidence"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert_eq!(lines.next(), Some(evidence.as_str()));
    for want in [
        "> GET /ws/chat/",
        "< HTTP/1.1 101",
        "> text fin op=1",
        "-- open ",
    ] {
        assert!(failed.contains(want), "{want:?} missing from:\n{failed}");
    }
    assert!(
        !traces.join("life.ping-pong.txt").exists(),
        "a passed case leaves no trace"
    );

    args.push("--trace-all");
    common::grade_cli(&server.url(), &args).await;
    let passed = std::fs::read_to_string(traces.join("life.ping-pong.txt")).expect("--trace-all");
    assert!(passed.starts_with("life.ping-pong (core) PASS"), "{passed}");
    assert!(
        passed.contains("> ping fin op=9") && passed.contains("< pong fin op=10"),
        "{passed}"
    );
}
