//! Synthetic loadgen results with known contents, built with loadgen's own result code.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use clap::Parser as _;
use loadgen::result::{self, RampPoint, RunResult};
use loadgen::stats::{self, WorkerStats};

/// Stats with deliveries of latency `base_us + i * step_us` for i in 0..n, spread over
/// `seconds` seconds.
pub fn stats(n: u64, base_us: u64, step_us: u64, seconds: usize) -> WorkerStats {
    let mut s = WorkerStats::default();
    for i in 0..n {
        let us = base_us + i * step_us;
        stats::record(&mut s.latency, us);
        stats::record(&mut s.latency_sent, us / 2 + 1);
        let second = (i as usize * seconds) / n.max(1) as usize;
        let bucket = s.second(second);
        bucket.deliveries += 1;
        stats::record(&mut bucket.latency, us);
        if i % 10 == 0 {
            stats::record(&mut s.completion, us + 100);
            s.sent += 1;
            s.second(second).sends += 1;
        }
    }
    for i in 0..20 {
        stats::record(&mut s.connect, 200 + i * 10);
    }
    s.delivered = n;
    s.expected = n;
    s.connected = 20;
    s
}

/// A complete result around `stats`, with fixed metadata so renders are reproducible.
pub fn result(stats: &WorkerStats, thresholds: &[&str]) -> RunResult {
    let mut args = vec![
        "loadgen",
        "--rooms",
        "2",
        "--clients",
        "10",
        "--duration",
        "3s",
    ];
    for t in thresholds {
        args.push("--threshold");
        args.push(t);
    }
    let opts = loadgen::Opts::try_parse_from(args).expect("flags");
    RunResult::assemble(result::Parts {
        stats,
        config: result::config(
            &opts,
            &["http://127.0.0.1:8000".into()],
            false,
            &["127.0.0.1".into()],
            2,
        ),
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
        thresholds: &opts.thresholds,
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
