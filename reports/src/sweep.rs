//! Capacity searches (`loadgen --sweep`): reading them, `capacity.md` (every sweep's steps and
//! capacity), `capacity.html` (the throughput/latency curve: p99 solid and p50 dashed against
//! deliveries per second, one colour per sweep) and the capacity gate of `compare`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use run_result::sweep::{self, SweepResult};

use crate::charts::{self, Line};
use crate::escape::escape;
use crate::run::LoadError;
use run_result::display::{ms_of, per_s};

/// A loaded sweep and the name it is shown under (the file's stem).
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    pub path: PathBuf,
    pub sweep: SweepResult,
}

impl Sweep {
    /// Reads a sweep; `value` is the file already parsed.
    pub fn from_value(path: &Path, value: serde_json::Value) -> Result<Self, LoadError> {
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(sweep::SWEEP_SCHEMA_VERSION) {
            return Err(LoadError::SweepVersion {
                path: path.into(),
                found,
            });
        }
        let sweep: SweepResult =
            serde_json::from_value(value).map_err(|source| LoadError::Shape {
                path: path.into(),
                source,
            })?;
        Ok(Self {
            name: path
                .file_stem()
                .map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned()),
            path: path.into(),
            sweep,
        })
    }

    /// The capacity in deliveries per second offered (0 when no step held).
    pub fn capacity(&self) -> f64 {
        self.sweep.capacity.map_or(0.0, |c| c.offered_per_s)
    }
}

/// A step's verdict, with the bounds it broke.
fn verdict(step: &run_result::sweep::SweepStep) -> String {
    if step.held {
        "held".to_owned()
    } else {
        format!("broke: {}", step.broken.join(", "))
    }
}

/// One sentence for a sweep's result.
fn capacity_line(s: &SweepResult) -> String {
    match (&s.capacity, &s.broke_at) {
        (Some(c), _) if s.client_bound => format!(
            "at least {} deliveries/s ({:.3}/s per room): loadgen was the bottleneck above it \
             (client-bound)",
            per_s(c.offered_per_s),
            c.rate
        ),
        (Some(c), Some(b)) => format!(
            "{} deliveries/s ({:.3}/s per room); {} broke",
            per_s(c.offered_per_s),
            c.rate,
            per_s(b.offered_per_s)
        ),
        (Some(c), None) => format!(
            "at least {} deliveries/s ({:.3}/s per room): no step broke",
            per_s(c.offered_per_s),
            c.rate
        ),
        (None, _) => "below every rate tried".into(),
    }
}

/// `capacity.md`.
pub fn markdown(sweeps: &[Sweep]) -> String {
    let mut out = String::from("# Capacity\n\n");
    for s in sweeps {
        let _ = writeln!(
            out,
            "## {}\n\nCapacity under {}: **{}** (stopped: {}).\n",
            s.name,
            s.sweep.bounds_shown(),
            capacity_line(&s.sweep),
            s.sweep.stopped
        );
        out.push_str(
            "| offered/s | delivered/s | rate/room | p50 | p99 | max | loss | lateness p99 | verdict |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for step in s.sweep.by_rate() {
            let sum = &step.result.summary;
            let verdict = verdict(step);
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {} | {} | {} | {:.3} % | {} | {verdict} |",
                per_s(step.offered_per_s),
                per_s(sum.deliveries_per_s),
                step.rate,
                ms_of(sum.latency_us.count, sum.latency_us.p50),
                ms_of(sum.latency_us.count, sum.latency_us.p99),
                ms_of(sum.latency_us.count, sum.latency_us.max),
                sum.loss * 100.0,
                ms_of(sum.send_lateness_us.count, sum.send_lateness_us.p99)
            );
        }
        out.push('\n');
    }
    out
}

/// `capacity.html`: one self-contained page with the curve and the tables.
pub fn html(sweeps: &[Sweep]) -> Result<String, String> {
    let mut lines = Vec::new();
    for (i, s) in sweeps.iter().enumerate() {
        let colour = charts::colour(i);
        let steps = s.sweep.by_rate();
        let points = |f: &dyn Fn(&run_result::Summary) -> u64| {
            steps
                .iter()
                .map(|st| (st.offered_per_s, f(&st.result.summary) as f64 / 1000.0))
                .collect()
        };
        lines.push(Line {
            name: format!("{} p99", s.name),
            colour,
            dashed: false,
            points: points(&|m| m.latency_us.p99),
        });
        lines.push(Line {
            name: format!("{} p50", s.name),
            colour,
            dashed: true,
            points: points(&|m| m.latency_us.p50),
        });
    }
    let svg = charts::log_x(
        "Fan-out latency against load (p99 solid, p50 dashed)",
        "deliveries per second offered (logarithmic)",
        "latency (ms)",
        &lines,
    )
    .map_err(|e| format!("cannot draw the capacity chart: {e}"))?;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Capacity</title>\n<style>\n\
         body{font-family:sans-serif;margin:2em;color:#222;max-width:960px}\n\
         table{border-collapse:collapse;margin:1em 0}\n\
         th,td{border:1px solid #ccc;padding:4px 10px;text-align:right;white-space:nowrap}\n\
         td:last-child{text-align:left}\n.broke{background:#fbe3e3}\n\
         </style>\n</head>\n<body>\n<h1>Capacity</h1>\n",
    );
    let _ = writeln!(out, "<figure id=\"curve\">\n{svg}\n</figure>");
    for (i, s) in sweeps.iter().enumerate() {
        let c = charts::colour(i);
        let _ = writeln!(
            out,
            "<h2 style=\"color:rgb({},{},{})\">{}</h2>\n<p>Capacity under {}: <b>{}</b> \
             (stopped: {}).</p>\n<table>\n<tr><th>offered/s</th><th>delivered/s</th>\
             <th>p50</th><th>p99</th><th>max</th><th>loss</th><th>lateness p99</th>\
             <th>verdict</th></tr>",
            c.0,
            c.1,
            c.2,
            escape(&s.name),
            escape(&s.sweep.bounds_shown()),
            escape(&capacity_line(&s.sweep)),
            escape(&s.sweep.stopped)
        );
        for step in s.sweep.by_rate() {
            let sum = &step.result.summary;
            let verdict = verdict(step);
            let _ = writeln!(
                out,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3} %</td>\
                 <td>{}</td><td>{}</td></tr>",
                if step.held { "" } else { " class=\"broke\"" },
                per_s(step.offered_per_s),
                per_s(sum.deliveries_per_s),
                ms_of(sum.latency_us.count, sum.latency_us.p50),
                ms_of(sum.latency_us.count, sum.latency_us.p99),
                ms_of(sum.latency_us.count, sum.latency_us.max),
                sum.loss * 100.0,
                ms_of(sum.send_lateness_us.count, sum.send_lateness_us.p99),
                escape(&verdict)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// `compare` on capacity: the median capacity of `news` against `base`'s; a drop of more than
/// `max_drop` (a fraction) is a regression. Returns the table and whether it regressed.
pub fn compare(base: &Sweep, news: &[Sweep], max_drop: f64) -> (String, bool) {
    let mut caps: Vec<f64> = news.iter().map(Sweep::capacity).collect();
    caps.sort_by(f64::total_cmp);
    let n = caps.len();
    let new = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        caps[n / 2]
    } else {
        (caps[n / 2 - 1] + caps[n / 2]) / 2.0
    };
    let base_cap = base.capacity();
    let allowed = base_cap * (1.0 - max_drop);
    let regressed = new < allowed;
    let change = if base_cap > 0.0 {
        format!("{:+.1} %", (new / base_cap - 1.0) * 100.0)
    } else {
        "-".into()
    };
    let mut out = format!(
        "| metric | baseline | new{} | change | allowed | verdict |\n|---|---|---|---|---|---|\n",
        if n > 1 {
            format!(" (median of {n})")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "| capacity (deliveries/s) | {} | {} | {change} | at least {} | {} |",
        per_s(base_cap),
        per_s(new),
        per_s(allowed),
        if regressed { "**REGRESSION**" } else { "ok" }
    );
    let bounds = |s: &Sweep| s.sweep.bounds_shown();
    if let Some(other) = news.iter().find(|s| bounds(s) != bounds(base)) {
        let _ = writeln!(
            out,
            "\nnote: {} searched under {}, the baseline under {}: the capacities answer \
             different questions",
            other.name,
            bounds(other),
            bounds(base)
        );
    }
    (out, regressed)
}
