//! `reports matrix`: several conformance JSON reports (`conformance --json`) side by side, case
//! by case, backend by backend, as Markdown ([`markdown`]) and one self-contained HTML page
//! ([`html`]) with the verdicts coloured and the evidence on hover, as Autobahn's report does.
//!
//! The reports are read with conformance's own types (`conformance::report::SuiteReport`,
//! one owner of the format), from the conformance crate built without its embedded server;
//! a file of another schema version is refused with what this reads.

pub mod cells;
pub mod html;
pub mod markdown;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use conformance::case::{Level, Outcome};
pub use conformance::report::SuiteReport as Suite;
pub use conformance::runner::CaseReport as CaseVerdict;

/// The JSON report versions this reads (conformance's `schema_version`).
const SCHEMA_VERSIONS: [u32; 1] = [conformance::report::SCHEMA_VERSION];

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a conformance report (conformance --json): {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: conformance report schema {found}; this reads {SCHEMA_VERSIONS:?}")]
    Schema { path: PathBuf, found: u32 },
}

/// A backend's column: its name and its run.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub suite: Suite,
}

/// One case's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub level: Level,
    pub description: String,
    /// One cell per column; `None` where that run did not grade the case (its profile or
    /// `--case` left it out).
    pub cells: Vec<Option<CaseVerdict>>,
}

/// The whole matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// The verdicts in the order the totals list them.
pub const VERDICTS: [Outcome; 5] = Outcome::ALL;

/// Reads one conformance JSON report, refusing another schema version.
pub fn load_suite(path: &Path) -> Result<Suite, MatrixError> {
    let text = std::fs::read_to_string(path).map_err(|source| MatrixError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse = |source| MatrixError::Parse {
        path: path.to_owned(),
        source,
    };
    // The version first: a conformance report (it has `cases`) of another version is
    // refused as such, not as unreadable; a file without `cases` is no conformance report.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
        #[allow(dead_code, reason = "required to be present, never read")]
        cases: serde::de::IgnoredAny,
    }
    let found = serde_json::from_str::<Version>(&text)
        .map_err(parse)?
        .schema_version;
    if !SCHEMA_VERSIONS.contains(&found) {
        return Err(MatrixError::Schema {
            path: path.to_owned(),
            found,
        });
    }
    serde_json::from_str(&text).map_err(parse)
}

/// A column's name: the report's `backend` (`conformance --backend`), else the file's stem
/// without a `conformance-` prefix (`target/conformance-django-redis.json`: `django-redis`).
fn column_name(path: &Path, suite: &Suite) -> String {
    if let Some(b) = suite.backend.as_ref().filter(|b| !b.trim().is_empty()) {
        return b.clone();
    }
    let stem = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    stem.strip_prefix("conformance-")
        .unwrap_or(&stem)
        .to_owned()
}

impl Matrix {
    /// Reads every report; columns keep the order of `paths`, rows the order in which cases
    /// first appear (the suite's own order).
    pub fn load(paths: &[PathBuf]) -> Result<Self, MatrixError> {
        let mut columns = Vec::new();
        for path in paths {
            let suite = load_suite(path)?;
            columns.push(Column {
                name: column_name(path, &suite),
                suite,
            });
        }
        Ok(Self::new(columns))
    }

    pub fn new(mut columns: Vec<Column>) -> Self {
        // Two columns of one name (two files with one --backend) get a number each.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for c in &mut columns {
            let n = seen.entry(c.name.clone()).or_default();
            *n += 1;
            if *n > 1 {
                c.name = format!("{} ({n})", c.name);
            }
        }
        let mut order: Vec<&CaseVerdict> = Vec::new();
        for c in &columns {
            for case in &c.suite.cases {
                if !order.iter().any(|o| o.id == case.id) {
                    order.push(case);
                }
            }
        }
        let rows = order
            .iter()
            .map(|first| Row {
                id: first.id.clone(),
                level: first.level,
                description: first.description.clone(),
                cells: columns
                    .iter()
                    .map(|c| c.suite.cases.iter().find(|v| v.id == first.id).cloned())
                    .collect(),
            })
            .collect();
        Self { columns, rows }
    }

    /// A column's totals, as `34 PASS, 1 FAIL, 2 INFORMATIONAL` (verdicts with none left out).
    pub fn totals(&self, col: usize) -> String {
        totals_of(
            self.rows
                .iter()
                .filter_map(|r| r.cells[col].as_ref().map(|v| v.verdict)),
        )
    }
}

/// Verdicts counted, as `34 PASS, 1 FAIL, 2 INFORMATIONAL` in [`VERDICTS`]' order, verdicts
/// with none left out; `no case` when there are none.
pub fn totals_of(verdicts: impl IntoIterator<Item = Outcome>) -> String {
    let verdicts: Vec<Outcome> = verdicts.into_iter().collect();
    let parts: Vec<String> = VERDICTS
        .iter()
        .map(|v| (v, verdicts.iter().filter(|o| *o == v).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    if parts.is_empty() {
        "no case".into()
    } else {
        parts.join(", ")
    }
}

/// Where a verdict's wire log is, as a link from the directory `from` (the page's): relative
/// when it can be, else the whole path; `None` without a log.
pub fn trace_link(verdict: &CaseVerdict, from: &Path) -> Option<String> {
    let trace = verdict.trace.as_deref()?;
    let link = pathdiff::diff_paths(trace, from).unwrap_or_else(|| trace.to_owned());
    Some(link.to_string_lossy().into_owned())
}

/// The case's section (`rooms.valid-names`: `rooms`).
pub fn section(id: &str) -> &str {
    id.split_once('.').map_or(id, |(s, _)| s)
}
