//! Causal order under load (`--replies`): a server that lets answers overtake their questions
//! fails the run by default (a core bound) with a witness; servers that keep one order per
//! room (the fault server without faults, the embedded reference server) pass.

use std::process::Command;
use std::time::Duration;

use fault_server::Faults;

/// One run at a time: two runs of 5,000 connections at once overload two cores in a debug
/// build.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// loadgen at 100 rooms of 50, every member sending and answering a fifth of what it gets,
/// against a fault server with `faults` (the embedded reference server for `None`), 2 s
/// measured; exit code and output.
async fn against(faults: Option<Faults>) -> (Option<i32>, String) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = match faults {
        Some(f) => Some(fault_server::spawn(f).await.expect("fault server")),
        None => None,
    };
    let target: Vec<String> = server
        .as_ref()
        .map(|s| vec!["--target".to_owned(), s.url()])
        .unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(&target)
            .args(["--rooms", "100", "--clients", "50"])
            .args(["--senders", "50", "--replies", "20%"])
            .args(["--duration", "2s", "--warmup", "0s", "--settle", "2s"])
            .args(["--quiet", "--no-json"])
            .output()
            .expect("loadgen runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    })
    .await
    .expect("loadgen ran")
}

/// The figure of the summary's Causality line.
fn violations(summary: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.starts_with("Causality "))
        .unwrap_or_else(|| panic!("no Causality line:\n{summary}"));
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// The summary's failed thresholds.
fn failed(summary: &str) -> Vec<&str> {
    summary
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_before_their_questions_fail_the_run_with_a_witness() {
    let skew = Faults {
        causal_skew: Some(Duration::from_millis(250)),
        ..Faults::default()
    };
    let (code, summary) = against(Some(skew)).await;
    println!("{summary}");
    assert_eq!(code, Some(2), "{summary}");
    assert_eq!(failed(&summary), ["causal_violations=0"], "{summary}");
    assert!(violations(&summary) > 0, "{summary}");
    assert!(
        summary.contains("before the message it answers"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_with_one_order_per_room_keep_causal_order() {
    for (name, faults) in [("fault-free", Some(Faults::default())), ("reference", None)] {
        let (code, summary) = against(faults).await;
        assert_eq!(code, Some(0), "{name}:\n{summary}");
        assert_eq!(violations(&summary), 0, "{name}:\n{summary}");
    }
}
