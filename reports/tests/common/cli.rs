//! The tools as a user runs them: the `reports` binary, and conformance in-process.

use std::path::Path;
use std::process::{Command, Output};

use clap::Parser as _;

/// Runs the `reports` binary with `args`.
pub fn reports(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reports"))
        .args(args)
        .output()
        .expect("run reports")
}

/// What a run printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the conformance CLI in-process, as a user would, writing its JSON report to `json`;
/// without `target`, against its embedded server.
pub async fn grade(target: Option<&str>, json: &Path, extra: &[&str]) {
    let mut args = vec!["conformance", "--json", json.to_str().expect("utf-8 path")];
    if let Some(t) = target {
        args.extend(["--target", t]);
    }
    args.extend_from_slice(extra);
    let opts = conformance::cli::Opts::try_parse_from(args).expect("valid flags");
    // A FAIL is an exit code of 1, not an error: the report is written either way.
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        conformance::cli::run(opts),
    )
    .await
    .expect("the suite ends in time")
    .expect("the suite runs");
}
