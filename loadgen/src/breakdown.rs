//! The summary's tables of a run broken down (`run_result::part`): by room group, by room
//! size and by stage, shown when the run has more than one of any (a workload; a run of flags
//! is one group, one size and one stage, which the summary's totals already say); and by
//! reader, healthy members beside slow and impaired ones, whenever the run has them (with the
//! TCP retransmits of an impaired kernel link).

use std::fmt::Write as _;

use run_result::RunResult;
use run_result::display::ms_of;
use run_result::part::{self, PartResult};

/// The tables the run has.
pub fn render(out: &mut String, r: &RunResult) {
    if part::several_parts(r) {
        table(out, "By group", &r.groups, false);
        table(out, "By room size", &r.size_classes, false);
        table(out, "By stage", &r.stages, true);
    }
    readers(out, &r.readers);
}

/// Healthy, slow and impaired members: what each received, missed, how late, how they ended.
fn readers(out: &mut String, parts: &[PartResult]) {
    if parts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{:<38} {:>8} {:>11} {:>9} {:>8} {:>10} {:>10}  closes",
        "By reader", "members", "delivered", "missing", "loss", "p50", "p99",
    );
    for p in parts {
        let l = &p.latency_us;
        let closes = part::closes_text(p);
        let _ = writeln!(
            out,
            "  {:<36} {:>8} {:>11} {:>9} {:>7.3}% {:>10} {:>10}  {}",
            truncate(&p.name, 36),
            p.members.unwrap_or(0),
            p.delivered,
            p.missing,
            p.loss * 100.0,
            ms_of(l.count, l.p50),
            ms_of(l.count, l.p99),
            if closes.is_empty() { "-" } else { &closes },
        );
    }
    for p in parts {
        if let Some(text) = part::retransmits_text(p) {
            let _ = writeln!(out, "  {}: TCP segments retransmitted {text}", p.name);
        }
    }
}

fn table(out: &mut String, title: &str, parts: &[PartResult], stages: bool) {
    if parts.is_empty() {
        return;
    }
    let what = part::what_heading(parts, stages);
    let w = what.len().max(15);
    let _ = writeln!(
        out,
        "\n{title:<22} {what:>w$} {:>10} {:>11} {:>9} {:>8} {:>10} {:>10} {:>10}",
        "sent", "delivered", "missing", "loss", "p50", "p99", "room p99",
    );
    for p in parts {
        let what = part::what(p, stages);
        let l = &p.latency_us;
        let _ = write!(
            out,
            "  {:<20} {what:>w$} {:>10} {:>11} {:>9} {:>7.3}% {:>10} {:>10} {:>10}",
            truncate(&p.name, 20),
            p.sent,
            p.delivered,
            p.missing,
            p.loss * 100.0,
            ms_of(l.count, l.p50),
            ms_of(l.count, l.p99),
            ms_of(p.completion_us.count, p.completion_us.p99),
        );
        if let Some(s) = p.recovery_s {
            let _ = write!(out, "  p99 back in {s:.0}s");
        } else if stages && is_spike(parts, p) {
            let _ = write!(out, "  p99 not back within the run");
        }
        let _ = writeln!(out);
    }
}

/// A stage above both its neighbours' rates (the ones recovery is measured after).
fn is_spike(parts: &[PartResult], p: &PartResult) -> bool {
    let Some(i) = parts.iter().position(|x| std::ptr::eq(x, p)) else {
        return false;
    };
    let rate = |x: &PartResult| x.rate.unwrap_or(1.0);
    i > 0 && i + 1 < parts.len() && rate(p) > rate(&parts[i - 1]) && rate(p) > rate(&parts[i + 1])
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['~']).collect()
    }
}
