//! `reports render`: every output of a set of runs into one folder.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::run::Run;
use crate::{hgrm, html, markdown};

/// Writes `summary.md`, `report.html` and `<run>.<histogram>.hgrm` files into `out`; returns
/// the paths written.
pub fn render(runs: &[Run], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let mut written = Vec::new();
    let mut write = |name: String, text: String| -> anyhow::Result<()> {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    write("summary.md".into(), markdown::render(runs))?;
    write("report.html".into(), html::render(runs)?)?;
    for run in runs {
        for name in run.result.histograms.keys() {
            let h = run.histogram(name)?;
            let stem = name.trim_end_matches("_us");
            write(format!("{}.{stem}.hgrm", run.name), hgrm::render(&h))?;
        }
    }
    Ok(written)
}
