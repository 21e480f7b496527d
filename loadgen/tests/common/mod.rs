//! Helpers: run loadgen in-process with flags, as a user would type them.
#![allow(dead_code)]

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
