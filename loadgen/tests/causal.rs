//! Causal order under load (`--replies`): a server that lets answers overtake their questions
//! fails the run by default (a core bound) with a witness; servers that keep one order per
//! room (the fault server without faults, the embedded reference server) pass.

mod common;

use std::time::Duration;

use fault_server::Faults;

/// loadgen at 100 rooms of 50, every member sending and answering a fifth of what it gets,
/// 2 s measured.
const PLAN: &[&str] = &[
    "--rooms",
    "100",
    "--clients",
    "50",
    "--senders",
    "50",
    "--replies",
    "20%",
    "--duration",
    "2s",
    "--warmup",
    "0s",
    "--settle",
    "2s",
    "--quiet",
    "--no-json",
];

/// The run against a fault server with `faults` (the embedded reference server for `None`).
async fn against(faults: Option<Faults>) -> (Option<i32>, String) {
    common::binary_against(faults, PLAN).await
}

fn violations(summary: &str) -> u64 {
    common::figure(summary, "Causality ")
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
    assert_eq!(
        common::failed(&summary),
        ["causal_violations=0"],
        "{summary}"
    );
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
