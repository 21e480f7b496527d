//! `--workload FILE` (repeatable): each workload run against every server in turns, `--repeat`
//! rounds (round r starting with the r-th server), and per workload and server the medians of
//! deliveries/s, fan-out p99, whole-room p99 (all rooms, and the largest rooms' size class),
//! loss and the server's CPU seconds per million deliveries; beside the yardstick, the
//! round-by-round range of each ratio, so that a difference counts only beyond the noise.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;

use crate::Args;
use crate::server::{Sampler, Server};

/// A server's figures on one run of a workload.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_s: f64,
    p99_ms: f64,
    whole_p99_ms: f64,
    /// The whole-room p99 of the size class with the largest rooms.
    largest_p99_ms: f64,
    missing: u64,
    server_cpu: f64,
}

async fn measure(args: &Args, server: &Server, workload: &Path) -> anyhow::Result<Figures> {
    let mut argv = vec![
        "loadgen".to_owned(),
        "--quiet".into(),
        "--no-json".into(),
        "--target".into(),
        format!("http://127.0.0.1:{}", server.port),
        "--workload".into(),
        workload.display().to_string(),
    ];
    if let Some(n) = args.loadgen_workers {
        argv.extend(["--workers".to_owned(), n.to_string()]);
    }
    let opts = loadgen::Opts::try_parse_from(argv)?;
    let sampler = Sampler::start(server.child.id().to_string());
    let origin = Instant::now();
    let r = loadgen::run(opts)
        .await
        .with_context(|| format!("{} on {}", workload.display(), server.name))?;
    // The measured window on this clock, as for a step (`measure` in main.rs).
    let ramp_end = Duration::from_millis(r.ramp.last().map_or(0, |p| p.ms));
    let warmup = Duration::from_secs_f64(r.config.warmup_s);
    let from = origin + ramp_end + Duration::from_millis(50) + warmup;
    let to = from + Duration::from_secs_f64(r.summary.measured_s);
    let (server_cpu, _) = sampler.between(from, to)?;
    let s = &r.summary;
    let ms = |us: u64| us as f64 / 1000.0;
    let largest = r.size_classes.last().map_or(0, |c| c.completion_us.p99);
    Ok(Figures {
        deliveries_per_s: s.deliveries_per_s,
        p99_ms: ms(s.latency_us.p99),
        whole_p99_ms: ms(s.completion_us.p99),
        largest_p99_ms: ms(largest),
        missing: s.missing + s.connections.failed,
        server_cpu: server_cpu / (s.delivered as f64 / 1e6).max(1e-9),
    })
}

fn medians(runs: &[Figures]) -> Figures {
    let of = |f: fn(&Figures) -> f64| crate::median(runs.iter().map(f).collect());
    Figures {
        deliveries_per_s: of(|r| r.deliveries_per_s),
        p99_ms: of(|r| r.p99_ms),
        whole_p99_ms: of(|r| r.whole_p99_ms),
        largest_p99_ms: of(|r| r.largest_p99_ms),
        missing: of(|r| r.missing as f64) as u64,
        server_cpu: of(|r| r.server_cpu),
    }
}

/// The lowest and highest of `f(run) / f(yardstick's run)` over the rounds.
fn range(runs: &[Figures], yardstick: &[Figures], f: fn(&Figures) -> f64) -> (f64, f64) {
    runs.iter()
        .zip(yardstick)
        .map(|(m, y)| f(m) / f(y))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        })
}

/// Latency within this share above the yardstick's is level (the spread of repeated runs on
/// this shared machine), as for the steps.
const LEVEL: f64 = 1.05;

/// Every workload against every server, a Markdown table; then the verdicts.
pub async fn table(args: &Args, servers: &[Server]) -> anyhow::Result<()> {
    println!(
        "workloads against {}, median of {} round(s), servers taking turns",
        args.servers.join(", "),
        args.repeat
    );
    println!(
        "| workload | server | deliveries/s | p99 ms | whole room p99 ms | largest rooms' whole p99 ms | \
         lost | server CPU s/M | whole p99 / largest p99 / CPU vs yardstick, round by round |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let yardstick = servers.iter().position(|s| s.name == "yardstick");
    let mut behind = Vec::new();
    for workload in &args.workload {
        let mut runs = vec![Vec::with_capacity(args.repeat); servers.len()];
        for round in 0..args.repeat {
            for k in 0..servers.len() {
                let i = (round + k) % servers.len();
                let figures = measure(args, &servers[i], workload).await?;
                eprintln!(
                    "{} round {round}: {}: whole p99 {:.2} ms, CPU {:.2} s/M",
                    workload.display(),
                    servers[i].name,
                    figures.whole_p99_ms,
                    figures.server_cpu
                );
                runs[i].push(figures);
            }
        }
        let name = workload.file_stem().map_or_else(
            || workload.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        for (i, server) in servers.iter().enumerate() {
            let m = medians(&runs[i]);
            let versus = match yardstick {
                Some(y) if y != i => {
                    let whole = range(&runs[i], &runs[y], |r| r.whole_p99_ms);
                    let largest = range(&runs[i], &runs[y], |r| r.largest_p99_ms);
                    let cpu = range(&runs[i], &runs[y], |r| r.server_cpu);
                    for (what, (lo, _)) in
                        [("whole p99", whole), ("largest p99", largest), ("CPU", cpu)]
                    {
                        if lo > LEVEL {
                            behind.push(format!(
                                "{}: {name}: behind on {what} in every round",
                                server.name
                            ));
                        }
                    }
                    format!(
                        "{:.2}-{:.2} / {:.2}-{:.2} / {:.2}-{:.2}",
                        whole.0, whole.1, largest.0, largest.1, cpu.0, cpu.1
                    )
                }
                _ => "-".to_owned(),
            };
            println!(
                "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {versus} |",
                server.name,
                m.deliveries_per_s,
                m.p99_ms,
                m.whole_p99_ms,
                m.largest_p99_ms,
                m.missing,
                m.server_cpu
            );
        }
    }
    if yardstick.is_some() {
        if behind.is_empty() {
            println!("\nbehind the yardstick beyond the noise (in every round): nowhere");
        } else {
            println!("\nbehind the yardstick beyond the noise (in every round):");
            for line in behind {
                println!("- {line}");
            }
        }
    }
    Ok(())
}
