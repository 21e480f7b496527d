//! Command-line options. They live in the library so tests run `run(Opts::parse_from(..))`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::handshake::{DEFAULT_WS_PATH, Header, RoomStyle, WsPath};
use crate::shard::{Shard, StartAt};
use crate::target::SourceIps;
pub use run_result::result::Arrival;
use run_result::{Metric, Threshold};
use stamp::Fill;

use crate::dist::Dist;
use crate::workload::file::{self, WorkloadError};
use crate::workload::{
    Activity, FLAGS_GROUP, FLAGS_STAGE, Group, Members, Process, Rate, Reconnect, Senders, Stage,
    Workload,
};

/// Open thousands of `/ws/chat/<room>/` connections, broadcast through every room, and measure
/// fan-out latency, loss, duplicates and ordering.
///
/// With no --target, the reference server is started in-process on its own threads.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Opts {
    /// Backend base URL: http://, https://, ws:// or wss://host:port. Repeatable: the members
    /// of each room are spread over the targets in turn. None: the embedded reference server.
    #[arg(long = "target", value_name = "URL")]
    pub targets: Vec<String>,

    /// --ca-cert, --insecure, --resolve.
    #[command(flatten)]
    pub tls: endpoint::TlsArgs,

    /// A workload file (TOML): room groups with room sizes, senders, rates, arrivals and
    /// message lengths drawn from distributions, and stages that change the rate during the
    /// run (docs/loadgen.md, "Workloads"; examples in workloads/). It replaces the flags
    /// that shape the load (--rooms, --clients, --senders, --rate, --arrival, --size, --text,
    /// --duration, --warmup, --settle, --seed, --churn, --session, --replies,
    /// --slow-readers, --impair).
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "rooms", "clients", "senders", "rate", "arrival", "size", "text", "duration",
        "warmup", "settle", "seed", "churn", "session", "replies", "slow_readers", "impair", "sweep",
    ])]
    pub workload: Option<PathBuf>,

    /// Print the workload this run would make (from --workload, or the one the flags mean)
    /// as a workload file, and exit without connecting.
    #[arg(long)]
    pub print_workload: bool,

    /// Rooms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub rooms: u32,

    /// Members per room.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,

    /// Members per room that send (the first ones); the others only receive.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub senders: u32,

    /// Messages per second per room, shared among its senders (open loop: sends follow the
    /// schedule whatever the server does, and latency counts from the scheduled time).
    #[arg(long, default_value_t = 10.0, value_parser = positive_f64)]
    pub rate: f64,

    /// How send times are spaced.
    #[arg(long, value_enum, default_value_t = Arrival::Fixed)]
    pub arrival: Arrival,

    /// Measured sending time.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub duration: Duration,

    /// Sending before the measurement starts (not counted).
    #[arg(long, default_value = "2s", value_parser = duration_or_zero)]
    pub warmup: Duration,

    /// New connections per second while connecting.
    #[arg(long, default_value_t = 2000.0, value_parser = positive_f64)]
    pub connect_rate: f64,

    /// Length of each message's text in bytes, at least the 48 of its stamp: a number (64), or
    /// a distribution each message's length is drawn from (a draw below 48 is raised to it):
    /// uniform:32..512,
    /// lognormal:median=80,sigma=1,max=4096 (min= too), zipf:s=1.1,min=48,max=2000,
    /// weighted:60*9,2000*1 (value*weight pairs).
    #[arg(long, value_name = "BYTES|DIST", default_value = "64")]
    pub size: Dist,

    /// What fills each message's text after its stamp: x (repeated), words (common words
    /// of chat, different in every message: text as people type it) or words:FILE (the
    /// words of FILE, separated by spaces or newlines; printable ASCII without '"' and '\').
    #[arg(long, value_name = "x|words|words:FILE", default_value = "x", value_parser = fill)]
    pub text: Fill,

    /// After the last send, how long to wait for late deliveries before counting the missing.
    #[arg(long, default_value = "2s", value_parser = duration_or_zero)]
    pub settle: Duration,

    /// Local source addresses, e.g. 127.0.0.1-127.0.0.8: connections are spread over them.
    /// By default 127.0.0.1, and more 127.x addresses when one would run out of ports.
    #[arg(long, value_name = "RANGE")]
    pub source_ip: Option<SourceIps>,

    /// Write the JSON result here (`-` for stdout).
    #[arg(long, value_name = "PATH", default_value = "loadgen-result.json")]
    pub json: PathBuf,

    /// Do not write the JSON result.
    #[arg(long, conflicts_with = "json")]
    pub no_json: bool,

    /// A pass/fail condition, repeatable: METRIC<VALUE, <= or =, with a value such as 25ms,
    /// 1% or 0. Metrics: p50, p90, p99, p999, max (fan-out latency), connect_p99,
    /// completion_p99, lateness_p99, join_p99, reconnect_p99 (latencies), loss (a share),
    /// missing, duplicates, reordered, cross_room, foreign, errors, outside, reconnects,
    /// order_conflicts, causal_violations (counts). Whatever is given, the run is also held
    /// to the core contract: loss=0, duplicates=0, reordered=0, cross_room=0, foreign=0,
    /// outside=0, causal_violations=0 and errors=0 (not errors with --reconnect), each
    /// unless a --threshold names its metric or --relax drops it. Any failure: exit code 2.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<Threshold>,

    /// End the measurement early when this condition has been broken for this long,
    /// repeatable: EXPR:DURATION, e.g. p99<250ms:10s or errors<100:5s (k6's abortOnFail).
    /// Watched while the run lasts: p50, p90, p99, p999, max (over every measured delivery so
    /// far) and errors. The run then settles, writes its result with `aborted` saying why,
    /// and exits 2; the condition is also one of its thresholds.
    #[arg(
        long = "abort-on",
        value_name = "EXPR:DURATION",
        conflicts_with = "sweep"
    )]
    pub abort_on: Vec<crate::abort::AbortOn>,

    /// Do not hold the run to this core metric's default (METRIC=0), repeatable: loss,
    /// duplicates, reordered, cross_room, foreign, outside, causal_violations, errors. Also
    /// for --sweep's steps. The figure is still measured and reported.
    #[arg(long = "relax", value_name = "METRIC", value_parser = Metric::parse_core)]
    pub relax: Vec<Metric>,

    /// Seed for the schedule (Poisson) and room names.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Give up on a handshake after this long.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub connect_timeout: Duration,

    /// Worker threads driving the receiving connections (default: one per core). Senders run
    /// on workers of their own, their share of this number (at least one), so that they send
    /// on time.
    #[arg(long)]
    pub workers: Option<usize>,

    /// No progress bars even on a terminal.
    #[arg(long)]
    pub quiet: bool,

    /// The target's Prometheus endpoint (plain http://host:port/metrics), read when the
    /// measured window starts and ends: the server's CPU seconds per million deliveries and
    /// resident bytes per connection go in the summary and the result. Without it, the
    /// embedded server's CPU is read from its threads.
    #[arg(long, value_name = "URL")]
    pub server_metrics: Option<crate::server_load::MetricsUrl>,

    /// Streams live metrics while the run lasts, repeatable: `prometheus-rw=URL` pushes them
    /// with Prometheus remote-write (plain http://host:port, path /api/v1/write if none)
    /// every --out-interval; the last push carries the result's counts (docs/loadgen.md).
    #[arg(long = "out", value_name = "SINK=URL")]
    pub outs: Vec<crate::live::Out>,

    /// How often live metrics are pushed (--out) and renewed (--metrics-bind).
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub out_interval: Duration,

    /// Serves the live metrics in OpenMetrics text at this address while the run lasts
    /// (e.g. 127.0.0.1:9464), for a Prometheus to scrape.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<std::net::SocketAddr>,

    /// An extra header on every handshake, repeatable: 'Name: value' (a token, or the Origin
    /// a backend requires).
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<Header>,

    /// A Cookie header on every handshake, e.g. 'sessionid=abc' (a deployment behind a
    /// login, such as Channels' AuthMiddlewareStack).
    #[arg(long, value_name = "COOKIES")]
    pub cookie: Option<String>,

    /// The socket's path and query on the backend, {room} standing for the room's name.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_WS_PATH)]
    pub ws_path: WsPath,

    /// How rooms are named: word (letters, digits, _: the tutorial's \w+) or uuid.
    #[arg(long, value_enum, default_value_t = RoomStyle::Word)]
    pub room_style: RoomStyle,

    /// Run shard K (from 0) of N of this plan: the rooms K, K+N, ... with all their members.
    /// Every shard must get the same flags (and --seed); `reports merge` joins the results.
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    pub shard: Option<Shard>,

    /// Run one of N shards, K taken from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,

    /// Members that leave and rejoin, per second per room, while sending: each member that
    /// only receives leaves after a random (exponential) time in the room, closes, and joins
    /// again at once. A member is expected to get exactly the messages sent while it is in the
    /// room (from its 101 until it decides to leave; it reads those before closing).
    #[arg(long, value_name = "RATE", value_parser = positive_f64, conflicts_with = "session")]
    pub churn: Option<f64>,

    /// The chance (0 to 1, or a percentage) that a sending member answers a measured message
    /// of another sender it receives: its next scheduled send names that message, and no
    /// member may receive the answer before the message it answers (causal_violations, a
    /// core bound). Needs --senders 2 or more to answer anything.
    #[arg(long, value_name = "SHARE", default_value = "0", value_parser = crate::workload::chance)]
    pub replies: f64,

    /// SHARE:RATE: this share of the receiving members (spread evenly over the rooms) read
    /// at most RATE bytes a second (e.g. 5%:64KiB; 0 stops reading after the handshake),
    /// with a small receive buffer, as members on slow links do. Their figures are counted
    /// apart from the healthy members' (the summary's "By reader" table, `readers` in the
    /// result), so what they cost the others shows.
    #[arg(long, value_name = "SHARE:RATE")]
    pub slow_readers: Option<crate::workload::SlowReaders>,

    /// SHARE:LINK: this share of the receiving members (spread evenly over the rooms) reach
    /// the server over an impaired link, e.g. 10%:rtt=80ms,jitter=20ms,loss=1%,rate=1mbit
    /// (any of the four). Delay and jitter are added by a relay in user space; loss and rate
    /// are the kernel's (a network namespace pair joined by a veth link with tbf and
    /// nf_tables drops: real TCP retransmits), which needs root. Their figures are counted
    /// apart from the healthy members' (the "By reader" table, `readers` in the result). A
    /// member is impaired or a slow reader, never both.
    #[arg(long, value_name = "SHARE:LINK")]
    pub impair: Option<crate::workload::Impair>,

    /// As --churn, given as a member's mean time in the room (e.g. 5s).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub session: Option<Duration>,

    /// A member whose connection ends without the run asking (a close frame, a reset, a
    /// refused handshake) connects again, as often as it needs to until the run ends, after
    /// an exponential backoff with full jitter (--reconnect-min doubling up to
    /// --reconnect-max). Each member is then held to what was sent while it was connected
    /// (missing counts only those); what was sent while it was away is reported apart.
    /// Such a run is held to the core contract but errors=0. Without --reconnect such a
    /// member is lost for good: what is sent after the loss is missing for it. With
    /// --workload, it and its bounds replace the file's [reconnect].
    #[arg(long)]
    pub reconnect: bool,

    /// Offer permessage-deflate on every connection as Chromium does, so a server that
    /// accepts compresses what it sends (loadgen inflates it; its own messages go plain).
    /// Off by default, for figures comparable across servers; the summary's Wire line says
    /// whether it was offered and on how many connections it was agreed.
    #[arg(long)]
    pub deflate: bool,

    /// --reconnect: the first backoff's bound.
    #[arg(long, default_value = "100ms", value_parser = duration, requires = "reconnect")]
    pub reconnect_min: Duration,

    /// --reconnect: the largest backoff's bound.
    #[arg(long, default_value = "5s", value_parser = duration, requires = "reconnect")]
    pub reconnect_max: Duration,

    /// Capacity search: step after step (each a full run: connect, warm-up, measure), the
    /// per-room rate grows from --rate by --sweep-factor while every --until bound holds, then
    /// bisects between the last step that held and the first that broke. Prints the steps and
    /// the capacity; --json writes every step's result (`reports render` draws the curve).
    #[arg(long, conflicts_with_all = ["shard", "shards", "start_at", "thresholds"])]
    pub sweep: bool,

    /// A bound each --sweep step must meet to hold, repeatable, in --threshold's words
    /// (p99<100ms when none is given). A step is also held to the core contract, as
    /// --threshold describes.
    #[arg(long = "until", value_name = "EXPR", requires = "sweep")]
    pub until: Vec<Threshold>,

    /// --sweep: the rate's factor from one step to the next until a step breaks.
    #[arg(long, default_value_t = 2.0, value_parser = above_one, requires = "sweep")]
    pub sweep_factor: f64,

    /// --sweep: bisect until the step that held and the one that broke are this close.
    #[arg(long, default_value = "10%", value_parser = percentage, requires = "sweep")]
    pub sweep_precision: f64,

    /// --sweep: the most steps in all.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..),
          requires = "sweep")]
    pub sweep_steps: u32,

    /// --sweep: the highest per-room rate to try.
    #[arg(long, value_name = "RATE", value_parser = positive_f64, requires = "sweep")]
    pub sweep_max: Option<f64>,

    /// Connect first, then start the warm-up at this instant: RFC 3339
    /// (2026-11-26T10:00:00Z) or Unix seconds. Shards given the same start together.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<StartAt>,
}

/// `--text`: x, words or words:FILE (a relative FILE from the working directory).
fn fill(s: &str) -> Result<Fill, String> {
    crate::workload::fill::parse(s, None)
}

fn positive_f64(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err("must be a number above zero".into());
    }
    Ok(v)
}

fn above_one(s: &str) -> Result<f64, String> {
    let v = positive_f64(s)?;
    if v <= 1.0 {
        return Err("must be above 1 (each step a higher rate)".into());
    }
    Ok(v)
}

/// `10%` or `0.1`: a fraction above zero.
fn percentage(s: &str) -> Result<f64, String> {
    let v = match s.trim().strip_suffix('%') {
        Some(pct) => positive_f64(pct)? / 100.0,
        None => positive_f64(s)?,
    };
    if v >= 10.0 {
        return Err("write the precision as e.g. 10% or 0.1".into());
    }
    Ok(v)
}

fn duration_or_zero(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 10s, 500ms or 2m)"))
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = duration_or_zero(s)?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

impl Opts {
    /// The run's workload: `--workload`'s file, or the one the flags mean.
    pub fn workload(&self) -> Result<Workload, WorkloadError> {
        match &self.workload {
            Some(path) => {
                let mut workload = file::read(path)?;
                // --reconnect given beside a file is the run's, over the file's.
                if let Some(flags) = self.flags_reconnect() {
                    workload.reconnect = Some(flags);
                }
                Ok(workload)
            }
            None => Ok(self.flags_workload()),
        }
    }

    /// The workload a run of flags means: one group of `--rooms` rooms of `--clients`
    /// members, one stage of `--duration` at rate 1.
    pub fn flags_workload(&self) -> Workload {
        let opts = self;
        Workload {
            seed: opts.seed,
            warmup: opts.warmup,
            settle: opts.settle,
            groups: vec![Group {
                name: FLAGS_GROUP.into(),
                rooms: opts.rooms,
                members: Members::Drawn(Dist::Fixed(u64::from(opts.clients))),
                senders: Senders::Count(opts.senders),
                activity: Activity::Even,
                rate: Rate::PerSecond(opts.rate),
                arrival: match opts.arrival {
                    Arrival::Fixed => Process::Fixed,
                    Arrival::Poisson => Process::Poisson,
                },
                size: opts.size.clone(),
                text: opts.text.clone(),
                session: opts.churn_session(),
                replies: opts.replies,
                slow_readers: opts.slow_readers,
                impair: opts.impair,
            }],
            stages: vec![Stage {
                name: FLAGS_STAGE.into(),
                duration: opts.duration,
                rate: 1.0,
                ramp: Duration::ZERO,
                members: 1.0,
            }],
            thresholds: Vec::new(),
            reconnect: opts.flags_reconnect(),
        }
    }

    /// What --reconnect, --reconnect-min and --reconnect-max say.
    fn flags_reconnect(&self) -> Option<Reconnect> {
        self.reconnect.then(|| Reconnect {
            min: self.reconnect_min,
            max: self.reconnect_max.max(self.reconnect_min),
        })
    }

    /// Whether each member is held to what was sent during its stays (`crate::window`):
    /// with churn or --reconnect.
    pub fn windows(&self) -> bool {
        self.churn_session().is_some() || self.reconnect
    }

    pub fn connections(&self) -> u64 {
        u64::from(self.rooms) * u64::from(self.clients)
    }

    /// With --churn or --session: a receiving member's mean time in its room before it
    /// leaves (`None` without churn, or with no member that only receives).
    pub fn churn_session(&self) -> Option<Duration> {
        let receivers = self.clients.saturating_sub(self.senders);
        match (self.session, self.churn) {
            (Some(d), _) => Some(d),
            (None, Some(rate)) if receivers > 0 => {
                Some(Duration::from_secs_f64(f64::from(receivers) / rate))
            }
            _ => None,
        }
    }
}
