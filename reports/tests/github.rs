//! GitHub glue: `reports render` appends its Markdown summary to the job summary
//! (GITHUB_STEP_SUMMARY, or --github-summary), and the workflow in docs/ci parses and runs
//! command lines the tools accept.

mod common;

use std::path::Path;
use std::process::Command;

use clap::Parser as _;
use serde_yaml_ng::Value;

fn render(dir: &Path, extra: &[&str], env: Option<&Path>) -> std::process::Output {
    let run = common::write(
        dir,
        "run",
        &common::result(&common::stats(200, 500, 3, 2), &["loss=0"]),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reports"));
    cmd.arg("render")
        .arg(&run)
        .arg("--out")
        .arg(dir.join("out"))
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY");
    if let Some(summary) = env {
        cmd.env("GITHUB_STEP_SUMMARY", summary);
    }
    let out = cmd.output().expect("reports runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn render_appends_its_summary_to_the_job_summary() {
    let dir = tempfile::tempdir().expect("dir");
    // Inside a GitHub job: the variable names the file, which holds earlier steps' text.
    let job = dir.path().join("step-summary.md");
    std::fs::write(&job, "earlier step\n").expect("write");
    render(dir.path(), &[], Some(&job));
    let text = std::fs::read_to_string(&job).expect("read");
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).expect("summary");
    assert_eq!(
        text,
        format!("earlier step\n\n{summary}"),
        "kept, then appended"
    );

    // The flag names a file of its own; without either, nothing but --out is written.
    let own = dir.path().join("own.md");
    render(
        dir.path(),
        &["--github-summary", own.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(
        std::fs::read_to_string(&own).expect("read"),
        format!("\n{summary}")
    );
    let quiet = tempfile::tempdir().expect("dir");
    let out = render(quiet.path(), &[], None);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("appended"));
}

/// The `run:` script of every step, in order.
fn scripts(workflow: &Value) -> Vec<String> {
    workflow["jobs"]
        .as_mapping()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_sequence().expect("steps").clone())
        .filter_map(|step| step["run"].as_str().map(str::to_owned))
        .collect()
}

/// A tool's command line in a script: its words from the tool's name to the end of the
/// (backslash-continued) line, with shell variables given a value.
fn command_line(script: &str, tool: &str) -> Option<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{tool} ")))?;
    Some(
        line.split_whitespace()
            .map(|w| {
                w.trim_matches('"')
                    .replace("$BACKEND_URL", "http://127.0.0.1:8000")
                    .replace("$i", "1")
            })
            .collect(),
    )
}

#[test]
fn the_documented_workflow_parses_and_its_commands_are_accepted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ci/github-actions.yml");
    let text = std::fs::read_to_string(&path).expect("docs/ci/github-actions.yml");
    let workflow: Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    assert!(workflow.get("on").is_some(), "a trigger");
    let scripts = scripts(&workflow);

    let main_job = scripts
        .iter()
        .find_map(|s| command_line(s, "loadgen"))
        .expect("a loadgen step");
    let opts = loadgen::Opts::try_parse_from(&main_job).expect("loadgen accepts it");
    assert_eq!((opts.rooms, opts.clients), (100, 50), "the main job");

    let mut reports = scripts.iter().filter_map(|s| command_line(s, "reports"));
    let render = reports.next().expect("a render step");
    let compare = reports.next().expect("a compare step");
    for line in [&render, &compare] {
        reports::cli::Opts::try_parse_from(line).expect("reports accepts it");
    }
    assert_eq!(render[1], "render");
    assert_eq!(compare[1], "compare");

    let uploads: Vec<&Value> = workflow["jobs"]["latency"]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .collect();
    let out = render
        .iter()
        .skip_while(|w| *w != "--out")
        .nth(1)
        .expect("--out");
    assert!(
        uploads.iter().any(|u| u["with"]["path"]
            .as_str()
            .is_some_and(|p| p.trim_end_matches('/') == out)),
        "the report folder {out} is uploaded"
    );
}
