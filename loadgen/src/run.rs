//! The coordinator, in phases: plan, connect, measure (warm-up, then the measured duration),
//! settle, assemble. Workers do the sending and receiving; the coordinator starts them, watches
//! the shared counters every [`TICK`] (progress, end of a phase, Ctrl-C) and merges what they
//! measured.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use indicatif::ProgressBar;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::abort::Watch;
use crate::client_load::Sample;
use crate::embedded::EmbeddedServer;
use crate::impair::Links;
use crate::interrupt::on_ctrl_c;
use crate::live::Board;
use crate::opts::Opts;
use crate::plan::{Plan, WorkerPlan};
use crate::progress::Progress;
use crate::result;
use crate::server_load::{self, Scrape};
use crate::shard::StartAt;
use crate::shared::{Schedule, Shared};
use crate::start::{StartRecord, start_time};
use crate::streaming;
use crate::target::Target;
use crate::worker;
use run_result::Totals;
use run_result::result::{RampPoint, ShardRecord};
use run_result::wire::WireLoad;
use run_result::{Parts, RunResult};

/// How often the coordinator looks at the counters (progress, end of a phase, Ctrl-C).
const TICK: Duration = Duration::from_millis(100);

type Workers = Vec<JoinHandle<std::io::Result<Totals>>>;

/// Runs the whole plan and returns the result. Ctrl-C ends it early with `interrupted` set.
pub async fn run(opts: Opts) -> anyhow::Result<RunResult> {
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let plan = Plan::new(&opts)?;
    let server = match plan.embedded {
        true => Some(EmbeddedServer::start(plan.connections, plan.workers)?),
        false => None,
    };
    let targets: Vec<Target> = match &server {
        Some(s) => vec![Target::from_addr(s.addr)],
        None => plan.targets.clone(),
    };
    let (schedule_tx, schedule_rx) = watch::channel(None);
    let shared = Arc::new(Shared::new(plan.index(), schedule_rx));
    let mut worker_plans = plan.workers(&targets);
    // Dropped when the run returns, however it ends: the links are removed with it.
    let links = Links::open(&plan.workload, &targets).await?;
    links.route(&mut worker_plans);
    let (live, board) = streaming::start(&plan, &targets, worker_plans.len(), &shared).await?;
    let workers = start_workers(worker_plans, &shared, board.as_ref())?;
    let interrupt = on_ctrl_c();
    let phases = phases(&shared, &plan, &schedule_tx, &interrupt, board.as_deref()).await;
    let interrupted = interrupt.is_cancelled();
    if interrupted {
        tracing::warn!("interrupted: closing connections and writing the partial result");
    }
    let mut totals = stop_workers(&shared, workers).await?;
    links.retransmits_into(&plan.reader_kinds(), &mut totals);
    for (second, connected) in phases.connected_by_second.iter().enumerate() {
        totals.second(second).connected = *connected;
    }
    shared.missing_into(&mut totals);
    shared.order.conflicts_into(&shared.index, &mut totals);
    if let Some(server) = server {
        server.stop();
    }
    if totals.connected == 0 && !interrupted {
        bail!(
            "no connection could be opened to {}: {}",
            names(&targets).join(", "),
            totals
                .errors
                .iter()
                .map(|(k, n)| format!("{n} x {k}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let run = Finished {
        started_at,
        interrupted,
        targets: names(&targets),
        totals,
        phases,
    };
    let live_totals = live.as_ref().map(|_| run.totals.clone());
    let result = assemble(&plan, run);
    if let (Some(live), Some(totals)) = (live, live_totals) {
        streaming::finish(live, &shared, &totals, &result).await;
    }
    Ok(result)
}

/// What the phases found, for the result.
#[derive(Debug, Default)]
struct Phases {
    ramp: Vec<RampPoint>,
    start: StartRecord,
    measured_s: f64,
    connected_by_second: Vec<u64>,
    /// loadgen's worker threads when sending started and when the measured window ended.
    client: Option<(Sample, Sample)>,
    /// The server's figures when the measured window started and ended, and their source.
    server: Option<(Scrape, Scrape, String)>,
    /// Why `--abort-on` ended the measurement early.
    aborted: Option<String>,
    /// The sockets' byte counters when the measured window started and when settling ended.
    wire: Option<([u64; 6], [u64; 6])>,
    /// From the window's start to the end of settling, in seconds.
    wire_s: f64,
}

/// Connect; then, if anyone is in and no Ctrl-C came, publish the schedule, measure and
/// settle.
async fn phases(
    shared: &Shared,
    plan: &Plan,
    schedule_tx: &watch::Sender<Option<Schedule>>,
    interrupt: &CancellationToken,
    board: Option<&Board>,
) -> Phases {
    let progress = Progress::new(plan.quiet);
    // With --start-at, connecting ends at that instant at the latest (once anyone is in).
    let connect_deadline_us = plan.timing.start_at.map_or(u64::MAX, |t| {
        shared.now_us() + t.from_now().as_micros() as u64
    });
    let mut phases = Phases {
        ramp: connect_phase(
            shared,
            &progress,
            plan.connections,
            connect_deadline_us,
            interrupt,
        )
        .await,
        ..Phases::default()
    };
    if interrupt.is_cancelled() || shared.connected.load(Ordering::Relaxed) == 0 {
        return phases;
    }
    phases.start = start_time(shared, plan);
    let schedule = Schedule::starting(phases.start.at_us, plan.timing.warmup, plan.timing.duration);
    let _ = schedule_tx.send(Some(schedule));
    tracing::info!(
        connected = shared.connected.load(Ordering::Relaxed),
        "all connections made; sending"
    );
    let bar = progress.running((schedule.end_us - schedule.warmup_start_us) / 1000);
    let sending = Sample::take();
    let source = plan.server_source();
    // The window's start: byte counters (with no warm-up read now, before the first send, not
    // by a timer that may wake after measured deliveries came in), then the server's figures.
    let early = (schedule.measure_start_us == schedule.warmup_start_us)
        .then(|| plan.handshake().wire.snapshot());
    let window_start = tokio::spawn({
        let (source, at) = (source.clone(), shared.at(schedule.measure_start_us));
        let wire = std::sync::Arc::clone(&plan.handshake().wire);
        async move {
            tokio::time::sleep_until(at.into()).await;
            let bytes = early.unwrap_or_else(|| wire.snapshot());
            let server = match source {
                Some(source) => source.read().await,
                None => None,
            };
            (bytes, server)
        }
    });
    let watch = board.map(|b| (b, Watch::new(plan.abort_on.clone())));
    (phases.connected_by_second, phases.aborted) =
        measure_phase(shared, &bar, schedule, interrupt, watch).await;
    phases.client = sending.zip(Sample::take());
    if interrupt.is_cancelled() {
        // A start already taken is kept.
        window_start.abort();
    }
    let (wire_start, server_start) = window_start.await.ok().unzip();
    let server_end = match &source {
        Some(source) => source.read().await,
        None => None,
    };
    phases.server = match (server_start.flatten(), server_end, source) {
        (Some(start), Some(end), Some(source)) => Some((start, end, source.name())),
        _ => None,
    };
    phases.measured_s = shared
        .now_us()
        .min(schedule.end_us)
        .saturating_sub(schedule.measure_start_us) as f64
        / 1e6;
    // Aborted: sending ended now, and the settle time counts from here.
    let sent_until = match phases.aborted {
        Some(_) => Schedule {
            end_us: shared.now_us().min(schedule.end_us),
            ..schedule
        },
        None => schedule,
    };
    settle_phase(
        shared,
        &bar,
        sent_until,
        (plan.timing.settle, plan.timing.windows),
        interrupt,
    )
    .await;
    bar.finish_and_clear();
    phases.wire = wire_start.map(|start| (start, plan.handshake().wire.snapshot()));
    phases.wire_s = shared.now_us().saturating_sub(schedule.measure_start_us) as f64 / 1e6;
    phases
}

/// A run whose workers have stopped.
#[derive(Debug)]
struct Finished {
    started_at: String,
    interrupted: bool,
    targets: Vec<String>,
    totals: Totals,
    phases: Phases,
}

/// The run's result from its plan and what it measured.
fn assemble(plan: &Plan, run: Finished) -> RunResult {
    let mut config = plan.record.clone();
    config.targets = run.targets;
    let start = &run.phases.start;
    let shard = plan
        .shard
        .zip(plan.plan_id.clone())
        .map(|(s, plan_id)| ShardRecord {
            index: s.index,
            count: s.count,
            plan_id,
            start_at: plan.timing.start_at.map(StartAt::rfc3339),
            rooms: plan.rooms.len() as u32,
            late_ms: start.late_ms,
            connected_at_start: start.connected,
        });
    let mut result = RunResult::assemble(Parts {
        totals: &run.totals,
        config,
        machine: result::machine(),
        started_at: run.started_at,
        interrupted: run.interrupted,
        planned: plan.connections,
        measured_s: run.phases.measured_s,
        thresholds: &plan.thresholds,
        ramp: run.phases.ramp,
        breakdown: &plan.breakdown(),
    });
    result.shard = shard;
    result.aborted = run.phases.aborted.clone();
    result.server = run.phases.server.as_ref().and_then(|(start, end, source)| {
        let s = &result.summary;
        server_load::between(source, start, end, s.delivered, s.connections.established)
    });
    result.wire = run.phases.wire.map(|(start, end)| {
        let delivered = result.summary.delivered;
        WireLoad::between(
            start,
            end,
            plan.handshake().deflate,
            delivered,
            run.phases.wire_s,
        )
    });
    result.client = run.phases.client.map(|(start, end)| {
        let s = &result.summary;
        start.load_until(&end, s.send_lateness_us.p99, s.latency_us.p99)
    });
    result
}

fn names<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn start_workers(
    plans: Vec<WorkerPlan>,
    shared: &Arc<Shared>,
    board: Option<&Arc<Board>>,
) -> anyhow::Result<Workers> {
    plans
        .into_iter()
        .enumerate()
        .map(|(w, plan)| {
            let shared = Arc::clone(shared);
            let live = board.map(|b| (w, Arc::clone(b)));
            std::thread::Builder::new()
                .name(format!("loadgen-{w}"))
                .spawn(move || worker::run(plan, shared, live))
        })
        .collect::<Result<_, _>>()
        .context("start the worker threads")
}

/// Waits until `done` or `until_us` on the run clock, ticking `each`; false if interrupted.
async fn tick_until(
    shared: &Shared,
    until_us: u64,
    interrupt: &CancellationToken,
    mut each: impl FnMut() -> bool,
) -> bool {
    loop {
        if each() || shared.now_us() >= until_us {
            return true;
        }
        tokio::select! {
            () = interrupt.cancelled() => return false,
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Every planned connection opened or failed; the ramp sampled every tick for the report.
async fn connect_phase(
    shared: &Shared,
    progress: &Progress,
    connections: u64,
    deadline_us: u64,
    interrupt: &CancellationToken,
) -> Vec<RampPoint> {
    let bar = progress.connecting(connections);
    let mut ramp = Vec::new();
    tick_until(shared, u64::MAX, interrupt, || {
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
        // At the deadline (--start-at) sending starts with whoever is connected, if anyone.
        connected + failed >= connections || (connected > 0 && shared.now_us() >= deadline_us)
    })
    .await;
    bar.finish();
    ramp
}

/// Warm-up and the measured duration: the senders' schedule runs to its end, or until an
/// `--abort-on` condition has been broken for its time. Returns the members connected at the
/// end of each measured second (the last tick within it), and why it was aborted.
async fn measure_phase(
    shared: &Shared,
    bar: &ProgressBar,
    schedule: Schedule,
    interrupt: &CancellationToken,
    mut watch: Option<(&Board, Watch)>,
) -> (Vec<u64>, Option<String>) {
    let mut connected = Vec::new();
    let mut aborted = None;
    tick_until(shared, schedule.end_us, interrupt, || {
        show(shared, bar, schedule);
        if let Some(second) = shared.measured_second(shared.now_us()) {
            if connected.len() <= second {
                connected.resize(second + 1, 0);
            }
            connected[second] = shared.members_now();
            if let Some((board, watch)) = watch.as_mut() {
                let measured_s = (shared.now_us() - schedule.measure_start_us) as f64 / 1e6;
                aborted = watch.check(board, shared, measured_s);
            }
        }
        aborted.is_some()
    })
    .await;
    if let Some(why) = &aborted {
        tracing::warn!(%why, "--abort-on: ending the measurement early");
        // Nothing more is sent: the workers end their schedules at the finish.
        shared.stop_sending();
    }
    (connected, aborted)
}

/// After the last send: until every expected delivery is in, or `settle` has passed. With
/// per-stay windows (churn, --reconnect) what is expected is known only when each stay ends,
/// so the whole settle time is waited.
async fn settle_phase(
    shared: &Shared,
    bar: &ProgressBar,
    schedule: Schedule,
    (settle, windows): (Duration, bool),
    interrupt: &CancellationToken,
) {
    bar.set_length(bar.length().unwrap_or(0) + settle.as_millis() as u64);
    let until = schedule.end_us + settle.as_micros() as u64;
    tick_until(shared, until, interrupt, || {
        show(shared, bar, schedule);
        !windows
            && shared.delivered.load(Ordering::Relaxed) >= shared.expected.load(Ordering::Relaxed)
    })
    .await;
}

/// The running bar: phase, time, counts.
fn show(shared: &Shared, bar: &ProgressBar, schedule: Schedule) {
    let now = shared.now_us();
    bar.set_prefix(if now < schedule.measure_start_us {
        "warm-up"
    } else if now < schedule.end_us {
        "measuring"
    } else {
        "settling"
    });
    bar.set_position(now.saturating_sub(schedule.warmup_start_us) / 1000);
    bar.set_message(format!(
        "sent {}, delivered {}/{}",
        shared.sent.load(Ordering::Relaxed),
        shared.delivered.load(Ordering::Relaxed),
        shared.expected.load(Ordering::Relaxed)
    ));
}

/// Ends every connection, waits for the workers and merges their totals with the run-wide
/// counts.
async fn stop_workers(shared: &Shared, workers: Workers) -> anyhow::Result<Totals> {
    shared.finish.cancel();
    let joined = tokio::task::spawn_blocking(move || {
        workers.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    })
    .await
    .context("join the workers")?;
    let mut totals = Totals::default();
    for worker in joined {
        match worker {
            Ok(Ok(t)) => totals.merge(&t),
            Ok(Err(e)) => return Err(e).context("a worker could not start its runtime"),
            Err(_) => bail!("a worker thread panicked"),
        }
    }
    shared.counts_into(&mut totals);
    Ok(totals)
}
