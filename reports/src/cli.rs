//! The command line: `Opts` and [`run`], in the library so tests can drive the CLI in-process;
//! `main.rs` only parses and exits.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::compare::{self, Bound};
use crate::run::Run;

/// CI latency reports from loadgen results.
#[derive(Debug, Parser)]
#[command(name = "reports", version, about)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write summary.md, report.html and .hgrm files for one or more runs (side by side).
    Render {
        /// loadgen results (--json); each is shown under its file name.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
    },
    /// Compare new runs (their median) with a baseline; exit 1 when a bound is exceeded.
    Compare {
        base: PathBuf,
        #[arg(required = true)]
        new: Vec<PathBuf>,
        /// Bounds such as p99=20%,loss=0 (repeatable). Default:
        /// p50=50%,p99=100%,loss=0,duplicates=0,reordered=0,cross_room=0.
        #[arg(long = "max-regression", value_name = "BOUNDS", value_parser = compare::parse_bounds)]
        bounds: Vec<Vec<Bound>>,
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
    /// by the report's --backend, else by its file name without "conformance-".
    Matrix {
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
    },
}

fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Run>> {
    paths.iter().map(|p| Ok(Run::load(p)?)).collect()
}

/// Runs the command; the exit code is 0, or 1 when `compare` finds a regression.
pub fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    match opts.command {
        Command::Render { runs, out } => {
            let runs = load_all(&runs)?;
            for path in crate::render::render(&runs, &out)? {
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            base,
            new,
            bounds,
            out,
        } => {
            let base = Run::load(&base)?;
            let news = load_all(&new)?;
            let bounds: Vec<Bound> = if bounds.is_empty() {
                compare::default_bounds()
            } else {
                bounds.into_iter().flatten().collect()
            };
            let summaries: Vec<_> = news.iter().map(|r| &r.result.summary).collect();
            let rows = compare::compare(&base.result.summary, &summaries, &bounds);
            let table = compare::render(&rows, news.len());
            print!("{table}");
            if let Some(path) = out {
                std::fs::write(&path, &table)
                    .with_context(|| format!("write {}", path.display()))?;
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
        Command::Matrix { reports, out } => {
            let matrix = crate::matrix::Matrix::load(&reports)?;
            std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
            for (name, text) in [
                (
                    "conformance-matrix.md",
                    crate::matrix::markdown::render(&matrix),
                ),
                (
                    "conformance-matrix.html",
                    crate::matrix::html::render(&matrix),
                ),
            ] {
                let path = out.join(name);
                std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
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
        } => {
            let runs = load_all(&runs)?;
            let merged = crate::merge::merge(&runs, allow_partial)?;
            let json = serde_json::to_string_pretty(&merged)?;
            std::fs::write(&output, json + "\n")
                .with_context(|| format!("write {}", output.display()))?;
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
                    t.actual
                );
                failed |= !t.passed;
            }
            Ok(if failed {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
