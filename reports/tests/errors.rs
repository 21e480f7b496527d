//! What the binary says when its input is wrong: one line, each cause once.

use std::process::Command;

#[test]
fn a_file_that_is_not_json_is_named_with_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "nope\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_reports"))
        .arg("render")
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("bad.json is not JSON"), "{stderr}");
    assert_eq!(stderr.matches("expected").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
