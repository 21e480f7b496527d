//! Writing outputs into one folder: `reports render`'s for runs and for sweeps, and the
//! conformance matrix's.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::matrix::Matrix;
use crate::run::Run;
use crate::sweep::Sweep;
use crate::{hgrm, html, markdown};

/// Writes `files` (name, text) into `out`, created if needed; returns the paths written.
fn write_all(out: &Path, files: Vec<(String, String)>) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    files
        .into_iter()
        .map(|(name, text)| {
            let path = out.join(name);
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// Writes `summary.md`, `report.html` and `<run>.<histogram>.hgrm` files into `out`; returns
/// the paths written.
pub fn render(runs: &[Run], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = vec![
        ("summary.md".to_owned(), markdown::render(runs)),
        ("report.html".to_owned(), html::render(runs)?),
    ];
    for run in runs {
        for name in run.result.histograms.keys() {
            let h = run.histogram(name)?;
            let stem = name.trim_end_matches("_us");
            files.push((format!("{}.{stem}.hgrm", run.name), hgrm::render(&h)));
        }
    }
    write_all(out, files)
}

/// Appends the Markdown files `markdown` to `summary` (a GitHub job summary), each after a
/// blank line; `summary` is created if missing, never truncated.
pub fn append_summaries(markdown: &[&PathBuf], summary: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut text = String::new();
    for path in markdown {
        let md =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        text.push('\n');
        text.push_str(&md);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(summary)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("append the summary to {}", summary.display()))
}

/// Writes `capacity.md` and `capacity.html` for capacity searches into `out`.
pub fn render_sweeps(sweeps: &[Sweep], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let html = crate::sweep::html(sweeps).map_err(anyhow::Error::msg)?;
    write_all(
        out,
        vec![
            ("capacity.md".into(), crate::sweep::markdown(sweeps)),
            ("capacity.html".into(), html),
        ],
    )
}

/// Writes `conformance-matrix.md` and `conformance-matrix.html` into `out`; a verdict with a
/// wire log (`conformance --trace-failed`) links to it, relative to `out`.
pub fn render_matrix(matrix: &Matrix, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let from = std::fs::canonicalize(out).with_context(|| format!("{}", out.display()))?;
    write_all(
        out,
        vec![
            (
                "conformance-matrix.md".into(),
                crate::matrix::markdown::render(matrix, &from),
            ),
            (
                "conformance-matrix.html".into(),
                crate::matrix::html::render(matrix, &from),
            ),
        ],
    )
}

/// Writes `deployment-matrix.md` for the cells of a deployment matrix into `out`.
pub fn render_cells(cells: &[crate::matrix::cells::Cell], out: &Path) -> anyhow::Result<PathBuf> {
    let mut written = write_all(
        out,
        vec![(
            "deployment-matrix.md".into(),
            crate::matrix::cells::markdown(cells),
        )],
    )?;
    Ok(written.remove(0))
}
