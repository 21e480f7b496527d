//! `--churn` / `--session`: members that leave and rejoin while the senders send. Against the
//! reference server nothing is lost and nothing arrives outside a member's stay; against
//! fault servers that mishandle joins, the harm is counted as what it is: a join that takes
//! effect late loses the messages sent right after the 101 (missing), a server that replays
//! the room's history to a joining member delivers outside membership.

mod common;

use std::time::Duration;

use clap::Parser as _;
use fault_server::Faults;
use loadgen::{Opts, RunResult};

/// 3 rooms x 6 members (1 sender), 50 messages/s per room for 3 s, each receiver staying
/// 300 ms on average: about 50 leaves per room.
const CHURN: &[&str] = &[
    "--rooms",
    "3",
    "--clients",
    "6",
    "--rate",
    "50",
    "--duration",
    "3s",
    "--warmup",
    "500ms",
    "--settle",
    "1s",
    "--session",
    "300ms",
    "--no-json",
];

async fn churn_against(target: Option<&str>) -> RunResult {
    let mut args: Vec<&str> = Vec::new();
    if let Some(t) = target {
        args.extend(["--target", t]);
    }
    args.extend_from_slice(CHURN);
    common::run(&args).await
}

fn schema_errors(r: &RunResult) -> Vec<String> {
    testkit::result_schema_errors(&serde_json::to_value(r).expect("serialise"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_loses_nothing_while_members_come_and_go() {
    let r = churn_against(None).await;
    let s = &r.summary;
    let report = loadgen::summary::render(&r);
    assert!(s.leaves >= 30, "{report}");
    assert_eq!(s.missing, 0, "{report}");
    assert_eq!(s.outside_membership, 0, "{report}");
    assert_eq!(
        (s.duplicates, s.reordered, s.cross_room),
        (0, 0, 0),
        "{report}"
    );
    assert!(s.errors.is_empty(), "{report}");
    // Every stay expects the messages sent while it lasted: fewer than if everyone stayed,
    // but most of them.
    let everyone = s.sent * 6;
    assert!(
        s.expected < everyone && s.expected > everyone / 2,
        "{report}"
    );
    assert_eq!(s.delivered, s.expected, "{report}");
    // Rejoins are timed to their first delivery: at 50 messages a second, within 20 ms of
    // the connect plus the fan-out.
    assert!(
        s.join_us.count > 0 && s.join_us.count <= s.leaves,
        "{report}"
    );
    assert_eq!(r.config.churn_session_s, Some(0.3));
    assert!(report.contains("leaves and rejoins"), "{report}");
    let errors = schema_errors(&r);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_takes_effect_late_loses_messages_only_with_churn() {
    let server = fault_server::spawn(Faults {
        join_late: Duration::from_millis(60),
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    // Without churn everyone joins before the sending starts: nothing is lost.
    let mut still: Vec<&str> = vec!["--target", &url];
    still.extend(CHURN.iter().take(CHURN.len() - 3)); // without --session 300ms
    still.push("--no-json");
    let r = common::run(&still).await;
    assert_eq!(r.summary.missing, 0, "{}", loadgen::summary::render(&r));
    // With churn, each rejoin misses what is sent in its first 60 ms (about 3 messages).
    // Each leaving member then waits out its drain bound (1 s) for them: fewer leaves.
    let r = churn_against(Some(&url)).await;
    let s = &r.summary;
    let report = loadgen::summary::render(&r);
    assert!(s.leaves >= 15, "{report}");
    assert!(s.missing >= s.leaves, "{report}");
    assert_eq!(s.outside_membership, 0, "{report}");
    assert_eq!(s.duplicates, 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_replays_history_delivers_outside_membership() {
    let server = fault_server::spawn(Faults {
        replay_on_join: 5,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let r = churn_against(Some(&server.url())).await;
    let s = &r.summary;
    let report = loadgen::summary::render(&r);
    assert!(s.leaves >= 30, "{report}");
    // Each rejoin gets the last 5 messages, broadcast (and echoed) before it connected.
    assert!(s.outside_membership >= s.leaves * 3, "{report}");
    assert_eq!(s.missing, 0, "{report}");
    let outside: run_result::Threshold = "outside=0".parse().expect("threshold");
    assert!(!outside.check(s).passed);
}

#[test]
fn churn_flags_are_checked() {
    let parse = |args: &[&str]| {
        let mut full = vec!["loadgen"];
        full.extend_from_slice(args);
        Opts::try_parse_from(full)
    };
    let err = parse(&["--churn", "2", "--session", "1s"]).expect_err("both");
    assert!(err.to_string().contains("cannot be used with"), "{err}");
    assert!(parse(&["--churn", "0"]).is_err());
    let opts = parse(&["--clients", "5", "--senders", "1", "--churn", "2"]).expect("valid");
    assert_eq!(opts.churn_session(), Some(Duration::from_secs(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_needs_members_that_only_receive() {
    let err = common::run_err(&["--clients", "2", "--senders", "2", "--churn", "1"]).await;
    assert!(
        err.contains("--churn: only members that do not send"),
        "{err}"
    );
}
