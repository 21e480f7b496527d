//! `conformance-matrix.html`: one self-contained page (inline CSS, no scripts, nothing
//! fetched): cases down, backends across, grouped by section, each cell coloured by its
//! verdict with the evidence on hover (`title`) and the case's description on its name.

use std::fmt::Write as _;

use std::path::Path;

use super::{Matrix, section, trace_link};
use crate::escape::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;font-size:14px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\
th{background:#f0f0f0;position:sticky;top:0}\
td.v{text-align:center;font-weight:600;cursor:help;white-space:nowrap}\
tr.section td{background:#e8e8f4;font-weight:600}\
.PASS{background:#b6e3b6}.FAIL{background:#f2a5a5}.NON-STRICT{background:#f5e0a0}\
.INFORMATIONAL{background:#b8d4f0}.KNOWN{background:#ddd0f0}.none{color:#999}\
code{font-size:13px;white-space:nowrap}.legend span{padding:2px 8px;margin-right:6px}";

/// The page, its verdicts with a wire log linked to it from the directory `from`.
pub fn render(m: &Matrix, from: &Path) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Conformance matrix</title><style>{STYLE}</style></head><body>\n\
         <h1>Conformance matrix</h1>\n<ul>\n"
    );
    for c in &m.columns {
        let _ = writeln!(
            out,
            "<li><b>{}</b>: {}, {} profile</li>",
            escape(&c.name),
            escape(&c.suite.target),
            c.suite.profile
        );
    }
    out.push_str("</ul>\n<p class=\"legend\">");
    for v in super::VERDICTS {
        let _ = write!(out, "<span class=\"{v}\">{v}</span>");
    }
    out.push_str(
        "<span class=\"none\">- not graded</span> Hover over a verdict for its evidence, \
         over a case for its description; a verdict that is a link opens its wire log.</p>\n\
         <table>\n<tr><th>case</th><th>level</th>",
    );
    for c in &m.columns {
        let _ = write!(out, "<th>{}</th>", escape(&c.name));
    }
    out.push_str("</tr>\n");
    let span = m.columns.len() + 2;
    let mut last_section = "";
    for r in &m.rows {
        let s = section(&r.id);
        if s != last_section {
            let _ = writeln!(
                out,
                "<tr class=\"section\"><td colspan=\"{span}\">{}</td></tr>",
                escape(s)
            );
            last_section = s;
        }
        let _ = write!(
            out,
            "<tr><td title=\"{}\"><code>{}</code></td><td>{}</td>",
            escape(&r.description),
            escape(&r.id),
            r.level
        );
        for c in &r.cells {
            match c {
                Some(v) => {
                    let label = match trace_link(v, from) {
                        Some(link) => format!("<a href=\"{}\">{}</a>", escape(&link), v.verdict),
                        None => v.verdict.to_string(),
                    };
                    let _ = write!(
                        out,
                        "<td class=\"v {}\" title=\"{}\">{label}</td>",
                        v.verdict,
                        escape(&v.evidence),
                    );
                }
                None => out.push_str("<td class=\"v none\" title=\"not graded\">-</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("<tr><th>total</th><th></th>");
    for i in 0..m.columns.len() {
        let _ = write!(out, "<th>{}</th>", escape(&m.totals(i)));
    }
    out.push_str("</tr>\n</table>\n</body></html>\n");
    out
}
