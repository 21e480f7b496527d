//! A workload run broken down (`run_result::part`): per run that has more than one group, room
//! size or stage, or slow readers, its tables (by group, by room size, by stage with the
//! recovery time after a spike, by reader: healthy members beside slow readers) and a chart of
//! whole-room latency against room size.

use std::fmt::Write as _;

use crate::charts::{self, Line};
use crate::escape::escape;
use crate::run::Run;
use run_result::display::ms_of;
use run_result::part;
use run_result::result::{PartResult, RunResult};

/// Whether `r` is broken down into more than one part anywhere, or has slow readers.
pub fn has_parts(r: &RunResult) -> bool {
    part::several_parts(r) || !r.readers.is_empty()
}

/// The section of the page for each run with parts.
pub fn section(runs: &[Run]) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    for (i, run) in runs.iter().enumerate() {
        let r = &run.result;
        if !has_parts(r) {
            continue;
        }
        let _ = writeln!(out, "<h2>{}: by part</h2>", escape(&run.name));
        if let Some(file) = &r.config.workload_file {
            let _ = writeln!(out, "<p>workload <code>{}</code></p>", escape(file));
        }
        table(&mut out, "room group", &r.groups, false);
        table(&mut out, "room size", &r.size_classes, false);
        table(&mut out, "stage", &r.stages, true);
        readers(&mut out, &r.readers);
        if r.size_classes.len() > 1 {
            let svg = by_size(&run.name, &r.size_classes, i)?;
            let _ = writeln!(
                out,
                "<figure class=\"by-size\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
                escape(
                    "Per message, until the last member present had it (whole room), against \
                     the room's size: p99 solid, p50 dashed; a point per size class, at its \
                     largest size."
                )
            );
        }
    }
    Ok(out)
}

/// Healthy members beside slow and impaired ones: what each received and missed, how late,
/// the codes their connections were closed with (evictions such as 1013), and an impaired
/// kernel link's TCP retransmits.
fn readers(out: &mut String, parts: &[PartResult]) {
    if parts.is_empty() {
        return;
    }
    let links = parts.iter().any(|p| p.retransmits.is_some());
    let _ = writeln!(
        out,
        "<table class=\"parts\">\n<tr><th>reader</th><th>members</th><th>delivered</th>\
         <th>missing</th><th>loss</th><th>p50</th><th>p99</th><th>closes</th>{}</tr>",
        if links {
            "<th>TCP retransmits</th>"
        } else {
            ""
        }
    );
    for p in parts {
        let l = &p.latency_us;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3} %</td><td>{}</td>\
             <td>{}</td><td>{}</td>",
            escape(&p.name),
            p.members.unwrap_or(0),
            p.delivered,
            p.missing,
            p.loss * 100.0,
            ms_of(l.count, l.p50),
            ms_of(l.count, l.p99),
            escape(&part::closes_text(p)),
        );
        if links {
            let text = part::retransmits_text(p).unwrap_or_else(|| "-".into());
            let _ = write!(out, "<td>{}</td>", escape(&text));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</table>");
}

fn table(out: &mut String, what: &str, parts: &[PartResult], stages: bool) {
    if parts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<table class=\"parts\">\n<tr><th>{what}</th><th>{}</th><th>sent</th><th>delivered</th>\
         <th>missing</th><th>loss</th><th>deliveries/s</th><th>p50</th><th>p99</th>\
         <th>first p99</th><th>whole room p99</th>{}</tr>",
        part::what_heading(parts, stages),
        if stages {
            "<th>p99 back after</th>"
        } else {
            ""
        }
    );
    for p in parts {
        let what = part::what(p, stages);
        let l = &p.latency_us;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{what}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3} %</td>\
             <td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(&p.name),
            p.sent,
            p.delivered,
            p.missing,
            p.loss * 100.0,
            p.deliveries_per_s,
            ms_of(l.count, l.p50),
            ms_of(l.count, l.p99),
            ms_of(p.first_us.count, p.first_us.p99),
            ms_of(p.completion_us.count, p.completion_us.p99),
        );
        if stages {
            let _ = write!(
                out,
                "<td>{}</td>",
                p.recovery_s.map_or(String::new(), |s| format!("{s:.0} s"))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The largest size of a class named `3-4 members` (or `1 members`).
fn class_top(name: &str) -> Option<f64> {
    let range = name.split_whitespace().next()?;
    range.rsplit('-').next()?.parse().ok()
}

/// Whole-room latency against room size, on a logarithmic size axis.
fn by_size(
    name: &str,
    classes: &[PartResult],
    i: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let colour = charts::colour(i);
    let points = |q: fn(&PartResult) -> u64| -> Vec<(f64, f64)> {
        classes
            .iter()
            .filter(|p| p.completion_us.count > 0)
            .filter_map(|p| Some((class_top(&p.name)?, q(p) as f64 / 1000.0)))
            .collect()
    };
    let lines = [
        Line {
            name: format!("{name} p99"),
            colour,
            dashed: false,
            points: points(|p| p.completion_us.p99),
        },
        Line {
            name: format!("{name} p50"),
            colour,
            dashed: true,
            points: points(|p| p.completion_us.p50),
        },
    ];
    charts::log_x(
        "Whole-room latency by room size",
        "members in the room",
        "latency (ms)",
        &lines,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_give_their_largest_size() {
        assert_eq!(class_top("3-4 members"), Some(4.0));
        assert_eq!(class_top("1 members"), Some(1.0));
        assert_eq!(class_top("2049-4096 members"), Some(4096.0));
        assert_eq!(class_top("members"), None);
    }
}
