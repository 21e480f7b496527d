//! `summary.md`: one Markdown table, runs side by side, made for a CI job summary or a pull
//! request comment.

use std::fmt::Write as _;

use crate::run::Run;

pub(crate) use run_result::display::ms;
// Thousands separators make large counts readable in a table.
use run_result::display::thousands as count;

/// The rows of the table: a label and one cell per run.
pub(crate) fn rows(runs: &[Run]) -> Vec<(String, Vec<String>)> {
    let cell = |f: &dyn Fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![
        (
            "target".into(),
            cell(&|r| {
                let c = &r.result.config;
                let t = c.targets.join(", ");
                if c.embedded_server {
                    format!("{t} (embedded reference server)")
                } else {
                    t
                }
            }),
        ),
        (
            "plan".into(),
            cell(&|r| {
                let c = &r.result.config;
                format!(
                    "{} rooms x {} clients, {} sender(s), {}/s per room, {}s",
                    c.rooms, c.clients, c.senders, c.rate, c.duration_s
                )
            }),
        ),
        (
            "connections".into(),
            cell(&|r| {
                let c = &r.result.summary.connections;
                format!(
                    "{} of {} ({} failed)",
                    count(c.established),
                    count(c.planned),
                    count(c.failed)
                )
            }),
        ),
        (
            "messages sent".into(),
            cell(&|r| count(r.result.summary.sent)),
        ),
        (
            "delivered / expected".into(),
            cell(&|r| {
                let s = &r.result.summary;
                format!("{} / {}", count(s.delivered), count(s.expected))
            }),
        ),
        (
            "missing (loss)".into(),
            cell(&|r| {
                let s = &r.result.summary;
                format!("{} ({:.3} %)", count(s.missing), s.loss * 100.0)
            }),
        ),
        (
            "duplicates".into(),
            cell(&|r| count(r.result.summary.duplicates)),
        ),
        (
            "reordered".into(),
            cell(&|r| count(r.result.summary.reordered)),
        ),
        (
            "from another room".into(),
            cell(&|r| count(r.result.summary.cross_room)),
        ),
        (
            "deliveries/s".into(),
            cell(&|r| count(r.result.summary.deliveries_per_s.round() as u64)),
        ),
        (
            "latency p50".into(),
            cell(&|r| ms(r.result.summary.latency_us.p50)),
        ),
        (
            "latency p90".into(),
            cell(&|r| ms(r.result.summary.latency_us.p90)),
        ),
        (
            "latency p99".into(),
            cell(&|r| ms(r.result.summary.latency_us.p99)),
        ),
        (
            "latency p99.9".into(),
            cell(&|r| ms(r.result.summary.latency_us.p999)),
        ),
        (
            "latency max".into(),
            cell(&|r| ms(r.result.summary.latency_us.max)),
        ),
        (
            "whole room p99".into(),
            cell(&|r| ms(r.result.summary.completion_us.p99)),
        ),
        (
            "connect p99".into(),
            cell(&|r| ms(r.result.summary.connect_us.p99)),
        ),
        (
            "send lateness p99 (loadgen's own)".into(),
            cell(&|r| ms(r.result.summary.send_lateness_us.p99)),
        ),
        (
            "thresholds".into(),
            cell(&|r| {
                if r.result.thresholds.is_empty() {
                    "-".into()
                } else {
                    r.result
                        .thresholds
                        .iter()
                        .map(|t| {
                            format!(
                                "{} {}",
                                if t.passed { "pass" } else { "**FAIL**" },
                                t.threshold
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            }),
        ),
    ];
    // Churn's figures, when any run had churn (a run without shows "-").
    if runs
        .iter()
        .any(|r| r.result.config.churn_session_s.is_some())
    {
        let churn = |f: &dyn Fn(&Run) -> String| {
            cell(&|r| match r.result.config.churn_session_s {
                Some(_) => f(r),
                None => "-".into(),
            })
        };
        rows.push((
            "churn: leaves (mean stay)".into(),
            churn(&|r| {
                format!(
                    "{} ({:.1} s)",
                    count(r.result.summary.leaves),
                    r.result.config.churn_session_s.unwrap_or_default()
                )
            }),
        ));
        rows.push((
            "churn: delivered outside membership".into(),
            churn(&|r| count(r.result.summary.outside_membership)),
        ));
        rows.push((
            "churn: join p99".into(),
            churn(&|r| ms(r.result.summary.join_us.p99)),
        ));
    }
    // Reconnects and the worst second, when any run reconnected or lost deliveries.
    if runs.iter().any(|r| r.result.config.reconnect_s.is_some()) {
        rows.push((
            "reconnects (away)".into(),
            cell(&|r| match r.result.config.reconnect_s {
                Some(_) => {
                    let s = &r.result.summary;
                    format!(
                        "{} ({} deliveries away)",
                        count(s.reconnects.values().sum()),
                        count(s.away)
                    )
                }
                None => "-".into(),
            }),
        ));
        rows.push((
            "lost to first delivery p99".into(),
            cell(&|r| match r.result.config.reconnect_s {
                Some(_) => ms(r.result.summary.reconnect_us.p99),
                None => "-".into(),
            }),
        ));
    }
    if runs
        .iter()
        .any(|r| r.result.series.iter().any(|s| s.missing > 0))
    {
        rows.push((
            "worst second".into(),
            cell(&|r| {
                r.result
                    .series
                    .iter()
                    .filter(|s| s.missing > 0)
                    .max_by_key(|s| (s.missing, std::cmp::Reverse(s.second)))
                    .map_or("-".into(), |w| {
                        format!(
                            "second {}: {} missing, {} connected",
                            w.second,
                            count(w.missing),
                            count(w.connected)
                        )
                    })
            }),
        ));
    }
    if runs.iter().any(|r| r.result.interrupted) {
        rows.push((
            "interrupted".into(),
            cell(&|r| {
                if r.result.interrupted {
                    "**yes**".into()
                } else {
                    "no".into()
                }
            }),
        ));
    }
    rows
}

/// The whole `summary.md`.
pub fn render(runs: &[Run]) -> String {
    let mut out = String::from("## Fan-out latency\n\n");
    let _ = write!(out, "| |");
    for r in runs {
        let _ = write!(out, " {} |", r.name);
    }
    let _ = write!(out, "\n|---|");
    for _ in runs {
        let _ = write!(out, "---|");
    }
    out.push('\n');
    for (label, cells) in rows(runs) {
        let _ = writeln!(
            out,
            "| {label} | {} |",
            cells.join(" | ").replace('\n', " ")
        );
    }
    out.push_str(
        "\nLatency is per delivery, from the scheduled send time (free of coordinated \
         omission); whole room is until the last member present had the message.\n",
    );
    out
}
