//! Helpers: run loadgen in-process with flags, as a user would type them.
#![allow(dead_code)]

pub mod child;

use std::time::Duration;

use clap::Parser as _;
use loadgen::{Opts, RunResult};

/// Every run in the tests is bounded by this.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(args: &[&str]) -> RunResult {
    try_run(args).await.expect("the run succeeds")
}

/// A run that must fail: loadgen's error as the user reads it.
pub async fn run_err(args: &[&str]) -> String {
    edge::chain(&try_run(args).await.expect_err("the run fails"))
}

async fn try_run(args: &[&str]) -> anyhow::Result<RunResult> {
    let mut full = vec!["loadgen", "--quiet"];
    full.extend_from_slice(args);
    let opts = Opts::try_parse_from(full).expect("valid flags");
    tokio::time::timeout(RUN_TIMEOUT, loadgen::run(opts))
        .await
        .expect("the run ends in time")
}

/// A small, short plan: 2 rooms x 3 members, 20 messages/s per room for 1 s, no warm-up, 1 s
/// to settle, no JSON file.
pub const SMALL: &[&str] = &[
    "--rooms",
    "2",
    "--clients",
    "3",
    "--rate",
    "20",
    "--duration",
    "1s",
    "--warmup",
    "0s",
    "--settle",
    "1s",
    "--no-json",
];

/// [`SMALL`] against `target`, then `extra`.
pub fn small_plan<'a>(target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--target", target];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    args
}

/// One busy run at a time within a test binary: the harness runs a file's tests in parallel,
/// and two runs of 5,000 connections at once overload two cores in a debug build (late
/// deliveries then count as loss).
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The binary, as a user runs it, against a fault server with `faults` (the embedded
/// reference server for `None`), with `args`; its exit code and output, stdout then stderr.
/// Runs one at a time ([`ONE_AT_A_TIME`]).
pub async fn binary_against(
    faults: Option<fault_server::Faults>,
    args: &[&str],
) -> (Option<i32>, String) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = match faults {
        Some(f) => Some(fault_server::spawn(f).await.expect("fault server")),
        None => None,
    };
    let mut full: Vec<String> = server
        .as_ref()
        .map(|s| vec!["--target".to_owned(), s.url()])
        .unwrap_or_default();
    full.extend(args.iter().map(|a| (*a).to_owned()));
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(&full)
            .output()
            .expect("loadgen runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    })
    .await
    .expect("loadgen ran")
}

/// The count that follows `label` at the start of a summary line ("Order        3 pairs...").
pub fn figure(summary: &str, label: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line:\n{summary}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// The summary's failed thresholds, as written ("loss=0").
pub fn failed(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL "))
        .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned())
        .collect()
}
