//! Synthetic loadgen results with known contents, built with the result crate's own code.
#![allow(dead_code)]

pub mod cli;

use std::path::{Path, PathBuf};

use run_result::histogram::record;
use run_result::result::{self, Arrival, RampPoint, RunResult};
use run_result::threshold::Held;
use run_result::{Parts, Threshold, Totals};

/// Stats with deliveries of latency `base_us + i * step_us` for i in 0..n, spread over
/// `seconds` seconds.
pub fn stats(n: u64, base_us: u64, step_us: u64, seconds: usize) -> Totals {
    let mut s = Totals::default();
    for i in 0..n {
        let us = base_us + i * step_us;
        record(&mut s.latency, us);
        record(&mut s.latency_sent, us / 2 + 1);
        let second = (i as usize * seconds) / n.max(1) as usize;
        let bucket = s.second(second);
        bucket.deliveries += 1;
        record(&mut bucket.latency, us);
        if i % 10 == 0 {
            record(&mut s.first, us / 2);
            record(&mut s.completion, us + 100);
            record(&mut s.send_lateness, 50);
            s.sent += 1;
            s.second(second).sends += 1;
        }
    }
    for i in 0..20 {
        record(&mut s.connect, 200 + i * 10);
    }
    s.delivered = n;
    s.expected = n;
    s.connected = 20;
    s
}

/// A complete result around `stats`, with fixed metadata so renders are reproducible.
pub fn result(stats: &Totals, thresholds: &[&str]) -> RunResult {
    let thresholds: Vec<Held> = thresholds
        .iter()
        .map(|t| Held {
            threshold: t.parse::<Threshold>().expect("a valid threshold"),
            default: false,
        })
        .collect();
    RunResult::assemble(Parts {
        totals: stats,
        // As `loadgen --rooms 2 --clients 10 --duration 3s` records it.
        config: result::Config {
            targets: vec!["http://127.0.0.1:8000".into()],
            embedded_server: false,
            rooms: 2,
            clients: 10,
            senders: 1,
            rate: 10.0,
            arrival: Arrival::Fixed,
            duration_s: 3.0,
            warmup_s: 2.0,
            settle_s: 2.0,
            connect_rate: 2000.0,
            size: 64,
            sizes: None,
            text: None,
            seed: 1,
            source_ips: vec!["127.0.0.1".into()],
            workers: 2,
            ws_path: "/ws/chat/{room}/".into(),
            room_style: "word".into(),
            headers: Vec::new(),
            churn_session_s: None,
            replies: None,
            reconnect_s: None,
            workload: None,
            workload_file: None,
        },
        machine: result::Machine {
            hostname: "test".into(),
            os: "linux".into(),
            arch: "x86_64".into(),
            cpus: 2,
        },
        started_at: "2026-11-25T00:00:00Z".into(),
        interrupted: false,
        planned: 20,
        measured_s: 3.0,
        thresholds: &thresholds,
        ramp: vec![
            RampPoint {
                ms: 0,
                connected: 0,
                failed: 0,
            },
            RampPoint {
                ms: 100,
                connected: 12,
                failed: 0,
            },
            RampPoint {
                ms: 200,
                connected: 20,
                failed: 0,
            },
        ],
        breakdown: &Default::default(),
    })
}

pub fn write(dir: &Path, name: &str, result: &RunResult) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(result).expect("serialise"),
    )
    .expect("write");
    path
}
