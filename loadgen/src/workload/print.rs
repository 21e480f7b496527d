//! A workload as the TOML that [`super::file`] reads back to the same workload
//! (`--print-workload`, and the result's `config.workload`).

use std::fmt::Write as _;
use std::time::Duration;

use super::{Activity, Members, Rate, Workload};
use crate::dist::Dist;
use stamp::Fill;

/// The workload's TOML.
pub fn to_toml(w: &Workload) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# loadgen workload (docs/loadgen.md, \"Workloads\")");
    let _ = writeln!(out, "seed = {}", w.seed);
    let _ = writeln!(out, "warmup = {}", duration(w.warmup));
    let _ = writeln!(out, "settle = {}", duration(w.settle));
    if !w.thresholds.is_empty() {
        let list: Vec<String> = w.thresholds.iter().map(|t| quoted(&t.text)).collect();
        let _ = writeln!(out, "thresholds = [{}]", list.join(", "));
    }
    if let Some(r) = w.reconnect {
        let _ = writeln!(out, "\n[reconnect]");
        let _ = writeln!(out, "min = {}", duration(r.min));
        let _ = writeln!(out, "max = {}", duration(r.max));
    }
    for g in &w.groups {
        let _ = writeln!(out, "\n[[group]]");
        let _ = writeln!(out, "name = {}", quoted(&g.name));
        match &g.members {
            Members::List(list) => {
                let sizes: Vec<String> = list.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "members = [{}]", sizes.join(", "));
            }
            Members::Drawn(d) => {
                let _ = writeln!(out, "rooms = {}", g.rooms);
                let _ = writeln!(out, "members = {}", dist(d));
            }
        }
        let _ = writeln!(out, "senders = {}", g.senders);
        if g.activity != Activity::Even {
            let _ = writeln!(out, "activity = {}", quoted(&g.activity.to_string()));
        }
        match &g.rate {
            Rate::PerSecond(r) => {
                let _ = writeln!(out, "rate = {}", float(*r));
            }
            Rate::PerMinute(d) => {
                let _ = writeln!(out, "rate_per_minute = {}", dist(d));
            }
        }
        let _ = writeln!(out, "arrival = {}", quoted(&g.arrival.to_string()));
        let _ = writeln!(out, "size = {}", dist(&g.size));
        if g.text != Fill::X {
            let _ = writeln!(out, "text = {}", quoted(&g.text.to_string()));
        }
        if let Some(s) = g.session {
            let _ = writeln!(out, "session = {}", duration(s));
        }
        if g.replies > 0.0 {
            let _ = writeln!(out, "replies = {}", float(g.replies));
        }
        if let Some(impair) = g.impair {
            let _ = writeln!(out, "impair = {}", quoted(&impair.to_string()));
        }
        if let Some(slow) = g.slow_readers {
            let _ = writeln!(out, "slow_readers = {}", quoted(&slow.to_string()));
        }
    }
    for s in &w.stages {
        let _ = writeln!(out, "\n[[stage]]");
        let _ = writeln!(out, "name = {}", quoted(&s.name));
        let _ = writeln!(out, "duration = {}", duration(s.duration));
        let _ = writeln!(out, "rate = {}", float(s.rate));
        if !s.ramp.is_zero() {
            let _ = writeln!(out, "ramp = {}", duration(s.ramp));
        }
        if s.members < 1.0 {
            let _ = writeln!(out, "members = {}", s.members);
        }
    }
    out
}

fn quoted(s: &str) -> String {
    // A TOML basic string is a JSON string for everything written here.
    serde_json::to_string(s).unwrap_or_default()
}

fn duration(d: Duration) -> String {
    quoted(&humantime::format_duration(d).to_string())
}

fn dist(d: &Dist) -> String {
    match d {
        Dist::Fixed(v) => v.to_string(),
        other => quoted(&other.to_string()),
    }
}

/// A float TOML reads back as one (`10.0`, not `10`).
fn float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::file::parse;

    #[test]
    fn a_printed_workload_reads_back_the_same() {
        let text = r#"
            seed = 9
            warmup = "1s"
            thresholds = ["p99<250ms"]
            [[group]]
            name = "hot"
            members = [5000]
            senders = "1%"
            activity = "zipf:1.1"
            rate = 2.5
            arrival = "onoff:on=2s,off=10s"
            size = "lognormal:median=80,sigma=1,max=4096"
            text = "words"
            [[group]]
            name = "tail"
            rooms = 300
            members = "zipf:s=1.3,min=2,max=200"
            rate_per_minute = "uniform:1..30"
            session = "20s"
            replies = 0.25
            slow_readers = "5%:64KiB"
            impair = "10%:rtt=80ms,jitter=20ms,loss=1%,rate=1mbit"
            [reconnect]
            min = "50ms"
            max = "2s"
            [[stage]]
            name = "calm"
            duration = "5s"
            [[stage]]
            name = "spike"
            duration = "4s"
            rate = 10
            ramp = "1s"
            members = "35%"
            [[stage]]
            name = "back"
            duration = "3s"
            members = 1
        "#;
        let w = parse(text).expect("valid");
        let printed = to_toml(&w);
        assert_eq!(parse(&printed).expect("reads back"), w, "{printed}");
    }
}
