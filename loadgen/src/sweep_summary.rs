//! What `--sweep` prints: a line per step as it ends, then the table of steps and the
//! capacity.

use std::fmt::Write as _;

use run_result::display::{ms, ms_of, per_s};
use run_result::sweep::{SweepResult, SweepStep};
use run_result::{Metric, Threshold};

/// The per-room rate, short: `12.5`, `0.31`, `1000`.
fn rate(r: f64) -> String {
    let s = format!("{r:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One line for a step that just ended.
pub fn step_line(n: usize, s: &SweepStep) -> String {
    let l = &s.result.summary.latency_us;
    let verdict = if s.held {
        "held".to_owned()
    } else if s.result.interrupted {
        "interrupted".to_owned()
    } else {
        format!("broke: {}", s.broken.join(", "))
    };
    format!(
        "step {n}: {}/s per room, {} deliveries/s offered, {} measured: p50 {} p99 {}, loss {:.3} %: {verdict}",
        rate(s.rate),
        per_s(s.offered_per_s),
        per_s(s.result.summary.deliveries_per_s),
        ms_of(l.count, l.p50),
        ms_of(l.count, l.p99),
        s.result.summary.loss * 100.0
    )
}

/// The table of steps (by rate) and the capacity.
pub fn render(r: &SweepResult) -> String {
    let mut out = String::new();
    let c = r.steps.first().map(|s| &s.result.config);
    if let Some(c) = c {
        let _ = writeln!(
            out,
            "\ncapacity search: {} rooms x {} clients ({} sender(s) each) against {}; bounds {}",
            c.rooms,
            c.clients,
            c.senders,
            if c.embedded_server {
                "the embedded reference server (started anew for each step)".to_owned()
            } else {
                c.targets.join(", ")
            },
            r.bounds_shown()
        );
    }
    let _ = writeln!(
        out,
        "\n  {:>10} {:>14} {:>14} {:>10} {:>10} {:>10} {:>9} {:>12}  verdict",
        "rate/room", "offered/s", "delivered/s", "p50", "p99", "max", "loss", "lateness p99"
    );
    for s in r.by_rate() {
        let sum = &s.result.summary;
        let _ = writeln!(
            out,
            "  {:>10} {:>14} {:>14} {:>10} {:>10} {:>10} {:>8.3}% {:>12}  {}",
            rate(s.rate),
            per_s(s.offered_per_s),
            per_s(sum.deliveries_per_s),
            ms_of(sum.latency_us.count, sum.latency_us.p50),
            ms_of(sum.latency_us.count, sum.latency_us.p99),
            ms_of(sum.latency_us.count, sum.latency_us.max),
            sum.loss * 100.0,
            ms_of(sum.send_lateness_us.count, sum.send_lateness_us.p99),
            if s.held { "held" } else { "broke" }
        );
    }
    out.push_str(&curve(r));
    let _ = writeln!(out);
    match (&r.capacity, &r.broke_at) {
        (Some(cap), _) if r.client_bound => {
            let _ = writeln!(
                out,
                "capacity: at least {}/s per room = {} deliveries/s offered ({} measured): \
                 loadgen was the bottleneck above it (CLIENT-BOUND)",
                rate(cap.rate),
                per_s(cap.offered_per_s),
                per_s(cap.deliveries_per_s)
            );
        }
        (Some(cap), Some(broke)) => {
            let _ = writeln!(
                out,
                "capacity: {}/s per room = {} deliveries/s offered ({} measured); {}/s per room broke",
                rate(cap.rate),
                per_s(cap.offered_per_s),
                per_s(cap.deliveries_per_s),
                rate(broke.rate)
            );
        }
        (Some(cap), None) => {
            let _ = writeln!(
                out,
                "capacity: at least {}/s per room = {} deliveries/s offered ({} measured): no step broke",
                rate(cap.rate),
                per_s(cap.offered_per_s),
                per_s(cap.deliveries_per_s)
            );
        }
        (None, _) => {
            let _ = writeln!(
                out,
                "capacity: below every rate tried (the lowest, {}/s per room, broke)",
                r.steps
                    .iter()
                    .map(|s| s.rate)
                    .fold(f64::INFINITY, f64::min)
                    .min(r.from_rate)
            );
        }
    }
    let _ = writeln!(out, "stopped: {}", r.stopped);
    // loadgen's own lateness is part of every latency: say when it, not the backend, is late.
    if let Some(late) = r.steps.iter().find(|s| {
        !s.held && s.result.summary.send_lateness_us.p99 * 2 > s.result.summary.latency_us.p99
    }) {
        let _ = writeln!(
            out,
            "note: at {}/s per room loadgen's own send lateness (p99 {}) is half or more of the \
             latency it measured: loadgen, not only the backend, was short of CPU there",
            rate(late.rate),
            ms(late.result.summary.send_lateness_us.p99)
        );
    }
    out
}

/// The curve in the terminal: the latency the first latency bound names (p99 without one)
/// against the load, one bar per step, `|` marking the bound.
fn curve(r: &SweepResult) -> String {
    const WIDTH: f64 = 40.0;
    let bound = r
        .bounds
        .iter()
        .filter_map(|b| b.parse::<Threshold>().ok())
        .find(|t| t.metric.is_latency());
    let metric = bound.as_ref().map_or(Metric::P99, |t| t.metric);
    let steps = r.by_rate();
    let values: Vec<f64> = steps.iter().map(|s| metric.of(&s.result.summary)).collect();
    let top = bound.as_ref().map_or_else(
        || values.iter().copied().fold(1.0, f64::max),
        |t| t.bound * 2.0,
    );
    let mut out = format!(
        "\n  {} against load{}:\n",
        metric.name(),
        bound
            .as_ref()
            .map(|t| format!(" (| marks {})", t.text))
            .unwrap_or_default()
    );
    for (s, v) in steps.iter().zip(values) {
        let cells = ((v / top) * WIDTH).round().clamp(0.0, WIDTH) as usize;
        let mut bar: String = "#".repeat(cells);
        bar.push_str(&" ".repeat(WIDTH as usize - cells));
        if bound.is_some() {
            bar.insert(WIDTH as usize / 2, '|');
        }
        let over = if v > top { ">" } else { " " };
        let _ = writeln!(
            out,
            "  {:>14}/s  {bar}{over} {}",
            per_s(s.offered_per_s),
            ms(v as u64)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(12.5), "12.5");
        assert_eq!(rate(1000.0), "1000");
        assert_eq!(rate(0.3125), "0.312");
    }
}
