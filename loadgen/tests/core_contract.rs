//! With no `--threshold`, a run is held to the whole core contract: each violation loadgen
//! can observe fails it (exit 2) on its own, with the failing bound named; valid servers pass.

mod common;

use std::process::{Command, Output};

use fault_server::Faults;

/// The binary with a small plan against `target` (the embedded server when `None`): 12 rooms
/// of 5, one sender each at 50 messages/s (20 ms apart, so a message held 50 ms is
/// overtaken), 1 s measured, 1 s to settle.
fn loadgen(target: Option<&str>, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    if let Some(target) = target {
        cmd.args(["--target", target]);
    }
    cmd.args(["--rooms", "12", "--clients", "5", "--rate", "50"])
        .args(["--duration", "1s", "--warmup", "0s", "--settle", "1s"])
        .args(["--quiet", "--no-json"])
        .args(extra)
        .output()
        .expect("loadgen runs")
}

/// Runs loadgen against a fault server with `faults` and `extra` flags.
async fn against(faults: Faults, extra: &'static [&'static str]) -> (Option<i32>, String) {
    let server = fault_server::spawn(faults).await.expect("fault server");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || loadgen(Some(&url), extra))
        .await
        .expect("loadgen ran");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_core_violation_fails_the_run_by_default_and_alone() {
    let cases: [(&str, Faults, &[&str]); 5] = [
        (
            "duplicates 5 %",
            Faults {
                dup_rate: 0.05,
                seed: 3,
                ..Faults::default()
            },
            &["duplicates=0"],
        ),
        (
            "reorders without losing",
            Faults {
                reorder: true,
                ..Faults::default()
            },
            &["reordered=0"],
        ),
        (
            "leaks into other rooms",
            Faults {
                leak_to_other_rooms: true,
                ..Faults::default()
            },
            &["cross_room=0"],
        ),
        // lg<8 hex>_1 and lg<8 hex>_10, _11 share their first 12 characters.
        (
            "keys rooms by their first 12 characters",
            Faults {
                room_prefix: Some(12),
                ..Faults::default()
            },
            &["cross_room=0"],
        ),
        (
            "greets every member",
            Faults {
                greet: true,
                ..Faults::default()
            },
            &["foreign=0"],
        ),
    ];
    let mut wrong = Vec::new();
    for (name, faults, want) in cases {
        let (code, summary) = against(faults, &[]).await;
        if code != Some(2) || common::failed(&summary) != want {
            wrong.push(format!(
                "{name}: exit {code:?}, failed {:?}, want {want:?}\n{summary}",
                common::failed(&summary)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_servers_pass_by_default() {
    let (code, summary) = against(Faults::default(), &[]).await;
    assert_eq!(code, Some(0), "{summary}");
    assert!(summary.contains("ok   reordered=0"), "{summary}");
    let out = tokio::task::spawn_blocking(|| loadgen(None, &[]))
        .await
        .expect("loadgen ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_is_relaxed_or_replaced_only_when_asked() {
    let reorder = || Faults {
        reorder: true,
        ..Faults::default()
    };
    let (code, summary) = against(reorder(), &["--relax", "reordered"]).await;
    assert_eq!(code, Some(0), "{summary}");
    assert!(!summary.contains("reordered=0"), "{summary}");
    // A bound on another metric leaves the core defaults in place.
    let (code, summary) = against(reorder(), &["--threshold", "p99<10s"]).await;
    assert_eq!(
        (code, common::failed(&summary)),
        (Some(2), vec!["reordered=0".into()])
    );
    // A bound on the metric itself replaces its default.
    let (code, summary) = against(reorder(), &["--threshold", "reordered<100000"]).await;
    assert_eq!(code, Some(0), "{summary}");
    assert!(summary.contains("ok   reordered<100000"), "{summary}");
}

#[test]
fn only_core_metrics_can_be_relaxed() {
    let out = loadgen(None, &["--relax", "p99"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"p99\" has no default to relax; the core metrics are loss, duplicates"),
        "{stderr}"
    );
}
