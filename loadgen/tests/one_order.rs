//! One common order per room under load: a server that keeps each sender's order but lets
//! members disagree on how senders interleave gives order conflicts with a witness; a server
//! with one order per room gives none. Not a core bound: only `--threshold order_conflicts=0`
//! fails a run on it.

mod common;

use fault_server::Faults;

/// loadgen at the main job's shape (100 rooms of 50) with every member sending, 2 s measured.
const PLAN: &[&str] = &[
    "--rooms",
    "100",
    "--clients",
    "50",
    "--senders",
    "50",
    "--duration",
    "2s",
    "--warmup",
    "0s",
    "--settle",
    "2s",
    "--quiet",
];

async fn against(faults: Faults, extra: &[&str]) -> (Option<i32>, String) {
    common::binary_against(Some(faults), &[PLAN, extra].concat()).await
}

fn conflicts(summary: &str) -> u64 {
    common::figure(summary, "Order ")
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
    // Here the member that read the lower message first reads the other one after the
    // conflict is suspected (its 250 ms lane): both of its times are in the witness.
    assert!(other["then_us"].is_u64(), "{result}");
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
