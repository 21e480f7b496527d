//! Reading loadgen results, with a clear error for anything that is not one.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
pub use run_result::RunResult;

/// The loadgen result schema this version reads.
pub const SCHEMA_VERSION: u32 = run_result::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} has no schema_version: is it a loadgen result (loadgen --json)?")]
    NoVersion { path: PathBuf },
    #[error("{path} has schema_version {found}; this reports reads version {SCHEMA_VERSION}")]
    Version { path: PathBuf, found: u64 },
    #[error("{path} is not a valid loadgen result: {source}")]
    Shape {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} is a capacity search (loadgen --sweep) of schema {found}; this reports reads version {}",
        run_result::sweep::SWEEP_SCHEMA_VERSION
    )]
    SweepVersion { path: PathBuf, found: u64 },
    #[error("{path} is a capacity search (loadgen --sweep): {what}")]
    Sweep { path: PathBuf, what: &'static str },
    #[error("{path} is a single run, not a capacity search (loadgen --sweep): {what}")]
    NotSweep { path: PathBuf, what: &'static str },
    #[error("{path}: histogram {name} cannot be decoded: {reason}")]
    Histogram {
        path: PathBuf,
        name: String,
        reason: String,
    },
}

/// A loaded run and the name it is shown under (the file's stem).
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub path: PathBuf,
    pub result: RunResult,
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.into(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| LoadError::NotJson {
        path: path.into(),
        source,
    })
}

impl Run {
    /// Reads a single run; a sweep is refused, naming `what` cannot take one.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::load_for(path, "this command reads single runs")
    }

    pub fn load_for(path: &Path, what: &'static str) -> Result<Self, LoadError> {
        let value = read_json(path)?;
        if is_sweep(&value) {
            return Err(LoadError::Sweep {
                path: path.into(),
                what,
            });
        }
        Self::from_value(path, value)
    }

    pub(crate) fn from_value(path: &Path, value: serde_json::Value) -> Result<Self, LoadError> {
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| LoadError::NoVersion { path: path.into() })?;
        if version != u64::from(SCHEMA_VERSION) {
            return Err(LoadError::Version {
                path: path.into(),
                found: version,
            });
        }
        let result = serde_json::from_value(value).map_err(|source| LoadError::Shape {
            path: path.into(),
            source,
        })?;
        let run = Self {
            name: path
                .file_stem()
                .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned()),
            path: path.into(),
            result,
        };
        // Fail now, not in the middle of a report.
        for name in run.result.histograms.keys() {
            run.histogram(name)?;
        }
        Ok(run)
    }

    /// Decodes one of the run's histograms (V2 compressed, base64).
    pub fn histogram(&self, name: &str) -> Result<Histogram<u64>, LoadError> {
        let fail = |reason: String| LoadError::Histogram {
            path: self.path.clone(),
            name: name.into(),
            reason,
        };
        let text = self
            .result
            .histograms
            .get(name)
            .ok_or_else(|| fail("missing".into()))?;
        run_result::histogram::decode(text).map_err(|e| fail(e.to_string()))
    }
}

/// True when `value` (a parsed file) is a capacity search (`loadgen --sweep`) rather than a
/// single run.
pub fn is_sweep(value: &serde_json::Value) -> bool {
    value.get("kind").and_then(serde_json::Value::as_str) == Some(run_result::sweep::KIND)
}
