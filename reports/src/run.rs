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

impl Run {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| LoadError::NotJson {
                path: path.into(),
                source,
            })?;
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
