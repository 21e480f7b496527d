//! The real binary: JSON on stdout with `--json -`, the summary on stderr, and exit codes
//! (0 ok, 2 a failed threshold, 1 an error).

mod common;

use std::process::Command;

fn loadgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--rooms",
            "2",
            "--clients",
            "3",
            "--rate",
            "20",
            "--duration",
            "1s",
        ])
        .args(["--warmup", "0s", "--settle", "500ms"])
        .args(args)
        .output()
        .expect("loadgen runs")
}

#[test]
fn json_to_stdout_and_a_summary_to_stderr() {
    let out = loadgen(&["--json", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON");
    assert_eq!(result["schema_version"], 1);
    assert_eq!(result["summary"]["missing"], 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fan-out (scheduled)"), "{stderr}");
}

#[test]
fn the_summary_ends_with_the_command_that_renders_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("my run.json");
    let out = loadgen(&["--json", path.to_str().expect("a UTF-8 path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "HTML report: reports render '{}' --out report/",
            path.display()
        )
    );
}

#[test]
fn a_failed_threshold_exits_2() {
    let out = loadgen(&["--threshold", "p50<1us", "--no-json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL p50<1us"));
}

#[test]
fn an_error_exits_1_with_a_reason() {
    let out = loadgen(&["--senders", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loadgen: error: --senders 9"));
}

#[test]
fn ctrl_c_ends_the_run_and_still_writes_the_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("partial.json");
    let (mut child, lines) = common::child::spawn(&[
        "--rooms",
        "2",
        "--clients",
        "3",
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--json",
        path.to_str().expect("a UTF-8 path"),
    ]);
    common::child::until_sending(&lines);
    common::child::interrupt(&child);
    let status = child.wait().expect("loadgen ends");
    assert_eq!(status.code(), Some(130));
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the result was written"))
            .expect("JSON");
    assert_eq!(result["interrupted"], true);
    assert!(result["summary"]["measured_s"].as_f64().expect("number") < 60.0);
}

#[test]
fn the_result_is_written_to_loadgen_result_json_by_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--rooms",
            "1",
            "--clients",
            "2",
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ])
        .current_dir(dir.path())
        .output()
        .expect("loadgen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("loadgen-result.json")).expect("written");
    let result: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(result["schema_version"], 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("result written to loadgen-result.json"));
}

/// A lossy server fails the run with no threshold given: the core contract's defaults hold
/// it, and the summary shows the actual values with their units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_server_fails_the_run_by_default() {
    let server = fault_server::spawn(fault_server::Faults {
        drop_rate: 0.05,
        seed: 11,
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || loadgen(&["--target", &url, "--no-json"]))
        .await
        .expect("loadgen ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("the core contract's defaults"), "{stdout}");
    assert!(stdout.contains("FAIL loss=0 (actual "), "{stdout}");
    assert!(stdout.contains(" %)  [core]"), "{stdout}");
    assert!(
        stdout.contains("ok   errors=0 (actual 0)  [core]"),
        "{stdout}"
    );
}

#[test]
fn a_latency_threshold_shows_its_unit() {
    let out = loadgen(&["--threshold", "p99<50s", "--no-json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok   p99<50s (actual ") && stdout.contains(" ms)"),
        "{stdout}"
    );
}

#[test]
fn the_threshold_help_names_every_metric() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--help")
        .output()
        .expect("loadgen runs");
    let help = String::from_utf8_lossy(&out.stdout);
    let start = help.find("--threshold").expect("--threshold is documented");
    let section = &help[start..start + help[start..].find("\n  -").unwrap_or(help.len() - start)];
    for (name, _) in run_result::Metric::ALL {
        assert!(
            section.contains(name),
            "--threshold help lacks {name}: {section}"
        );
    }
}

#[test]
fn a_bad_target_is_explained_once() {
    let out = loadgen(&["--target", "localhost"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--target"), "{stderr}");
    assert_eq!(stderr.matches("write http://").count(), 1, "{stderr}");
}

/// An output path that cannot be written is refused before anything connects: the listener
/// given as the target sees no connection.
#[test]
fn an_unwritable_result_path_is_refused_before_the_run() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let target = format!("http://{}", listener.local_addr().expect("addr"));
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--target", &target, "--json", "/no/such/dir/x.json"])
        .output()
        .expect("loadgen runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "--json: cannot write /no/such/dir/x.json: the folder /no/such/dir does not exist"
        ),
        "{stderr}"
    );
    assert!(
        listener.accept().is_err(),
        "loadgen connected before refusing the path"
    );
}
