//! The deployment matrix (`reports matrix --cells`): cells as examples/django-tutorial/matrix
//! leaves them, filled by real runs (conformance and loadgen against a correct backend and
//! against the fault server dropping deliveries), one row each with the verdicts, loss, p99
//! and capacity the files hold; a part that did not run said so; clear errors for a folder
//! that is not a cell.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use clap::Parser as _;
use common::cli::{grade, reports, text};
use run_result::display::{ms, per_s, thousands};
use run_result::sweep::SweepResult;

/// `reports matrix --cells CELLS... --out OUT`.
fn matrix(cells: &[&Path], out: &Path) -> Output {
    let mut args = vec!["matrix", "--cells"];
    args.extend(cells.iter().map(|c| c.to_str().expect("utf-8 path")));
    args.extend(["--out", out.to_str().expect("utf-8 path")]);
    reports(&args)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect(name);
}

fn cell_json(server: &str, layer: &str, workers: u32) -> String {
    format!(
        r#"{{"server": "{server}", "layer": "{layer}", "workers": {workers}, "date": "2026-12-07"}}"#
    )
}

/// The two cases the cells are graded on, as the matrix names its backends.
const CASES: [&str; 6] = [
    "--case",
    "life.ping-pong",
    "--case",
    "order.single-sender",
    "--backend",
    "matrix-memory",
];

fn loadgen_opts(target: &str, extra: &[&str]) -> loadgen::Opts {
    let mut args = vec![
        "loadgen",
        "--target",
        target,
        "--rooms",
        "2",
        "--clients",
        "4",
        "--duration",
        "1500ms",
        "--warmup",
        "500ms",
        "--settle",
        "1s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    loadgen::Opts::try_parse_from(args).expect("valid flags")
}

/// A loadgen run, its result to `json`; returns it.
async fn load(target: &str, json: &Path) -> run_result::RunResult {
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        loadgen::run(loadgen_opts(target, &[])),
    )
    .await
    .expect("in time")
    .expect("the run runs");
    std::fs::write(json, serde_json::to_string(&result).expect("serialise")).expect("write");
    result
}

/// A three-step capacity search, to `json`; returns it.
async fn sweep(target: &str, json: &Path) -> SweepResult {
    let opts = loadgen_opts(
        target,
        &[
            "--sweep",
            "--rate",
            "20",
            "--sweep-steps",
            "3",
            "--until",
            "p99<100ms",
        ],
    );
    let sweep = tokio::time::timeout(Duration::from_secs(60), loadgen::sweep::sweep(opts, |_| {}))
        .await
        .expect("in time")
        .expect("the sweep runs");
    std::fs::write(json, serde_json::to_string(&sweep).expect("serialise")).expect("write");
    sweep
}

/// The table's row whose first cell is `server`.
fn row<'a>(md: &'a str, server: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(&format!("| {server} |")))
        .unwrap_or_else(|| panic!("no row for {server}: {md}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_of_real_runs_become_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good-memory-1w");
    let lossy = dir.path().join("lossy-redis-2w");
    for d in [&good, &lossy] {
        std::fs::create_dir(d).expect("mkdir");
    }

    // A correct backend (the fault server without faults, at 100 broadcasts a second so the
    // search has a capacity to find), every part run.
    let server = fault_server::spawn(fault_server::Faults {
        max_broadcasts_per_s: Some(100.0),
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    write(&good, "cell.json", &cell_json("good", "memory", 1));
    grade(Some(&server.url()), &good.join("conformance.json"), &CASES).await;
    let good_load = load(&server.url(), &good.join("load.json")).await;
    let good_sweep = sweep(&server.url(), &good.join("sweep.json")).await;

    // One dropping half its deliveries: its capacity search could not run, its server
    // needed a SIGKILL.
    let dropping = fault_server::spawn(fault_server::Faults {
        drop_rate: 0.5,
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    write(&lossy, "cell.json", &cell_json("lossy", "redis", 2));
    grade(
        Some(&dropping.url()),
        &lossy.join("conformance.json"),
        &CASES,
    )
    .await;
    let lossy_load = load(&dropping.url(), &lossy.join("load.json")).await;
    write(
        &lossy,
        "errors.txt",
        "sweep: the server never answered on port 1 within 30 s (sweep.server.log)\n",
    );
    write(
        &lossy,
        "stops.txt",
        "load: still running 5 s after SIGTERM (killed)\n",
    );

    let out = dir.path().join("out");
    let run = matrix(&[&good, &lossy], &out);
    assert!(run.status.success(), "{}", text(&run));
    let md = std::fs::read_to_string(out.join("deployment-matrix.md")).expect("written");
    assert!(md.contains("2 cells, run 2026-12-07."), "{md}");

    let s = &good_load.summary;
    assert_eq!((s.missing, s.duplicates), (0, 0), "a correct backend");
    let capacity = good_sweep.capacity.expect("a step held");
    let broke = good_sweep
        .broke_at
        .expect("a step broke at 100 broadcasts a second");
    assert!(!good_sweep.client_bound);
    assert_eq!(
        row(&md, "good"),
        format!(
            "| good | in-memory | 1 | 2 PASS | - | {} of {} | 0.000 % | {} | {}/s ({} broke) | - |",
            thousands(s.delivered),
            thousands(s.expected),
            ms(s.latency_us.p99),
            per_s(capacity.offered_per_s),
            per_s(broke.offered_per_s),
        )
    );

    let s = &lossy_load.summary;
    assert!(s.missing > 0, "half the deliveries dropped");
    let lossy_row = row(&md, "lossy");
    assert!(
        lossy_row.starts_with(&format!(
            "| lossy | core Redis | 2 | 1 PASS, 1 FAIL | `order.single-sender` | {} of {} | {:.3} % | {} | not run | ",
            thousands(s.delivered),
            thousands(s.expected),
            s.loss * 100.0,
            ms(s.latency_us.p99),
        )),
        "{lossy_row}"
    );
    assert!(
        lossy_row.ends_with(
            "| load: still running 5 s after SIGTERM (killed); error: sweep: the server never \
             answered on port 1 within 30 s (sweep.server.log) |"
        ),
        "{lossy_row}"
    );

    // The case-by-case matrix has a column per cell, named by its folder.
    let cases = std::fs::read_to_string(out.join("conformance-matrix.md")).expect("written");
    assert!(
        cases.contains("| `order.single-sender` | core | PASS | FAIL |"),
        "{cases}"
    );
    assert!(
        cases.contains("| case | level | good-memory-1w | lossy-redis-2w |"),
        "{cases}"
    );
}

#[test]
fn a_cell_without_its_parts_says_not_run_and_a_folder_that_is_not_a_cell_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("daphne-pubsub-1w");
    std::fs::create_dir(&empty).expect("mkdir");
    write(&empty, "cell.json", &cell_json("daphne", "pubsub", 1));
    let out = dir.path().join("out");
    let run = matrix(&[&empty], &out);
    assert!(run.status.success(), "{}", text(&run));
    let md = std::fs::read_to_string(out.join("deployment-matrix.md")).expect("written");
    assert!(
        md.contains("| daphne | pub/sub Redis | 1 | not run | - | not run | - | - | not run | - |"),
        "{md}"
    );

    let stray = dir.path().join("stray");
    std::fs::create_dir(&stray).expect("mkdir");
    let run = matrix(&[&stray], &out);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("stray: not a matrix cell (no cell.json"),
        "{}",
        text(&run)
    );

    // A single run where the capacity search belongs.
    write(
        &empty,
        "sweep.json",
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.json"))
            .expect("the committed baseline, a single run"),
    );
    let run = matrix(&[&empty], &out);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("sweep.json: a single run where the cell's capacity search"),
        "{}",
        text(&run)
    );

    // A bad cell.json names its file.
    write(&empty, "cell.json", r#"{"server": "daphne"}"#);
    let run = matrix(&[&empty], &out);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("cell.json: not a cell description"),
        "{}",
        text(&run)
    );
}
