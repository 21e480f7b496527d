//! The conformance matrix: real suites side by side (the reference server against the fault
//! server, which keeps a member that never reads), cells not graded, escaping, and clear
//! errors for files that are not conformance reports.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{grade, reports};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_backends_side_by_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = dir.path().join("conformance-reference.json");
    let faulty = dir.path().join("faulty.json");
    let cases = ["--case", "slow", "--case", "life.ping-pong"];
    grade(
        None,
        &reference,
        &[&["--profile", "all", "--backend", "reference"][..], &cases].concat(),
    )
    .await;
    let server = fault_server::spawn(fault_server::Faults::default())
        .await
        .expect("fault server");
    // The fault server graded on core cases only: the slow.* cells are not graded there.
    grade(Some(&server.url()), &faulty, &["--case", "life.ping-pong"]).await;
    let everything = dir.path().join("fault-server-all.json");
    grade(
        Some(&server.url()),
        &everything,
        &[&["--profile", "all"][..], &cases].concat(),
    )
    .await;

    let out = dir.path().join("out");
    let paths = [&reference, &faulty, &everything].map(|p| p.to_str().unwrap().to_owned());
    let run = reports(&[
        "matrix",
        &paths[0],
        &paths[1],
        &paths[2],
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let md = read(&out, "conformance-matrix.md");
    assert!(
        md.contains("| case | level | reference | faulty | fault-server-all |"),
        "{md}"
    );
    assert!(
        md.contains("| `slow.evicted` | reference | PASS | - | FAIL |"),
        "{md}"
    );
    assert!(
        md.contains("| `life.ping-pong` | core | PASS | PASS | PASS |"),
        "{md}"
    );
    assert!(
        md.contains(
            "`slow.evicted` on **fault-server-all**: FAIL: the silent member found 256 of 256"
        ),
        "{md}"
    );
    let html = read(&out, "conformance-matrix.html");
    // Self-contained: no script, nothing fetched.
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"v FAIL\" title=\"the silent member found 256 of 256"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"v none\" title=\"not graded\">-</td>"),
        "{html}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("reference: 2 PASS, 1 INFORMATIONAL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fault-server-all: 1 PASS, 1 FAIL, 1 INFORMATIONAL"),
        "{stdout}"
    );
}

/// A minimal report of schema 2 with the given (id, verdict, evidence) cases.
fn fixture(dir: &Path, name: &str, backend: Option<&str>, cases: &[(&str, &str, &str)]) -> PathBuf {
    let cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|(id, verdict, evidence)| {
            serde_json::json!({"id": id, "level": "core", "description": "d <b>", "verdict": verdict,
                "evidence": evidence, "duration_ms": 1})
        })
        .collect();
    let mut report = serde_json::json!({"schema_version": 2, "target": "http://x", "profile": "core",
        "cases": cases, "passed": 0, "failed": 0, "non_strict": 0, "informational": 0, "known": 0,
        "known_passing": []});
    if let Some(b) = backend {
        report["backend"] = b.into();
    }
    let path = dir.join(name);
    std::fs::write(&path, report.to_string()).unwrap();
    path
}

#[test]
fn evidence_is_escaped_and_names_are_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    let evil = r#"got "<script>alert(1)</script>" | & more"#;
    let a = fixture(
        dir.path(),
        "a.json",
        Some("same"),
        &[("x.one", "FAIL", evil)],
    );
    let b = fixture(
        dir.path(),
        "b.json",
        Some("same"),
        &[("x.one", "PASS", "fine")],
    );
    let out = dir.path().join("out");
    let run = reports(&[
        "matrix",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let html = read(&out, "conformance-matrix.html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("<th>same</th><th>same (2)</th>"), "{html}");
    let md = read(&out, "conformance-matrix.md");
    assert!(md.contains("| `x.one` | core | FAIL | PASS |"), "{md}");
    assert!(md.contains(r"\| & more"), "{md}");
}

#[test]
fn files_that_are_not_conformance_reports_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("missing.json");
    let run = reports(&["matrix", missing.to_str().unwrap(), "--out", out]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("missing.json"), "{err}");

    let loadgen = dir.path().join("run.json");
    std::fs::write(&loadgen, r#"{"schema_version": 3, "summary": {}}"#).unwrap();
    let run = reports(&["matrix", loadgen.to_str().unwrap(), "--out", out]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("run.json: not a conformance report"), "{err}");

    let future = fixture(dir.path(), "future.json", None, &[]);
    let text = std::fs::read_to_string(&future)
        .unwrap()
        .replace("\"schema_version\":2", "\"schema_version\":9");
    std::fs::write(&future, text).unwrap();
    let run = reports(&["matrix", future.to_str().unwrap(), "--out", out]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("future.json: conformance report schema 9"),
        "{err}"
    );
}

/// A failed case graded with `--trace-failed` links to its wire log from both pages, by a path
/// relative to the page that leads to the file; a passed case links to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_verdict_links_to_its_wire_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = fault_server::spawn(fault_server::Faults {
        no_self_echo: true,
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    let json = dir.path().join("faulty.json");
    let traces = dir.path().join("traces");
    grade(
        Some(&server.url()),
        &json,
        &[
            "--case",
            "broadcast.self-echo",
            "--case",
            "life.ping-pong",
            "--trace-failed",
            traces.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    let out = dir.path().join("matrix");
    let done = reports(&[
        "matrix",
        json.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(done.status.success(), "{done:?}");
    let link = "../traces/broadcast.self-echo.txt";
    assert!(out.join(link).is_file(), "the link leads to the log");
    let html = read(&out, "conformance-matrix.html");
    assert!(
        html.contains(&format!("<a href=\"{link}\">FAIL</a>")),
        "{html}"
    );
    assert_eq!(html.matches("<a href=").count(), 1, "{html}");
    let md = read(&out, "conformance-matrix.md");
    assert!(md.contains(&format!("[FAIL](<{link}>)")), "{md}");
    assert!(md.contains(&format!("([wire log](<{link}>))")), "{md}");
    assert!(md.contains(" PASS |"), "{md}");
}
