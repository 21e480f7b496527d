//! The plan phase: the flags checked against this machine (descriptors, source ports, memory
//! for completion slots) before anything starts, and resolved once: after [`Plan::new`],
//! nothing reads the flags again. Who connects where and when is [`workers`].

mod groups;
mod id;

pub use groups::ReaderKinds;
use groups::{churn_plans, index_of, send_plans};
mod workers;

pub use id::plan_id;

pub use workers::{ChurnPlan, ConnPlan, ReconnectPlan, SendPlan, WorkerPlan};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::PlanError;
use crate::handshake::HandshakePlan;
use crate::handshake::RoomStyle;
use crate::index::Index;
use crate::live::LivePlan;
use crate::opts::Opts;
use crate::result;
use crate::server_load::ServerSource;
use crate::shard::{Shard, StartAt};
use crate::target::{PORTS_PER_SOURCE, SourceIps, Target};
use crate::workload::{self, Layout, Workload};
use run_result::result::Config;
use run_result::threshold::Held;
use run_result::{Metric, Threshold};
use stamp::{MAX_SIZE, MIN_SIZE};

/// Descriptors kept aside for everything that is not a connection.
const SPARE_FDS: u64 = 256;
/// Completion slots (4 bytes each) at most: 1.6 GB.
const MAX_SLOTS: u64 = 400_000_000;

/// What the run will do, checked.
#[derive(Debug)]
pub struct Plan {
    pub connections: u64,
    pub workers: usize,
    /// No `--target`: the reference server runs in this process.
    pub embedded: bool,
    pub sources: SourceIps,
    /// Bind each socket to a source address (several, or chosen by `--source-ip`).
    bind_sources: bool,
    /// Makes this run's room names unlike any other run's.
    run_id: u32,
    /// What every handshake sends.
    handshake: Arc<HandshakePlan>,
    /// `--target`, parsed with `--resolve` (empty: the embedded server).
    pub targets: Vec<Target>,
    /// `--shard K/N`: this process's part of the plan.
    pub shard: Option<Shard>,
    /// The rooms this process loads: all of them, or its shard's.
    pub rooms: Vec<u32>,
    /// The plan's identity, when sharded.
    pub plan_id: Option<String>,
    /// What the load is: room groups and stages (`--workload`, or the flags').
    pub workload: Workload,
    /// Every room of the plan, drawn from the workload (`rooms` says which are this
    /// process's).
    pub layout: Arc<Layout>,
    /// How each group's senders pace themselves, by group.
    pub sends: Arc<Vec<SendPlan>>,
    /// By group: how its receiving members leave and rejoin (churn), if they do.
    pub churns: Vec<Option<ChurnPlan>>,
    /// With --reconnect: how a member whose connection ended comes back.
    pub reconnect: Option<ReconnectPlan>,
    room_style: RoomStyle,
    /// Connections opened per second during the ramp.
    connect_rate: f64,
    pub connect_timeout: Duration,
    /// How long each phase lasts, and when sending starts.
    pub timing: Timing,
    /// No progress bars.
    pub quiet: bool,
    /// `--server-metrics`: the target's Prometheus endpoint.
    pub server_metrics: Option<crate::server_load::MetricsUrl>,
    /// `--out`, `--metrics-bind`: live metrics.
    pub live: LivePlan,
    /// What the run is held to: `--threshold`, then the core contract's defaults for every
    /// core metric not named there nor relaxed.
    pub thresholds: Vec<Held>,
    /// `--abort-on`: what ends the measurement early.
    pub abort_on: Vec<crate::abort::AbortOn>,
    /// The result's record of the flags (its targets as given; the coordinator names the
    /// embedded server's address instead when there is one).
    pub record: Config,
}

impl Plan {
    /// Where the server's figures come from: `--server-metrics`, else the embedded server,
    /// else nowhere.
    /// Makes this run's room names unlike any other run's (the same for shards of a plan).
    pub fn run_id(&self) -> u32 {
        self.run_id
    }

    /// What every handshake sends, and the counters of every socket's bytes.
    pub fn handshake(&self) -> &HandshakePlan {
        &self.handshake
    }

    pub fn server_source(&self) -> Option<ServerSource> {
        match (&self.server_metrics, self.embedded) {
            (Some(url), _) => Some(ServerSource::Metrics(url.clone())),
            (None, true) => Some(ServerSource::Embedded),
            (None, false) => None,
        }
    }
}

/// How long each phase lasts, and when sending starts (`--start-at`).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub duration: Duration,
    pub settle: Duration,
    pub start_at: Option<StartAt>,
    /// Each member's stay is held to what was sent while it lasted (churn, --reconnect).
    pub windows: bool,
}

impl Plan {
    /// Checks `opts` and raises the open-files limit as far as it goes.
    pub fn new(opts: &Opts) -> Result<Self, PlanError> {
        let workload = match &opts.workload {
            Some(path) => workload::file::read(path)?,
            None => {
                check_flags(opts)?;
                opts.flags_workload()
            }
        };
        let layout = Arc::new(Layout::new(&workload));
        let (shard, rooms) = shard_rooms(opts, layout.rooms.len() as u32)?;
        let plan_id = shard.map(|s| plan_id(opts, &workload, s.count));
        let connections = layout.members_of(&rooms);
        let embedded = opts.targets.is_empty();
        let sources = fit_machine(opts, connections, embedded)?;
        let index = index_of(&workload, &layout);
        if index.slots() > MAX_SLOTS {
            return Err(PlanError::TooManyMessages(index.slots()));
        }
        let targets = opts
            .targets
            .iter()
            .map(|t| Target::parse_with(t, &opts.tls.resolve))
            .collect::<Result<Vec<_>, _>>()?;
        let mut handshake =
            HandshakePlan::new(&opts.headers, opts.cookie.as_deref(), opts.ws_path.clone())
                .map_err(PlanError::Cookie)?;
        handshake.tls = opts.tls.client_for("loadgen", &targets)?;
        handshake.deflate = opts.deflate;
        let workers = opts
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let target_names: Vec<String> = targets.iter().map(ToString::to_string).collect();
        let source_names: Vec<String> = sources.0.iter().map(ToString::to_string).collect();
        let record = result::config(
            opts,
            &workload,
            &layout,
            (&target_names, embedded),
            &source_names,
            workers,
        );
        let mut given = opts.thresholds.clone();
        given.extend(workload.thresholds.iter().cloned());
        // What ends a run early is also what it is held to at the end.
        for rule in &opts.abort_on {
            if !given.iter().any(|t| t.text == rule.threshold.text) {
                given.push(rule.threshold.clone());
            }
        }
        let thresholds = Threshold::with_core(&given, &relaxed(opts, workload.reconnect.is_some()));
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let windows = workload.churns() || workload.reconnect.is_some();
        let sends = send_plans(&workload, &layout, windows);
        let churns = churn_plans(&workload);
        Ok(Self {
            connections,
            workers,
            embedded,
            bind_sources: opts.source_ip.is_some() || sources.0.len() > 1,
            sources,
            // Shards of one plan name its rooms alike; any other run names its own.
            run_id: match &plan_id {
                Some(id) => u32::from_str_radix(&id[..8], 16).unwrap_or_default(),
                None => (workload.seed as u32) ^ nanos ^ std::process::id(),
            },
            handshake: Arc::new(handshake),
            targets,
            shard,
            rooms,
            plan_id,
            sends: Arc::new(sends),
            churns,
            layout,
            reconnect: workload.reconnect.map(|r| ReconnectPlan {
                min: r.min,
                max: r.max,
                seed: workload.seed,
            }),
            room_style: opts.room_style,
            connect_rate: opts.connect_rate,
            connect_timeout: opts.connect_timeout,
            timing: Timing {
                warmup: workload.warmup,
                duration: workload.duration(),
                settle: workload.settle,
                start_at: opts.start_at,
                windows,
            },
            workload,
            quiet: opts.quiet,
            server_metrics: opts.server_metrics.clone(),
            live: LivePlan {
                outs: opts.outs.clone(),
                bind: opts.metrics_bind,
                every: opts.out_interval,
            },
            thresholds,
            abort_on: opts.abort_on.clone(),
            record,
        })
    }

    /// Where every room's senders and messages sit, for the run's shared state.
    pub fn index(&self) -> Index {
        index_of(&self.workload, &self.layout)
    }
}

/// This process's rooms: all of them, or its shard's (`--shard`, `--shards`).
fn shard_rooms(opts: &Opts, count: u32) -> Result<(Option<Shard>, Vec<u32>), PlanError> {
    let shard = Shard::resolve(opts.shard, opts.shards)?;
    if shard.is_some() && opts.targets.is_empty() {
        return Err(PlanError::ShardEmbedded);
    }
    let rooms: Vec<u32> = match shard {
        Some(s) => s.rooms(count),
        None => (0..count).collect(),
    };
    if let (Some(s), true) = (shard, rooms.is_empty()) {
        return Err(PlanError::ShardEmpty {
            index: s.index,
            count: s.count,
            rooms: count,
        });
    }
    Ok((shard, rooms))
}

/// Flags that contradict each other or the stamp.
fn check_flags(opts: &Opts) -> Result<(), PlanError> {
    if opts.senders > opts.clients {
        return Err(PlanError::SendersOverClients {
            senders: opts.senders,
            clients: opts.clients,
        });
    }
    if (opts.churn.is_some() || opts.session.is_some()) && opts.senders >= opts.clients {
        return Err(PlanError::ChurnWithoutReceivers {
            flag: if opts.churn.is_some() {
                "--churn"
            } else {
                "--session"
            },
            senders: opts.senders,
        });
    }
    // A drawn length below the stamp's is raised to it (`send.rs`); one that is all below is
    // refused.
    if opts.size.max() < MIN_SIZE as u64 {
        return Err(PlanError::SizeTooSmall(opts.size.to_string()));
    }
    if opts.size.max() > MAX_SIZE as u64 {
        return Err(PlanError::SizeTooLarge(
            opts.size.to_string(),
            opts.size.max(),
        ));
    }
    Ok(())
}

/// The machine can hold `connections`: descriptors (raising the limit as far as it goes) and
/// source ports; returns the source addresses.
fn fit_machine(opts: &Opts, connections: u64, embedded: bool) -> Result<SourceIps, PlanError> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).map_err(PlanError::FileLimit)?;
    let needed = connections * if embedded { 2 } else { 1 } + SPARE_FDS;
    if needed > limit {
        return Err(PlanError::TooManyFiles {
            needed,
            connections,
            limit,
            embedded,
        });
    }
    let per_target = connections.div_ceil(opts.targets.len().max(1) as u64);
    let sources = opts
        .source_ip
        .clone()
        .unwrap_or_else(|| SourceIps::automatic(per_target));
    if per_target.div_ceil(sources.0.len() as u64) > PORTS_PER_SOURCE {
        return Err(PlanError::TooFewSources {
            per_target,
            sources: sources.0.len(),
        });
    }
    Ok(sources)
}

/// The core metrics the run is not held to by default: `--relax`, and when members reconnect
/// `errors` (lost connections are the point of such a run; `--threshold errors<N` bounds
/// them).
pub fn relaxed(opts: &Opts, reconnect: bool) -> Vec<Metric> {
    let mut relaxed = opts.relax.clone();
    if reconnect {
        relaxed.push(Metric::Errors);
    }
    relaxed
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    /// A connection: room, sender and rate, target, connect time.
    type Conn = (u32, Option<(u32, f64)>, String, u64);

    /// What a plan's connections are.
    fn conns(plan: &Plan) -> Vec<Conn> {
        plan.workers(&plan.targets)
            .iter()
            .flat_map(|w| &w.conns)
            .map(|c| (c.room, c.sender, c.target.to_string(), c.connect_at_us))
            .collect()
    }

    #[test]
    fn the_printed_workload_of_flags_makes_the_same_plan() {
        let flags = [
            "loadgen",
            "--target",
            "ws://127.0.0.1:9",
            "--rooms",
            "7",
            "--clients",
            "6",
            "--senders",
            "2",
            "--rate",
            "3.5",
            "--arrival",
            "poisson",
            "--size",
            "lognormal:median=80,sigma=1,max=500",
            "--session",
            "4s",
            "--seed",
            "17",
        ];
        let a = Opts::parse_from(flags);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.toml");
        let printed = workload::print::to_toml(&a.flags_workload());
        std::fs::write(&path, &printed).expect("write");
        let b = Opts::parse_from([
            "loadgen",
            "--target",
            "ws://127.0.0.1:9",
            "--workload",
            path.to_str().expect("utf-8"),
        ]);
        let (pa, pb) = (Plan::new(&a).expect("plan"), Plan::new(&b).expect("plan"));
        assert_eq!(pa.workload, pb.workload, "{printed}");
        assert_eq!(pa.layout, pb.layout);
        assert_eq!(conns(&pa), conns(&pb));
        assert_eq!(pa.index().slots(), pb.index().slots());
        assert_eq!(
            (pa.timing.warmup, pa.timing.duration, pa.timing.settle),
            (pb.timing.warmup, pb.timing.duration, pb.timing.settle)
        );
        assert_eq!(pa.churns.len(), pb.churns.len());
    }

    /// Who sends and who only receives, per worker: `(senders, receivers)`.
    fn split(senders: &str, workers: &str) -> Vec<(usize, usize)> {
        let opts = Opts::parse_from([
            "loadgen",
            "--target",
            "ws://127.0.0.1:9",
            "--rooms",
            "10",
            "--clients",
            "5",
            "--senders",
            senders,
            "--workers",
            workers,
        ]);
        let plan = Plan::new(&opts).expect("a valid plan");
        plan.workers(&plan.targets)
            .iter()
            .map(|w| {
                let sending = w.conns.iter().filter(|c| c.sender.is_some()).count();
                (sending, w.conns.len() - sending)
            })
            .collect()
    }

    #[test]
    fn senders_get_workers_of_their_own() {
        // 10 of 50 connections send: their share of 2 workers, rounded up, is one worker of
        // their own; the 40 receivers fill the 2 workers.
        assert_eq!(split("1", "2"), [(10, 0), (0, 20), (0, 20)]);
        // 30 of 50 on 4 workers: 3 send workers (2.4 rounded up), 4 receive workers.
        assert_eq!(
            split("3", "4"),
            [(10, 0), (10, 0), (10, 0), (0, 5), (0, 5), (0, 5), (0, 5)]
        );
        // Everyone sends: as many send workers as --workers, and no receive-only worker.
        assert_eq!(split("5", "2"), [(25, 0), (25, 0)]);
    }
}
