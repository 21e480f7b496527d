//! The coordinator: plan, connect, warm up, measure, settle, merge.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use tokio::sync::watch;

use crate::embedded::EmbeddedServer;
use crate::message::MIN_SIZE;
use crate::opts::Opts;
use crate::progress::Progress;
use crate::result;
use crate::shared::{Schedule, Shared};
use crate::target::{PORTS_PER_SOURCE, SourceIps, Target};
use crate::worker::{self, ConnPlan, SendPlan, WorkerPlan};
use run_result::Totals;
use run_result::result::RampPoint;
use run_result::{Parts, RunResult};

/// Descriptors kept aside for everything that is not a connection.
const SPARE_FDS: u64 = 256;
/// How often the coordinator looks at the counters (progress, settle, Ctrl-C).
const TICK: Duration = Duration::from_millis(100);

/// Runs the whole plan and returns the result. Ctrl-C ends it early with `interrupted` set.
pub async fn run(opts: Opts) -> anyhow::Result<RunResult> {
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let connections = opts.connections();
    if opts.senders > opts.clients {
        bail!(
            "--senders {} is more than --clients {}: senders are members of the room",
            opts.senders,
            opts.clients
        );
    }
    if opts.size < MIN_SIZE {
        bail!(
            "--size {} is too small: each message needs {MIN_SIZE} bytes for its stamp",
            opts.size
        );
    }

    let fd_limit = rlimit::increase_nofile_limit(u64::MAX).context("raise the open-files limit")?;
    let embedded = opts.targets.is_empty();
    let needed = connections * if embedded { 2 } else { 1 } + SPARE_FDS;
    if needed > fd_limit {
        bail!(
            "this plan needs about {needed} open files ({connections} connections{}) but this \
             process may open {fd_limit}; use fewer --rooms or --clients{}",
            if embedded {
                ", two each since the embedded server holds the other end"
            } else {
                ""
            },
            if embedded {
                ", or run the server as its own process and pass --target"
            } else {
                ", or run several loadgen processes and merge their results"
            }
        );
    }

    let workers = opts
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let server = if embedded {
        Some(EmbeddedServer::start(connections, workers)?)
    } else {
        None
    };
    let targets: Vec<Target> = match &server {
        Some(s) => vec![Target::from_addr(s.addr)],
        None => opts.targets.clone(),
    };
    let per_target = connections.div_ceil(targets.len() as u64);
    let sources = opts
        .source_ip
        .clone()
        .unwrap_or_else(|| SourceIps::automatic(per_target));
    if per_target.div_ceil(sources.0.len() as u64) > PORTS_PER_SOURCE {
        bail!(
            "{per_target} connections to one target need more than {} source addresses \
             ({PORTS_PER_SOURCE} ports each); widen --source-ip",
            sources.0.len()
        );
    }

    let bind_sources = opts.source_ip.is_some() || sources.0.len() > 1;
    let run_id: u32 = {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        (opts.seed as u32) ^ nanos ^ std::process::id()
    };
    let rate_per_sender = opts.rate / f64::from(opts.senders);
    let sending_s = (opts.warmup + opts.duration).as_secs_f64();
    let slots_per_sender = (sending_s * rate_per_sender * 1.5 + 64.0).min(u32::MAX as f64) as u32;
    let slots = u64::from(opts.rooms) * u64::from(opts.senders) * u64::from(slots_per_sender);
    if slots > 400_000_000 {
        bail!("the plan sends more than {slots} messages; shorten --duration or lower --rate");
    }

    let (schedule_tx, schedule_rx) = watch::channel(None);
    let shared = Arc::new(Shared::new(
        opts.rooms,
        opts.senders,
        slots_per_sender,
        schedule_rx,
    ));
    let send = SendPlan {
        rate: rate_per_sender,
        arrival: opts.arrival,
        size: opts.size,
        seed: opts.seed,
        senders: opts.senders,
        rooms: opts.rooms,
    };
    let mut plans: Vec<WorkerPlan> = (0..workers)
        .map(|_| WorkerPlan {
            conns: Vec::new(),
            send: send.clone(),
            connect_timeout: opts.connect_timeout,
        })
        .collect();
    // Connection i: rooms fill evenly as the ramp goes on; members spread over the targets.
    for i in 0..connections {
        let room = (i % u64::from(opts.rooms)) as u32;
        let member = (i / u64::from(opts.rooms)) as u32;
        let target = targets[member as usize % targets.len()].clone();
        plans[i as usize % workers].conns.push(ConnPlan {
            room,
            room_name: format!("lg{run_id:08x}_{room}"),
            sender: (member < opts.senders).then_some(member),
            target,
            // One default address: let connect() choose the port per destination. bind() to a
            // port-0 address picks from one range shared by every destination, which runs out
            // under TIME_WAIT long before the per-destination range does.
            source: (bind_sources).then(|| sources.0[i as usize % sources.0.len()]),
            connect_at_us: (i as f64 * 1e6 / opts.connect_rate) as u64,
        });
    }

    let threads: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(w, plan)| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("loadgen-{w}"))
                .spawn(move || worker::run(plan, shared))
        })
        .collect::<Result<_, _>>()
        .context("start the worker threads")?;

    let progress = Progress::new(opts.quiet);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;

    // Ramp-up, sampled every tick for the report's connection ramp.
    let bar = progress.connecting(connections);
    let mut ramp = Vec::new();
    loop {
        let connected = shared.connected.load(Ordering::Relaxed);
        let failed = shared.connect_failed.load(Ordering::Relaxed);
        ramp.push(RampPoint {
            ms: shared.clock.elapsed().as_millis() as u64,
            connected,
            failed,
        });
        bar.set_position(connected + failed);
        if failed > 0 {
            bar.set_message(format!("{failed} failed"));
        }
        if connected + failed >= connections {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => { interrupted = true; break; }
            () = tokio::time::sleep(TICK) => {}
        }
    }
    bar.finish();

    let mut measured_s = 0.0;
    if !interrupted && shared.connected.load(Ordering::Relaxed) > 0 {
        let now = shared.now_us();
        let schedule = Schedule {
            warmup_start_us: now + 50_000,
            measure_start_us: now + 50_000 + opts.warmup.as_micros() as u64,
            end_us: now + 50_000 + (opts.warmup + opts.duration).as_micros() as u64,
        };
        let _ = schedule_tx.send(Some(schedule));
        tracing::info!(
            connected = shared.connected.load(Ordering::Relaxed),
            "all connections made; sending"
        );
        let total_ms = (schedule.end_us - now) / 1000 + opts.settle.as_millis() as u64;
        let bar = progress.running(total_ms);
        let settle_end = schedule.end_us + opts.settle.as_micros() as u64;
        loop {
            let now = shared.now_us();
            let (sent, delivered, expected) = (
                shared.sent.load(Ordering::Relaxed),
                shared.delivered.load(Ordering::Relaxed),
                shared.expected.load(Ordering::Relaxed),
            );
            bar.set_prefix(if now < schedule.measure_start_us {
                "warm-up"
            } else if now < schedule.end_us {
                "measuring"
            } else {
                "settling"
            });
            bar.set_position(
                total_ms.min(now.saturating_sub(schedule.warmup_start_us - 50_000) / 1000),
            );
            bar.set_message(format!("sent {sent}, delivered {delivered}/{expected}"));
            // Settled early when every expected delivery is in.
            if now >= settle_end || (now >= schedule.end_us && delivered >= expected) {
                break;
            }
            tokio::select! {
                _ = &mut ctrl_c => { interrupted = true; break; }
                () = tokio::time::sleep(TICK) => {}
            }
        }
        bar.finish_and_clear();
        measured_s = (shared.now_us().min(schedule.end_us))
            .saturating_sub(schedule.measure_start_us) as f64
            / 1e6;
    }

    if interrupted {
        tracing::warn!("interrupted: closing connections and writing the partial result");
    }
    shared.finish.cancel();
    let joined = tokio::task::spawn_blocking(move || {
        threads.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    })
    .await
    .context("join the workers")?;
    let mut stats = Totals::default();
    for worker in joined {
        match worker {
            Ok(Ok(s)) => stats.merge(&s),
            Ok(Err(e)) => return Err(e).context("a worker could not start its runtime"),
            Err(_) => bail!("a worker thread panicked"),
        }
    }
    if let Some(server) = server {
        server.stop();
    }
    if stats.connected == 0 && !interrupted {
        let errors: Vec<String> = stats
            .errors
            .iter()
            .map(|(k, n)| format!("{n} x {k}"))
            .collect();
        bail!(
            "no connection could be opened to {}: {}",
            targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            errors.join("; ")
        );
    }

    let target_names: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let source_names: Vec<String> = sources.0.iter().map(ToString::to_string).collect();
    Ok(RunResult::assemble(Parts {
        totals: &stats,
        config: result::config(&opts, &target_names, embedded, &source_names, workers),
        machine: result::machine(),
        started_at,
        interrupted,
        planned: connections,
        measured_s,
        thresholds: &opts.thresholds,
        ramp,
    }))
}
