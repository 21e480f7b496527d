//! Helpers: run cases against `CHAT_TARGET`, or the reference server in-process, or a server
//! with injected faults.
#![allow(dead_code)]

use conformance::case::{Ctx, Outcome};
use conformance::runner::{self, CaseReport};
use conformance::target::Target;
use conformance::{DEFAULT_SETTLE, DEFAULT_TIMEOUT, cases};

pub fn ctx_for(target: &Target) -> Ctx {
    conformance::context(
        std::slice::from_ref(target),
        DEFAULT_TIMEOUT,
        DEFAULT_SETTLE,
        None,
    )
}

/// Runs the cases with these IDs against `target`.
/// Runs the cases `ids` one at a time: against a server whose fault crosses rooms (a leak),
/// a case running beside another would receive that case's messages and fail for a reason
/// that is not its own.
pub async fn run_ids(target: &Target, ids: &[&str]) -> Vec<CaseReport> {
    let all = cases::all();
    let selected = ids
        .iter()
        .map(|id| {
            *all.iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("no case {id}"))
        })
        .collect();
    runner::run_all(selected, &ctx_for(target), 1).await
}

/// Runs one case against `CHAT_TARGET` (or the in-process reference server) and requires PASS.
pub async fn assert_passes(id: &str) {
    let (targets, _server) = conformance::targets_from_env().await.expect("a target");
    let case = *cases::all()
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    let ctx = conformance::context(&targets, DEFAULT_TIMEOUT, DEFAULT_SETTLE, None);
    let report = runner::run_case(case, ctx).await;
    assert_eq!(report.verdict, Outcome::Pass, "{id}: {}", report.evidence);
}

/// Runs the CLI in-process as a user would (`conformance --target TARGET --json F EXTRA...`,
/// within 180 s): its exit code and its JSON report, if it wrote one.
pub async fn cli(
    target: &str,
    extra: &[&str],
) -> (std::process::ExitCode, Option<serde_json::Value>) {
    use clap::Parser as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut args = vec![
        "conformance",
        "--target",
        target,
        "--json",
        json.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let opts = conformance::cli::Opts::try_parse_from(args).expect("valid flags");
    let code = tokio::time::timeout(
        std::time::Duration::from_secs(180),
        conformance::cli::run(opts),
    )
    .await
    .expect("the suite ends in time")
    .expect("the suite runs");
    let report = std::fs::read_to_string(&json)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the report is JSON"));
    (code, report)
}

/// [`cli`]'s JSON report, which must be there.
pub async fn grade_cli(target: &str, extra: &[&str]) -> serde_json::Value {
    cli(target, extra).await.1.expect("the JSON report")
}

/// [`cli`]'s exit code, and whether it wrote a report.
pub async fn cli_exit(target: &str, extra: &[&str]) -> (std::process::ExitCode, bool) {
    let (code, report) = cli(target, extra).await;
    (code, report.is_some())
}
