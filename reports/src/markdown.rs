//! `summary.md`: one Markdown table, runs side by side, made for a CI job summary or a pull
//! request comment.

use std::fmt::Write as _;

use crate::run::Run;

pub(crate) use run_result::display::ms;
use run_result::display::{ms_of, no_samples};
use run_result::result::Latency;
// Thousands separators make large counts readable in a table.
use run_result::display::thousands as count;

/// How a row's cell is read off one run.
type Cell = fn(&Run) -> String;

/// The rows of the table: a label and one cell per run. Churn, reconnect, worst-second and
/// interruption rows appear when any run has them (a run without shows "-").
pub(crate) fn rows(runs: &[Run]) -> Vec<(String, Vec<String>)> {
    let mut table = common_rows();
    table.extend(wire_rows());
    let any = |f: fn(&Run) -> bool| runs.iter().any(f);
    if any(|r| r.result.config.churn_session_s.is_some()) {
        table.extend(churn_rows());
    }
    if any(|r| r.result.config.reconnect_s.is_some()) {
        table.extend(reconnect_rows());
    }
    if any(|r| r.result.series.iter().any(|s| s.missing > 0)) {
        table.push(("worst second", worst_second));
    }
    if any(|r| r.result.interrupted) {
        table.push(("interrupted", |r| {
            if r.result.interrupted {
                "**yes**"
            } else {
                "no"
            }
            .into()
        }));
    }
    table
        .into_iter()
        .map(|(label, cell)| (label.to_owned(), runs.iter().map(cell).collect()))
        .collect()
}

/// The rows every table has.
fn common_rows() -> Vec<(&'static str, Cell)> {
    vec![
        ("target", |r| {
            let c = &r.result.config;
            let t = c.targets.join(", ");
            if c.embedded_server {
                format!("{t} (embedded reference server)")
            } else {
                t
            }
        }),
        ("plan", |r| {
            let c = &r.result.config;
            let messages = c
                .messages_shown()
                .map(|m| format!(", messages {m}"))
                .unwrap_or_default();
            format!(
                "{} rooms x {} clients, {} sender(s), {}/s per room, {}s{messages}",
                c.rooms, c.clients, c.senders, c.rate, c.duration_s
            )
        }),
        ("connections", |r| {
            let c = &r.result.summary.connections;
            format!(
                "{} of {} ({} failed)",
                count(c.established),
                count(c.planned),
                count(c.failed)
            )
        }),
        ("messages sent", |r| count(r.result.summary.sent)),
        ("delivered / expected", |r| {
            let s = &r.result.summary;
            format!("{} / {}", count(s.delivered), count(s.expected))
        }),
        ("missing (loss)", |r| {
            let s = &r.result.summary;
            format!("{} ({:.3} %)", count(s.missing), s.loss * 100.0)
        }),
        ("duplicates", |r| count(r.result.summary.duplicates)),
        ("reordered", |r| count(r.result.summary.reordered)),
        ("from another room", |r| count(r.result.summary.cross_room)),
        ("foreign frames", |r| count(r.result.summary.foreign)),
        ("deliveries/s", |r| {
            count(r.result.summary.deliveries_per_s.round() as u64)
        }),
        ("latency p50", |r| {
            latency(r, &r.result.summary.latency_us, false, |l| l.p50)
        }),
        ("latency p90", |r| {
            latency(r, &r.result.summary.latency_us, false, |l| l.p90)
        }),
        ("latency p99", |r| {
            latency(r, &r.result.summary.latency_us, false, |l| l.p99)
        }),
        ("latency p99.9", |r| {
            latency(r, &r.result.summary.latency_us, false, |l| l.p999)
        }),
        ("latency max", |r| {
            latency(r, &r.result.summary.latency_us, false, |l| l.max)
        }),
        ("first member p99", |r| {
            latency(r, &r.result.summary.first_us, true, |l| l.p99)
        }),
        ("whole room p99", |r| {
            latency(r, &r.result.summary.completion_us, true, |l| l.p99)
        }),
        ("connect p99", |r| {
            let l = &r.result.summary.connect_us;
            ms_of(l.count, l.p99)
        }),
        ("send lateness p99 (loadgen's own)", |r| {
            let l = &r.result.summary.send_lateness_us;
            ms_of(l.count, l.p99)
        }),
        ("thresholds", thresholds),
        ("server CPU s per million deliveries", |r| {
            r.result
                .server
                .as_ref()
                .map_or("-".into(), |s| format!("{:.2}", s.cpu_s_per_million))
        }),
        ("server resident bytes per connection", |r| {
            r.result
                .server
                .as_ref()
                .and_then(|s| s.bytes_per_connection)
                .map_or("-".into(), |b| count(b.round() as u64))
        }),
        ("client-bound (loadgen the bottleneck)", |r| {
            match &r.result.client {
                Some(c) if c.bound => "**yes**".into(),
                Some(_) => "no".into(),
                None => "-".into(),
            }
        }),
    ]
}

/// The sockets' bytes (`wire`): per delivery, and per second.
fn wire_rows() -> Vec<(&'static str, Cell)> {
    vec![
        ("bytes read per delivery", |r| {
            r.result.wire.as_ref().map_or("-".into(), |w| {
                let deflate = match (w.deflate_offered, w.deflate_agreed) {
                    (false, _) => "",
                    (true, 0) => " (deflate offered, not agreed)",
                    (true, _) => " (deflate)",
                };
                format!("{:.1}{deflate}", w.read_per_delivery)
            })
        }),
        ("MB/s read", |r| {
            r.result
                .wire
                .as_ref()
                .map_or("-".into(), |w| format!("{:.2}", w.read_per_s / 1e6))
        }),
    ]
}

/// `figure` of latency `l`, or "-" with the reason when it has no samples (`room_wide`: a
/// per-message latency, first member or whole room).
fn latency(r: &Run, l: &Latency, room_wide: bool, figure: fn(&Latency) -> u64) -> String {
    if l.count == 0 {
        let why = no_samples(&r.result.config, &r.result.summary, room_wide);
        format!("- ({why})")
    } else {
        ms(figure(l))
    }
}

fn thresholds(r: &Run) -> String {
    if r.result.thresholds.is_empty() {
        return "-".into();
    }
    // The user's bounds one by one; the core contract's defaults as one verdict, naming
    // those that failed.
    let mut cells: Vec<String> = r
        .result
        .thresholds
        .iter()
        .filter(|t| !t.default || !t.passed)
        .map(|t| {
            let verdict = if t.passed { "pass" } else { "**FAIL**" };
            format!("{verdict} {}", t.threshold)
        })
        .collect();
    let held = r
        .result
        .thresholds
        .iter()
        .filter(|t| t.default && t.passed)
        .count();
    if held > 0 {
        cells.push(format!("core contract: {held} held"));
    }
    cells.join("; ")
}

/// `f`'s figure for a run with churn, "-" for one without.
fn with_churn(r: &Run, f: Cell) -> String {
    match r.result.config.churn_session_s {
        Some(_) => f(r),
        None => "-".into(),
    }
}

fn churn_rows() -> [(&'static str, Cell); 3] {
    [
        ("churn: leaves (mean stay)", |r| {
            with_churn(r, |r| {
                format!(
                    "{} ({:.1} s)",
                    count(r.result.summary.leaves),
                    r.result.config.churn_session_s.unwrap_or_default()
                )
            })
        }),
        ("churn: delivered outside membership", |r| {
            with_churn(r, |r| count(r.result.summary.outside_membership))
        }),
        ("churn: join p99", |r| {
            with_churn(r, |r| {
                let l = &r.result.summary.join_us;
                ms_of(l.count, l.p99)
            })
        }),
    ]
}

/// `f`'s figure for a run with --reconnect, "-" for one without.
fn with_reconnect(r: &Run, f: Cell) -> String {
    match r.result.config.reconnect_s {
        Some(_) => f(r),
        None => "-".into(),
    }
}

fn reconnect_rows() -> [(&'static str, Cell); 2] {
    [
        ("reconnects (away)", |r| {
            with_reconnect(r, |r| {
                let s = &r.result.summary;
                format!(
                    "{} ({} deliveries away)",
                    count(s.reconnects.values().sum()),
                    count(s.away)
                )
            })
        }),
        ("lost to first delivery p99", |r| {
            with_reconnect(r, |r| {
                let l = &r.result.summary.reconnect_us;
                ms_of(l.count, l.p99)
            })
        }),
    ]
}

/// The measured second that lost the most deliveries.
fn worst_second(r: &Run) -> String {
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
