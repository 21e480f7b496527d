//! `reports matrix --cells`: a deployment matrix (examples/django-tutorial/matrix), one row per
//! cell (an ASGI server, a channel layer, a worker count) with its conformance verdicts, its
//! load's loss and p99 and its capacity, as `deployment-matrix.md`.
//!
//! A cell is a folder: `cell.json` (what was deployed; required) and what each part left:
//! `conformance.json` (`conformance --json`), `load.json` (`loadgen --json`), `sweep.json`
//! (`loadgen --sweep --json`), `errors.txt` (a part that could not run, one line each) and
//! `stops.txt` (a server that did not stop on SIGTERM). A part's file that is absent is shown
//! as not run, never as a pass.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use run_result::display::{ms, per_s, thousands};

use super::markdown::cell;
use super::{Column, MatrixError, Outcome, Suite, load_suite, totals_of};
use crate::input::Input;
use crate::run::{LoadError, Run};
use crate::sweep::Sweep;

/// How many case IDs a row names before "and N more".
const MAX_CASES_NAMED: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum CellError {
    #[error(
        "{dir}: not a matrix cell (no cell.json: examples/django-tutorial/matrix writes one): {source}"
    )]
    NoSpec {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a cell description (server, layer, workers, date): {source}")]
    Spec {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Conformance(#[from] MatrixError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{path}: a single run where the cell's capacity search (loadgen --sweep) belongs")]
    NotSweep { path: PathBuf },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a cell deployed (`cell.json`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub server: String,
    /// `memory`, `redis` or `pubsub`.
    pub layer: String,
    pub workers: u32,
    /// When it ran (UTC day).
    pub date: String,
}

/// One cell and whatever its parts left.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The folder's name (`uvicorn-redis-2w`).
    pub name: String,
    pub spec: Spec,
    pub suite: Option<Suite>,
    pub load: Option<Run>,
    pub sweep: Option<Sweep>,
    /// `errors.txt` and `stops.txt`, line by line.
    pub errors: Vec<String>,
    pub stops: Vec<String>,
}

fn lines(path: &Path) -> Result<Vec<String>, CellError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CellError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

impl Cell {
    pub fn load(dir: &Path) -> Result<Self, CellError> {
        let spec_path = dir.join("cell.json");
        let text = std::fs::read_to_string(&spec_path).map_err(|source| CellError::NoSpec {
            dir: dir.to_owned(),
            source,
        })?;
        let spec: Spec = serde_json::from_str(&text).map_err(|source| CellError::Spec {
            path: spec_path,
            source,
        })?;
        let present = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
        let suite = present("conformance.json")
            .map(|p| load_suite(&p))
            .transpose()?;
        let load = present("load.json").map(|p| Run::load(&p)).transpose()?;
        let sweep = match present("sweep.json") {
            None => None,
            Some(path) => match Input::load(&path)? {
                Input::Sweep(s) => Some(*s),
                Input::Run(_) => return Err(CellError::NotSweep { path }),
            },
        };
        let name = std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_owned())
            .file_name()
            .map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
        Ok(Self {
            name,
            spec,
            suite,
            load,
            sweep,
            errors: lines(&dir.join("errors.txt"))?,
            stops: lines(&dir.join("stops.txt"))?,
        })
    }

    /// The cell's conformance report as a column of the case-by-case matrix, named by the cell.
    pub fn column(&self) -> Option<Column> {
        self.suite.as_ref().map(|suite| Column {
            name: self.name.clone(),
            suite: suite.clone(),
        })
    }
}

/// The layer as the table names it.
fn layer_label(layer: &str) -> &str {
    match layer {
        "memory" => "in-memory",
        "redis" => "core Redis",
        "pubsub" => "pub/sub Redis",
        other => other,
    }
}

/// The cases that did not pass and are not informational: FAILs first, then KNOWN.
fn not_passed(suite: &Suite) -> String {
    let mut named: Vec<String> = Vec::new();
    for verdict in [Outcome::Fail, Outcome::Known] {
        for c in suite.cases.iter().filter(|c| c.verdict == verdict) {
            named.push(if verdict == Outcome::Fail {
                format!("`{}`", c.id)
            } else {
                format!("`{}` (KNOWN)", c.id)
            });
        }
    }
    if named.len() > MAX_CASES_NAMED {
        let more = named.len() - MAX_CASES_NAMED;
        named.truncate(MAX_CASES_NAMED);
        named.push(format!("and {more} more"));
    }
    if named.is_empty() {
        "-".into()
    } else {
        named.join(", ")
    }
}

/// The capacity in one phrase: `3,200/s (6,400 broke)`.
fn capacity(s: &Sweep) -> String {
    let r = &s.sweep;
    match (&r.capacity, &r.broke_at) {
        (Some(c), _) if r.client_bound => {
            format!(
                "at least {}/s (loadgen short of CPU above it)",
                per_s(c.offered_per_s)
            )
        }
        (Some(c), Some(b)) => format!(
            "{}/s ({} broke)",
            per_s(c.offered_per_s),
            per_s(b.offered_per_s)
        ),
        (Some(c), None) => format!("at least {}/s (no step broke)", per_s(c.offered_per_s)),
        (None, _) => {
            let lowest = r
                .steps
                .iter()
                .map(|s| s.offered_per_s)
                .min_by(f64::total_cmp);
            lowest.map_or_else(|| "no step ran".into(), |l| format!("below {}/s", per_s(l)))
        }
    }
}

/// What the load's row says beyond loss and p99: every other broken promise.
fn load_notes(run: &Run) -> Vec<String> {
    let s = &run.result.summary;
    let mut notes = Vec::new();
    if s.connections.failed > 0 {
        notes.push(format!(
            "{} of {} connections failed",
            thousands(s.connections.failed),
            thousands(s.connections.planned)
        ));
    }
    for (n, what) in [
        (s.duplicates, "duplicates"),
        (s.reordered, "reordered"),
        (s.cross_room, "from another room"),
        (s.order_conflicts, "order conflicts"),
    ] {
        if n > 0 {
            notes.push(format!("{} {what}", thousands(n)));
        }
    }
    notes
}

/// `deployment-matrix.md`.
pub fn markdown(cells: &[Cell]) -> String {
    let mut dates: Vec<&str> = cells.iter().map(|c| c.spec.date.as_str()).collect();
    dates.sort_unstable();
    dates.dedup();
    let mut out = String::from("# Deployment matrix\n\n");
    let _ = writeln!(
        out,
        "{} cells, run {}. Conformance: the verdicts of each cell's suite (case by case in \
         conformance-matrix.md). Load: deliveries of the cell's workload, loss (missing of \
         expected) and p99 fan-out latency. Capacity: the highest deliveries per second \
         offered that held the capacity search's bounds.\n",
        cells.len(),
        dates.join(", ")
    );
    out.push_str(
        "| server | layer | workers | conformance | not passed | delivered | loss | p99 | capacity | notes |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in cells {
        let (verdicts, failing) = c.suite.as_ref().map_or_else(
            || ("not run".to_owned(), "-".to_owned()),
            |s| (totals_of(s.cases.iter().map(|c| c.verdict)), not_passed(s)),
        );
        let mut notes: Vec<String> = Vec::new();
        let (delivered, loss, p99) = match &c.load {
            Some(run) => {
                let s = &run.result.summary;
                notes.extend(load_notes(run));
                (
                    format!("{} of {}", thousands(s.delivered), thousands(s.expected)),
                    format!("{:.3} %", s.loss * 100.0),
                    ms(s.latency_us.p99),
                )
            }
            None => ("not run".into(), "-".into(), "-".into()),
        };
        let capacity = c.sweep.as_ref().map_or_else(|| "not run".into(), capacity);
        notes.extend(c.stops.iter().cloned());
        notes.extend(c.errors.iter().map(|e| format!("error: {e}")));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&c.spec.server),
            layer_label(&c.spec.layer),
            c.spec.workers,
            verdicts,
            cell(&failing),
            delivered,
            loss,
            p99,
            capacity,
            cell(&if notes.is_empty() {
                "-".into()
            } else {
                notes.join("; ")
            }),
        );
    }
    out
}
