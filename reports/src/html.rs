//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

use std::fmt::Write as _;

use crate::charts::{self, Line};
use crate::escape::escape;
use crate::markdown;
use crate::run::{LoadError, Run};
use run_result::result::SecondResult;

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot draw the {0} chart: {1}")]
    Chart(&'static str, String),
}

fn chart(
    name: &'static str,
    drawn: Result<String, Box<dyn std::error::Error>>,
) -> Result<String, HtmlError> {
    drawn.map_err(|e| HtmlError::Chart(name, e.to_string()))
}

/// A run's seconds within its measured duration: those past it hold only late deliveries,
/// not a throughput.
fn measured_series(r: &Run) -> Vec<&SecondResult> {
    let measured = r.result.config.duration_s.ceil() as usize;
    r.result
        .series
        .iter()
        .filter(|s| s.second < measured)
        .collect()
}

/// The whole page.
pub fn render(runs: &[Run]) -> Result<String, HtmlError> {
    let (distribution, [latency, throughput, ramp]) = (distribution(runs)?, over_time(runs)?);
    let timelines = timelines(runs)?;
    let mut out = String::new();
    out.push_str(HEAD);
    summary_table(&mut out, runs);
    for (id, svg, caption) in [
        (
            "percentiles",
            distribution,
            "Each delivery's latency from its scheduled send time; the x axis counts nines (90 %, 99 %, 99.9 % ...).",
        ),
        (
            "latency-over-time",
            latency,
            "Per second of the measured run.",
        ),
        (
            "throughput",
            throughput,
            "Deliveries received per second of the measured run.",
        ),
        ("ramp", ramp, "Connections open during the ramp-up."),
    ] {
        let _ = writeln!(
            out,
            "<figure id=\"{id}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape(caption)
        );
    }
    out.push_str(
        &crate::parts::section(runs).map_err(|e| HtmlError::Chart("room size", e.to_string()))?,
    );
    for svg in timelines {
        let _ = writeln!(
            out,
            "<figure class=\"timeline\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape(
                "Deliveries and members connected per second; seconds whose messages lost \
                 deliveries are shaded; a workload's stages start at the dashed lines."
            )
        );
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// The page's head and title.
const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
     <title>Fan-out latency report</title>\n<style>\n\
     body{font-family:sans-serif;margin:2em;color:#222;max-width:960px}\n\
     table{border-collapse:collapse;margin:1em 0}\n\
     th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}\n\
     th:first-child,td:first-child{text-align:left}\n\
     figure{margin:1.5em 0}\nfigcaption{color:#555;font-size:90%}\n\
     </style>\n</head>\n<body>\n<h1>Fan-out latency report</h1>\n";

/// The summary table: a column per run, the rows of the Markdown summary.
fn summary_table(out: &mut String, runs: &[Run]) {
    let _ = writeln!(out, "<table id=\"summary\">\n<tr><th></th>");
    for (i, r) in runs.iter().enumerate() {
        let c = charts::colour(i);
        let _ = writeln!(
            out,
            "<th style=\"color:rgb({},{},{})\">{}</th>",
            c.0,
            c.1,
            c.2,
            escape(&r.name)
        );
    }
    out.push_str("</tr>\n");
    for (label, cells) in markdown::rows(runs) {
        let _ = write!(out, "<tr><td>{}</td>", escape(&label));
        for cell in cells {
            let _ = write!(out, "<td>{}</td>", escape(&cell.replace("**", "")));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Fan-out latency by percentile, a line per run.
fn distribution(runs: &[Run]) -> Result<String, HtmlError> {
    let histograms = runs
        .iter()
        .map(|r| Ok((r.name.clone(), r.histogram(run_result::totals::FAN_OUT)?)))
        .collect::<Result<Vec<_>, LoadError>>()?;
    chart(
        "percentile",
        charts::percentiles("Fan-out latency by percentile", &histograms),
    )
}

/// Latency, throughput and the connection ramp over time, a line (or two) per run.
fn over_time(runs: &[Run]) -> Result<[String; 3], HtmlError> {
    let mut latency_lines = Vec::new();
    let mut throughput_lines = Vec::new();
    let mut ramp_lines = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let colour = charts::colour(i);
        let series = measured_series(r);
        // One line of `value` per second, plotted mid-second.
        let per_second = |name: String, dashed: bool, value: &dyn Fn(&SecondResult) -> f64| Line {
            name,
            colour,
            dashed,
            points: series
                .iter()
                .map(|s| (s.second as f64 + 0.5, value(s)))
                .collect(),
        };
        latency_lines.push(per_second(format!("{} p99", r.name), false, &|s| {
            s.p99_us as f64 / 1000.0
        }));
        latency_lines.push(per_second(format!("{} p50", r.name), true, &|s| {
            s.p50_us as f64 / 1000.0
        }));
        throughput_lines.push(per_second(r.name.clone(), false, &|s| s.deliveries as f64));
        ramp_lines.push(Line {
            name: r.name.clone(),
            colour,
            dashed: false,
            points: r
                .result
                .ramp
                .iter()
                .map(|p| (p.ms as f64 / 1000.0, p.connected as f64))
                .collect(),
        });
    }
    let latency = chart(
        "latency over time",
        charts::over_time(
            "Fan-out latency over time (p99 solid, p50 dashed)",
            "second of the measured run",
            "latency (ms)",
            &latency_lines,
        ),
    )?;
    let throughput = chart(
        "throughput",
        charts::over_time(
            "Deliveries per second",
            "second of the measured run",
            "deliveries",
            &throughput_lines,
        ),
    )?;
    let ramp = chart(
        "ramp",
        charts::over_time(
            "Connection ramp",
            "seconds since start",
            "connections open",
            &ramp_lines,
        ),
    )?;
    Ok([latency, throughput, ramp])
}

/// An outage and its recovery, per run that recorded members over time.
fn timelines(runs: &[Run]) -> Result<Vec<String>, HtmlError> {
    let mut timelines = Vec::new();
    for r in runs {
        if crate::timeline::has_timeline(&r.result.series) {
            let series = measured_series(r);
            let title = format!("Timeline: {}", r.name);
            // A workload's stages, marked where each after the first starts.
            let stages: Vec<(f64, &str)> = r
                .result
                .stages
                .iter()
                .skip(1)
                .filter_map(|s| Some((s.from_s?, s.name.as_str())))
                .collect();
            timelines.push(chart(
                "timeline",
                crate::timeline::timeline(&title, &series, &stages),
            )?);
        }
    }

    Ok(timelines)
}
