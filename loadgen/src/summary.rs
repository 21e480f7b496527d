//! The human summary printed at the end of a run.

use std::fmt::Write as _;

use run_result::RunResult;
use run_result::result::Latency;

use run_result::display::{ms_of, no_samples};

/// One latency's row; a histogram without samples shows "-" and `why`, never 0.
fn latency_row(out: &mut String, name: &str, l: &Latency, why: &str) {
    let samples = if l.count == 0 {
        format!("(no samples: {why})")
    } else {
        format!("({} samples)", l.count)
    };
    let _ = writeln!(
        out,
        "  {name:<22} {:>10} {:>10} {:>10} {:>10} {:>10}  {samples}",
        ms_of(l.count, l.p50),
        ms_of(l.count, l.p90),
        ms_of(l.count, l.p99),
        ms_of(l.count, l.p999),
        ms_of(l.count, l.max),
    );
}

/// The measured second that lost the most deliveries, when any did: when, how many, and
/// the members connected then.
pub fn worst_second(r: &RunResult) -> Option<String> {
    let worst = r
        .series
        .iter()
        .filter(|s| s.missing > 0)
        .max_by_key(|s| (s.missing, std::cmp::Reverse(s.second)))?;
    let seconds = r.series.iter().filter(|s| s.missing > 0).count();
    Some(format!(
        "Worst second {}: {} deliveries missing ({} connected, {} reconnects); {} second{} lost \
         deliveries",
        worst.second,
        worst.missing,
        worst.connected,
        worst.reconnects,
        seconds,
        if seconds == 1 { "" } else { "s" }
    ))
}

/// The summary as text: what ran, the counts, the latencies, what went wrong, the verdicts.
pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    heading(&mut out, r);
    counts(&mut out, r);
    latencies(&mut out, r);
    crate::breakdown::render(&mut out, r);
    client(&mut out, r);
    problems(&mut out, r);
    thresholds(&mut out, r);
    out
}

/// What ran against what: the plan, the shard, a merge, an interruption.
fn heading(out: &mut String, r: &RunResult) {
    let c = &r.config;
    if let Some(file) = &c.workload_file {
        let _ = writeln!(
            out,
            "loadgen: workload {file}: {} rooms in {} group{} (the largest of {} members), {} \
             stage{} over {:.0}s, against {}{}",
            c.rooms,
            r.groups.len(),
            if r.groups.len() == 1 { "" } else { "s" },
            c.clients,
            r.stages.len(),
            if r.stages.len() == 1 { "" } else { "s" },
            c.duration_s,
            c.targets.join(", "),
            if c.embedded_server {
                " (embedded reference server)"
            } else {
                ""
            }
        );
    } else {
        grid_heading(out, r);
    }
    heading_rest(out, r);
}

/// A run of flags: the grid.
fn grid_heading(out: &mut String, r: &RunResult) {
    let c = &r.config;
    let _ = writeln!(
        out,
        "loadgen: {} rooms x {} clients ({} sender{} each) at {}/s per room for {:.0}s against {}{}",
        c.rooms,
        c.clients,
        c.senders,
        if c.senders == 1 { "" } else { "s" },
        c.rate,
        c.duration_s,
        c.targets.join(", "),
        if c.embedded_server {
            " (embedded reference server)"
        } else {
            ""
        }
    );
}

/// The messages, the shard, a merge, an interruption.
fn heading_rest(out: &mut String, r: &RunResult) {
    let c = &r.config;
    if let Some(messages) = c.messages_shown() {
        let _ = writeln!(out, "messages: {messages}");
    }
    if let Some(shard) = &r.shard {
        let _ = writeln!(
            out,
            "shard {}/{} of plan {}: {} of the {} rooms{}{}",
            shard.index,
            shard.count,
            shard.plan_id,
            shard.rooms,
            c.rooms,
            shard
                .start_at
                .as_ref()
                .map(|t| format!(", start at {t}"))
                .unwrap_or_default(),
            if shard.late_ms > 0 {
                format!(" (started {} ms late)", shard.late_ms)
            } else {
                String::new()
            }
        );
    }
    if let Some(m) = &r.merged_shards {
        let _ = writeln!(out, "merged {m}");
    }
    if r.interrupted {
        let _ = writeln!(out, "INTERRUPTED: the figures cover only what ran.");
    }
    if let Some(why) = &r.aborted {
        let _ = writeln!(
            out,
            "ABORTED (--abort-on): {why}; the figures cover only what ran."
        );
    }
}

/// Connections, messages, loss, churn and reconnects, the worst second.
fn counts(out: &mut String, r: &RunResult) {
    let s = &r.summary;
    let c = &r.config;
    let _ = writeln!(
        out,
        "\nConnections  {} established, {} failed of {}",
        s.connections.established, s.connections.failed, s.connections.planned
    );
    let _ = writeln!(
        out,
        "Messages     {} sent, {} deliveries expected, {} delivered ({:.0}/s)",
        s.sent, s.expected, s.delivered, s.deliveries_per_s
    );
    let _ = writeln!(
        out,
        "Loss         {} missing ({:.3} %), {} duplicates, {} reordered, {} from another room, \
         {} foreign frames",
        s.missing,
        s.loss * 100.0,
        s.duplicates,
        s.reordered,
        s.cross_room,
        s.foreign
    );
    let _ = writeln!(
        out,
        "Order        {} pairs of a room's messages two members received in opposite orders",
        s.order_conflicts
    );
    if let Some(w) = &s.order_witness {
        let _ = writeln!(out, "             first: {w}");
    }
    if let Some(replies) = c.replies {
        let _ = writeln!(
            out,
            "Causality    {} answers received before the message they answer ({:.0} % of \
             received messages answered)",
            s.causal_violations,
            replies * 100.0
        );
        if let Some(w) = &s.causal_witness {
            let _ = writeln!(out, "             first: {w}");
        }
        if s.causal_unchecked > 0 {
            let _ = writeln!(
                out,
                "             {} answers not checked: they came before their question while                  their member already waited for {} questions",
                s.causal_unchecked,
                crate::causal::PENDING
            );
        }
    }
    if let Some(stay) = c.churn_session_s {
        let _ = writeln!(
            out,
            "Churn        {} leaves and rejoins (mean stay {stay:.1} s), {} delivered outside \
             membership; missing counts messages sent while a member was in its room",
            s.leaves, s.outside_membership
        );
    }
    if c.reconnect_s.is_some() {
        let lost: u64 = s.reconnects.values().sum();
        let causes: Vec<String> = s
            .reconnects
            .iter()
            .map(|(cause, n)| format!("{n} x {cause}"))
            .collect();
        let _ = writeln!(
            out,
            "Reconnects   {lost} connections lost and reconnected{}; {} deliveries sent while \
             members were away (not expected); missing counts messages sent while a member was \
             connected",
            if causes.is_empty() {
                String::new()
            } else {
                format!(" ({})", causes.join(", "))
            },
            s.away
        );
    }
    if let Some(worst) = worst_second(r) {
        let _ = writeln!(out, "{worst}");
    }
}

/// The latency table: fan-out, connect and its steps, joins, reconnects, our lateness.
fn latencies(out: &mut String, r: &RunResult) {
    let s = &r.summary;
    let c = &r.config;
    let _ = writeln!(
        out,
        "\n  {:<22} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency", "p50", "p90", "p99", "p99.9", "max"
    );
    let (each, room) = (no_samples(c, s, false), no_samples(c, s, true));
    latency_row(out, "fan-out (scheduled)", &s.latency_us, each);
    latency_row(out, "fan-out (actual send)", &s.latency_sent_us, each);
    // With churn the room has no fixed membership to complete.
    if c.churn_session_s.is_none() {
        latency_row(out, "first member", &s.first_us, room);
        latency_row(out, "whole room", &s.completion_us, room);
    }
    let none = "nothing connected";
    latency_row(out, "connect", &s.connect_us, none);
    latency_row(out, "  TCP", &s.tcp_connect_us, none);
    if s.tls_handshake_us.count > 0 {
        latency_row(out, "  TLS handshake", &s.tls_handshake_us, none);
    }
    latency_row(out, "  WebSocket upgrade", &s.upgrade_us, none);
    if c.churn_session_s.is_some() {
        latency_row(
            out,
            "join (to 1st delivery)",
            &s.join_us,
            "no rejoin had a delivery",
        );
    }
    if c.reconnect_s.is_some() {
        let why = "no connection was lost, or none had a delivery after";
        latency_row(out, "lost to 1st delivery", &s.reconnect_us, why);
    }
    latency_row(
        out,
        "send lateness (ours)",
        &s.send_lateness_us,
        "nothing sent",
    );
}

/// loadgen's own load, and whether it limited the run; the server's cost when read.
fn client(out: &mut String, r: &RunResult) {
    if let Some(s) = &r.server {
        let memory = s
            .bytes_per_connection
            .map(|b| format!(", {:.1} KiB resident per connection", b / 1024.0))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\nServer       {:.2} CPU s per million deliveries ({:.2} CPU s){memory}; from {}",
            s.cpu_s_per_million, s.cpu_s, s.source
        );
    }
    if let Some(w) = &r.wire {
        let deflate = match (w.deflate_offered, w.deflate_agreed) {
            (false, _) => "permessage-deflate not offered".to_owned(),
            (true, 0) => "permessage-deflate offered, agreed on no connection".to_owned(),
            (true, n) => format!(
                "permessage-deflate agreed on {n} connection{}, {} messages inflated from {} to \
                 {} bytes",
                if n == 1 { "" } else { "s" },
                w.inflated_messages,
                w.inflated_from_bytes,
                w.inflated_to_bytes
            ),
        };
        let _ = writeln!(
            out,
            "\nWire         {:.1} B read per delivery, {:.2} MB/s read, {:.2} MB written in the \
             window; {deflate}",
            w.read_per_delivery,
            w.read_per_s / 1e6,
            w.written_bytes as f64 / 1e6
        );
    }
    let Some(c) = &r.client else { return };
    let _ = writeln!(
        out,
        "\nClient       {} worker thread{}, {:.2} CPU s; the busiest ran {:.0} % and waited for a \
         CPU {:.0} % of the window",
        c.workers,
        if c.workers == 1 { "" } else { "s" },
        c.cpu_s,
        c.running * 100.0,
        c.waiting * 100.0
    );
    if let Some(reason) = c.reason.as_deref().filter(|_| c.bound) {
        let _ = writeln!(
            out,
            "CLIENT-BOUND: {reason}. loadgen, not the server, limited this run: give it more \
             CPU (a machine of its own, --workers, shards) before reading the latency as the \
             server's."
        );
    }
}

/// Close codes from the server and errors by kind.
fn problems(out: &mut String, r: &RunResult) {
    let s = &r.summary;
    if !s.closes.is_empty() {
        let closes: Vec<String> = s.closes.iter().map(|(c, n)| format!("{c}: {n}")).collect();
        let _ = writeln!(out, "\nClose codes from the server: {}", closes.join(", "));
    }
    if !s.errors.is_empty() {
        let _ = writeln!(out, "\nErrors:");
        for (kind, n) in &s.errors {
            let _ = writeln!(out, "  {n:>8}  {kind}");
        }
    }
}

/// Each threshold with its verdict and the actual figure.
fn thresholds(out: &mut String, r: &RunResult) {
    if !r.thresholds.is_empty() {
        let defaults = r.thresholds.iter().filter(|t| t.default).count();
        let _ = writeln!(
            out,
            "\nThresholds{}:",
            if defaults > 0 {
                " ([core]: the core contract's defaults; a --threshold on the metric replaces one, \
                 --relax METRIC drops one)"
            } else {
                ""
            }
        );
        for t in &r.thresholds {
            let _ = writeln!(
                out,
                "  {:<4} {} (actual {}){}",
                if t.passed { "ok" } else { "FAIL" },
                t.threshold,
                t.actual_shown(),
                if t.default { "  [core]" } else { "" }
            );
        }
    }
}
