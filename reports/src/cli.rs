//! The command line: `Opts` and [`run`], in the library so tests can drive the CLI in-process;
//! `main.rs` only parses and exits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::compare::{self, Bound, Metric};
use crate::input::Input;
use crate::run::{LoadError, Run};

/// CI latency reports from loadgen results.
#[derive(Debug, Parser)]
#[command(name = "reports", version, about)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write summary.md, report.html and .hgrm files for one or more runs (side by side);
    /// for capacity searches (loadgen --sweep), capacity.md and capacity.html (the curve).
    Render {
        /// loadgen results (--json) or sweeps (--sweep --json); each is shown under its file
        /// name.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Also append the Markdown summaries (summary.md, capacity.md) to this file: a
        /// GitHub Actions job summary, which is where GITHUB_STEP_SUMMARY points, so inside
        /// a GitHub job this happens without the flag.
        #[arg(long, env = "GITHUB_STEP_SUMMARY", value_name = "FILE")]
        github_summary: Option<PathBuf>,
    },
    /// Compare new runs (their median) with a baseline; exit 1 when a bound is exceeded. With
    /// capacity searches (loadgen --sweep) as the baseline and the new runs, their capacities
    /// are compared (--max-capacity-drop).
    Compare {
        base: PathBuf,
        #[arg(required = true)]
        new: Vec<PathBuf>,
        /// Sweeps: how far the new capacity (the median of the new sweeps) may fall below the
        /// baseline's, e.g. 10%.
        #[arg(long, default_value = "10%", value_parser = drop_fraction)]
        max_capacity_drop: f64,
        /// Bounds such as p99=20%,loss=0 (repeatable); p50=50%,p99=100% when none is given.
        /// Whatever is given, the core contract is added: loss, duplicates, reordered,
        /// cross_room, foreign, outside and errors may not grow above the baseline (=0),
        /// each unless a bound names it or --relax drops it.
        #[arg(long = "max-regression", value_name = "BOUNDS", value_parser = compare::parse_bounds)]
        bounds: Vec<Vec<Bound>>,
        /// Leave this core metric out of the comparison, repeatable: loss, duplicates,
        /// reordered, cross_room, foreign, outside, errors.
        #[arg(long = "relax", value_name = "METRIC", value_parser = Metric::parse_core)]
        relax: Vec<Metric>,
        /// Also write the comparison table (Markdown) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge runs of several loadgen processes into one result: shards of one plan (all of
    /// them, each once) or whole runs. Thresholds are evaluated on the merge (exit 2 if one
    /// fails).
    Merge {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Merge the shards there are even if some are missing; the result says which.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Put conformance reports (conformance --json) side by side: conformance-matrix.md and
    /// conformance-matrix.html (self-contained; evidence on hover) in --out. A column is named
    /// by the report's --backend, else by its file name without "conformance-". With --cells,
    /// also deployment-matrix.md: a row per cell of examples/django-tutorial/matrix.
    Matrix {
        #[arg(required_unless_present = "cells")]
        reports: Vec<PathBuf>,
        /// Cells of a deployment matrix (folders examples/django-tutorial/matrix writes: its
        /// cell.json, conformance.json, load.json, sweep.json): one row each, their
        /// conformance reports as columns named by the cell.
        #[arg(long, num_args = 1.., value_name = "DIR")]
        cells: Vec<PathBuf>,
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
    },
}

fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Run>> {
    paths.iter().map(|p| Ok(Run::load(p)?)).collect()
}

/// `compare` of capacity searches: exit 1 when the capacity fell more than allowed.
fn compare_sweeps(
    base: &crate::sweep::Sweep,
    new: &[PathBuf],
    max_drop: f64,
    out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut news = Vec::new();
    for path in new {
        match Input::load(path)? {
            Input::Sweep(s) => news.push(*s),
            Input::Run(_) => {
                return Err(LoadError::NotSweep {
                    path: path.clone(),
                    what: "the baseline is one",
                }
                .into());
            }
        }
    }
    let (table, regressed) = crate::sweep::compare(base, &news, max_drop);
    print!("{table}");
    if let Some(path) = out {
        std::fs::write(path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    if regressed {
        println!(
            "
the capacity fell below what {} allows",
            base.path.display()
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "
no capacity regression against {}",
        base.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `10%` or `0.1`, from 0 to below 1.
fn drop_fraction(s: &str) -> Result<f64, String> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| format!("{s:?}: write a percentage such as 10%"))?;
    if !(0.0..1.0).contains(&v) {
        return Err(format!("{s:?}: from 0% to below 100%"));
    }
    Ok(v)
}

/// Runs the command; the exit code is 0, or 1 when `compare` finds a regression.
pub fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    match opts.command {
        Command::Render {
            runs,
            out,
            github_summary,
        } => render(&runs, &out, github_summary.as_deref()),
        Command::Compare {
            base,
            new,
            max_capacity_drop,
            bounds,
            relax,
            out,
        } => {
            let base = match Input::load(&base)? {
                Input::Sweep(base) => {
                    return compare_sweeps(&base, &new, max_capacity_drop, out.as_deref());
                }
                Input::Run(base) => *base,
            };
            let given: Vec<Bound> = bounds.into_iter().flatten().collect();
            let bounds = compare::with_core(&given, &relax);
            compare_runs(&base, &new, &bounds, out.as_deref())
        }
        Command::Matrix {
            reports,
            cells,
            out,
        } => {
            let mut matrix = crate::matrix::Matrix::load(&reports)?;
            if !cells.is_empty() {
                let cells = cells
                    .iter()
                    .map(|d| crate::matrix::cells::Cell::load(d))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut columns = matrix.columns;
                columns.extend(cells.iter().filter_map(crate::matrix::cells::Cell::column));
                matrix = crate::matrix::Matrix::new(columns);
                let path = crate::render::render_cells(&cells, &out)?;
                println!("wrote {}", path.display());
            }
            for path in crate::render::render_matrix(&matrix, &out)? {
                println!("wrote {}", path.display());
            }
            for (i, c) in matrix.columns.iter().enumerate() {
                println!("{}: {}", c.name, matrix.totals(i));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge {
            runs,
            output,
            allow_partial,
        } => merge(&runs, &output, allow_partial),
    }
}

/// `render`: runs and sweeps, each to their pages.
fn render(runs: &[PathBuf], out: &Path, summary: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (mut singles, mut sweeps) = (Vec::new(), Vec::new());
    for path in runs {
        match Input::load(path)? {
            Input::Run(r) => singles.push(*r),
            Input::Sweep(s) => sweeps.push(*s),
        }
    }
    let mut written = Vec::new();
    if !singles.is_empty() {
        written.extend(crate::render::render(&singles, out)?);
    }
    if !sweeps.is_empty() {
        written.extend(crate::render::render_sweeps(&sweeps, out)?);
    }
    for path in &written {
        println!("wrote {}", path.display());
    }
    // An empty GITHUB_STEP_SUMMARY (set, but to nothing) names no file.
    if let Some(summary) = summary.filter(|p| !p.as_os_str().is_empty()) {
        let markdown: Vec<&PathBuf> = written
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        crate::render::append_summaries(&markdown, summary)?;
        println!("appended the summary to {}", summary.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `compare` against a single run: 1 when a bound is exceeded.
fn compare_runs(
    base: &Run,
    new: &[PathBuf],
    bounds: &[Bound],
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let news = new
        .iter()
        .map(|p| Run::load_for(p, "the baseline is a single run"))
        .collect::<Result<Vec<_>, _>>()?;
    let summaries: Vec<_> = news.iter().map(|r| &r.result.summary).collect();
    let rows = compare::compare(&base.result.summary, &summaries, bounds);
    let table = compare::render(&rows, news.len());
    print!("{table}");
    if let Some(path) = out {
        std::fs::write(path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    let inconclusive = rows
        .iter()
        .filter(|r| matches!(r.verdict, compare::Verdict::Inconclusive { .. }))
        .count();
    if inconclusive > 0 {
        println!(
            "\n{inconclusive} latency bound(s) INCONCLUSIVE: the new runs differ among \
             themselves by more than the bound, so this machine is too noisy to tell a \
             regression from noise; not failing on them"
        );
    }
    let failed = rows.iter().filter(|r| r.is_regression()).count();
    if failed > 0 {
        println!(
            "\n{failed} bound(s) exceeded against {}",
            base.path.display()
        );
        return Ok(ExitCode::from(1));
    }
    println!("\nno regression against {}", base.path.display());
    Ok(ExitCode::SUCCESS)
}

/// `merge`: the shards' results into one; 2 when a threshold fails on the merge.
fn merge(runs: &[PathBuf], output: &Path, allow_partial: bool) -> anyhow::Result<ExitCode> {
    let runs = load_all(runs)?;
    let merged = crate::merge::merge(&runs, allow_partial)?;
    let json = serde_json::to_string_pretty(&merged)?;
    std::fs::write(output, json + "\n").with_context(|| format!("write {}", output.display()))?;
    println!("merged {} runs into {}", runs.len(), output.display());
    if let Some(m) = &merged.merged_shards {
        println!("{m}");
        for (index, ms) in &m.late {
            println!("shard {index} started {ms} ms after --start-at");
        }
    }
    let s = &merged.summary;
    println!(
        "{} sent, {} expected, {} delivered, {} missing, {} duplicates",
        s.sent, s.expected, s.delivered, s.missing, s.duplicates
    );
    let mut failed = false;
    for t in &merged.thresholds {
        println!(
            "threshold {:<4} {} (actual {})",
            if t.passed { "ok" } else { "FAIL" },
            t.threshold,
            t.actual_shown()
        );
        failed |= !t.passed;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
