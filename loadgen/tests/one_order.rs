//! One common order per room under load: a server that keeps each sender's order but lets
//! members disagree on how senders interleave gives order conflicts with a witness; a server
//! with one order per room gives none. Not a core bound: only `--threshold order_conflicts=0`
//! fails a run on it.

use std::process::Command;

use fault_server::Faults;

/// loadgen at the main job's shape (100 rooms of 50) with every member sending against `url`,
/// 2 s measured; exit code and output.
fn loadgen(url: &str, extra: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--target",
            url,
            "--rooms",
            "100",
            "--clients",
            "50",
            "--senders",
            "50",
        ])
        .args(["--duration", "2s", "--warmup", "0s", "--settle", "2s"])
        .args(["--quiet"])
        .args(extra)
        .output()
        .expect("loadgen runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The figure of the summary's Order line.
fn conflicts(summary: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.starts_with("Order "))
        .unwrap_or_else(|| panic!("no Order line:\n{summary}"));
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// One run at a time: two runs of 5,000 connections at once (the test harness runs this
/// file's tests in parallel) overload two cores in a debug build, and late deliveries count
/// as loss.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn against(faults: Faults, extra: &[&str]) -> (Option<i32>, String) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = fault_server::spawn(faults).await.expect("fault server");
    let url = server.url();
    let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || loadgen(&url, &extra))
        .await
        .expect("loadgen ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_disagree_on_the_interleaving_are_order_conflicts_with_a_witness() {
    let interleave = Faults {
        interleave: Some(std::time::Duration::from_millis(250)),
        ..Faults::default()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("run.json");
    let path = json.to_string_lossy().into_owned();
    let (code, summary) = against(interleave.clone(), &["--json", &path]).await;
    println!("{summary}");
    // Each sender's order is kept and nothing is lost: the core contract holds.
    assert_eq!(code, Some(0), "{summary}");
    assert!(conflicts(&summary) > 0, "{summary}");
    let witness = summary
        .lines()
        .find(|l| l.trim_start().starts_with("first: room "))
        .unwrap_or_else(|| panic!("no witness:\n{summary}"));
    assert!(witness.contains("then"), "{witness}");
    // The result holds the count and the witness, in the schema.
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("result")).expect("JSON");
    assert_eq!(testkit::result_schema_errors(&result), Vec::<String>::new());
    assert!(result["summary"]["order_conflicts"].as_u64() > Some(0));
    let other = &result["summary"]["order_witness"]["other"];
    assert!(other["first"]["seq"].is_u64(), "{result}");
    // Asked for, one order is a bound.
    let (code, summary) = against(
        interleave,
        &["--threshold", "order_conflicts=0", "--no-json"],
    )
    .await;
    assert_eq!(code, Some(2), "{summary}");
    assert!(summary.contains("FAIL order_conflicts=0"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_per_room_gives_no_conflict() {
    let (code, summary) = against(
        Faults::default(),
        &["--threshold", "order_conflicts=0", "--no-json"],
    )
    .await;
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(conflicts(&summary), 0, "{summary}");
}
