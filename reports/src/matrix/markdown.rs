//! `conformance-matrix.md`: one row per case, one column per backend, then every cell that is
//! not a PASS with its evidence (Markdown has no hover).

use std::fmt::Write as _;

use std::path::Path;

use super::{Matrix, Outcome, trace_link};

/// A table cell: `|` and line breaks would break the row.
pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The page, its verdicts with a wire log linked to it from the directory `from`.
pub fn render(m: &Matrix, from: &Path) -> String {
    let mut out = String::from("# Conformance matrix\n\n");
    for c in &m.columns {
        let backend = c
            .suite
            .backend
            .as_deref()
            .map(|b| format!(" (--backend {b})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- **{}**: {}{backend}, {} profile",
            cell(&c.name),
            cell(&c.suite.target),
            c.suite.profile
        );
    }
    out.push_str("\n| case | level |");
    for c in &m.columns {
        let _ = write!(out, " {} |", cell(&c.name));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(m.columns.len()));
    out.push('\n');
    for r in &m.rows {
        let _ = write!(out, "| `{}` | {} |", r.id, r.level);
        for c in &r.cells {
            let v = match c {
                Some(v) => match trace_link(v, from) {
                    Some(link) => format!("[{}](<{link}>)", v.verdict.label()),
                    None => v.verdict.label().to_owned(),
                },
                None => "-".to_owned(),
            };
            let _ = write!(out, " {v} |");
        }
        out.push('\n');
    }
    out.push_str("| **total** | |");
    for i in 0..m.columns.len() {
        let _ = write!(out, " {} |", m.totals(i));
    }
    out.push_str("\n\n`-`: not graded in that run (its profile or `--case` left the case out).\n");

    let mut notes = String::new();
    for r in &m.rows {
        for (col, c) in r.cells.iter().enumerate() {
            if let Some(v) = c.as_ref().filter(|v| v.verdict != Outcome::Pass) {
                let trace = trace_link(v, from)
                    .map(|link| format!(" ([wire log](<{link}>))"))
                    .unwrap_or_default();
                let _ = writeln!(
                    notes,
                    "- `{}` on **{}**: {}: {}{trace}",
                    r.id,
                    cell(&m.columns[col].name),
                    v.verdict,
                    cell(&v.evidence)
                );
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("\n## Every verdict but PASS, with its evidence\n\n");
        out.push_str(&notes);
    }
    out
}
