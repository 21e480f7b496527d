//! Benchmark: the reference server and the yardstick (`examples/yardstick.rs`, a plain axum +
//! tokio broadcast server) side by side, in the same run, at the same steps of deliveries per
//! second; for each step and server: deliveries/s, fan-out p50/p99/max, loss, loadgen's own
//! send lateness, and CPU seconds per million deliveries of the server and of loadgen.
//!
//! ```text
//! cargo build --release -p reference-server -p loadgen --bins --examples
//! target/release/examples/max_rate                  # 100 rooms x 50 clients, 5 s per step
//! target/release/examples/max_rate --pin            # server on CPU 0, loadgen on CPU 1
//! target/release/examples/max_rate --repeat 3       # median of three runs per step
//! target/release/examples/max_rate --capacity       # each server's capacity (loadgen --sweep)
//! target/release/examples/max_rate --repeat 3 --workload workloads/hot-room.toml  # a workload
//! target/release/examples/max_rate --variant 'nodirect=--direct-write-below 0' \
//!     --servers reference,nodirect,yardstick        # the reference server with other flags
//! ```
//!
//! Each server runs as its own process (so its CPU time is its own) for the whole run; loadgen
//! runs in this process. With `--repeat`, the servers take turns within a step (round r starts
//! with the r-th server), so none is always measured first or last. A step "holds" when
//! p99 < `--p99-ms` (100) and nothing is lost; the table also marks steps with p99 < 2 ms. Beside the yardstick, each server is "ahead" on p50
//! and p99 when at most 5 % above the yardstick's (the noise of this shared machine), and on CPU
//! when at or below it. With `--repeat`, "round by round" is the lowest and highest of the
//! server's p50 and p99 as multiples of the yardstick's in the same round: a difference is
//! beyond the noise only when that whole range is on one side. The last lines count the steps
//! each server was ahead on, and those where it was behind (above 5 %) in every round.

mod server;
mod workloads;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;

use server::{Sampler, Server};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    rooms: u32,
    #[arg(long, default_value_t = 50)]
    clients: u32,
    /// Measured time per step.
    #[arg(long, default_value = "5s")]
    duration: String,
    /// The p99 bound of a step that holds, in milliseconds.
    #[arg(long, default_value_t = 100.0)]
    p99_ms: f64,
    /// Deliveries per second to try, in order (per-room rate = this / rooms / clients).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,5000,20000,50000,100000,1000000"
    )]
    steps: Vec<f64>,
    /// The servers to measure, in this order at every step.
    #[arg(long, value_delimiter = ',', default_value = "reference,yardstick")]
    servers: Vec<String>,
    /// Runs per step and server; the table shows the medians.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Servers on CPU 0, loadgen on CPU 1 (`taskset`): the server's capacity on one core.
    #[arg(long)]
    pin: bool,
    /// Instead of the fixed steps, search each server's capacity with loadgen's --sweep (from
    /// the first step, under p99 < --p99-ms and no loss) and print them side by side.
    #[arg(long)]
    capacity: bool,
    /// loadgen's worker threads (its `--workers`; default: one per core).
    #[arg(long)]
    loadgen_workers: Option<usize>,
    /// Another build of the reference server, measured as `reference@PATH` beside the others
    /// (add it to --servers as `other`): the same bench across two commits.
    #[arg(long, value_name = "PATH")]
    other_reference: Option<PathBuf>,
    /// The reference server with extra flags (split on whitespace; a word `VAR=VALUE` not
    /// starting with `-` is set in its environment), measured as NAME (add NAME to
    /// --servers): `--variant 'nodirect=--direct-write-below 0'`. Repeatable.
    #[arg(long, value_name = "NAME=FLAGS")]
    variant: Vec<String>,
    /// Instead of the steps, run each workload file (loadgen --workload; repeatable, e.g.
    /// workloads/*.toml) against every server in turns, --repeat rounds, and compare whole-room
    /// p99 and CPU per delivery beside the yardstick.
    #[arg(long, value_name = "FILE")]
    workload: Vec<PathBuf>,
}

/// The extra flags of the `--variant` named `name`, split on whitespace.
pub(crate) fn variant(args: &Args, name: &str) -> Option<Vec<String>> {
    args.variant.iter().find_map(|v| {
        let (n, flags) = v.split_once('=')?;
        (n == name).then(|| flags.split_whitespace().map(str::to_owned).collect())
    })
}

/// One measured step against one server.
#[derive(Debug, Clone, Copy)]
struct Step {
    deliveries_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Per message, until its first member had it and until the whole room had: the
    /// difference is how long the server took to go round a room.
    first_p50_ms: f64,
    whole_p50_ms: f64,
    missing: u64,
    lateness_p99_ms: f64,
    /// CPU seconds per million deliveries, over the measured window.
    server_cpu: f64,
    loadgen_cpu: f64,
}

async fn measure(args: &Args, server: &Server, per_room: f64) -> anyhow::Result<Step> {
    let warmup = Duration::from_secs(2);
    let workers = args
        .loadgen_workers
        .map(|n| vec!["--workers".to_owned(), n.to_string()])
        .unwrap_or_default();
    let opts = loadgen::Opts::try_parse_from(
        [
            "loadgen",
            "--quiet",
            "--target",
            &format!("http://127.0.0.1:{}", server.port),
            "--rooms",
            &args.rooms.to_string(),
            "--clients",
            &args.clients.to_string(),
            "--rate",
            &per_room.to_string(),
            "--duration",
            &args.duration,
            "--warmup",
            &format!("{}s", warmup.as_secs()),
            "--settle",
            "2s",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain(workers),
    )?;
    let sampler = Sampler::start(server.child.id().to_string());
    let origin = Instant::now();
    let r = loadgen::run(opts).await?;
    // The measured window on this clock: the ramp ends at its last sample, sending starts 50 ms
    // later, measuring after the warm-up (within the ramp's 100 ms sampling).
    let ramp_end = Duration::from_millis(r.ramp.last().map_or(0, |p| p.ms));
    let from = origin + ramp_end + Duration::from_millis(50) + warmup;
    let to = from + Duration::from_secs_f64(r.summary.measured_s);
    let (server_cpu, own_cpu) = sampler.between(from, to)?;
    let s = &r.summary;
    let millions = (s.delivered as f64 / 1e6).max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Step {
        deliveries_per_s: s.deliveries_per_s,
        p50_ms: ms(s.latency_us.p50),
        p99_ms: ms(s.latency_us.p99),
        max_ms: ms(s.latency_us.max),
        first_p50_ms: ms(s.first_us.p50),
        whole_p50_ms: ms(s.completion_us.p50),
        missing: s.missing + s.connections.failed,
        lateness_p99_ms: ms(s.send_lateness_us.p99),
        server_cpu: server_cpu / millions,
        loadgen_cpu: own_cpu / millions,
    })
}

/// The median of `values` (the upper one of an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of each figure over the runs of one step.
fn medians(runs: &[Step]) -> Step {
    let of = |f: fn(&Step) -> f64| median(runs.iter().map(f).collect());
    Step {
        deliveries_per_s: of(|s| s.deliveries_per_s),
        p50_ms: of(|s| s.p50_ms),
        p99_ms: of(|s| s.p99_ms),
        max_ms: of(|s| s.max_ms),
        first_p50_ms: of(|s| s.first_p50_ms),
        whole_p50_ms: of(|s| s.whole_p50_ms),
        missing: of(|s| s.missing as f64) as u64,
        lateness_p99_ms: of(|s| s.lateness_p99_ms),
        server_cpu: of(|s| s.server_cpu),
        loadgen_cpu: of(|s| s.loadgen_cpu),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX)?;
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if args.pin {
        // Threads started from now on (loadgen's workers) inherit this.
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .context("run taskset")?;
        if !status.success() {
            bail!("taskset could not pin this process to CPU 1");
        }
    }
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("no directory")?.to_path_buf();
    let servers = args
        .servers
        .iter()
        .map(|name| Server::start(name, &bin_dir, &args))
        .collect::<anyhow::Result<Vec<_>>>()?;

    if args.capacity {
        return capacities(&args, &servers).await;
    }
    if !args.workload.is_empty() {
        return workloads::table(&args, &servers).await;
    }
    step_table(&args, &servers).await
}

/// Every step for every server, median of --repeat runs, as a Markdown table; then per
/// server how often it was ahead of the yardstick.
async fn step_table(args: &Args, servers: &[Server]) -> anyhow::Result<()> {
    println!(
        "{} rooms x {} clients, 1 sender per room, {} measured per step, median of {} run(s){}; \
         holds: p99 < {} ms and nothing lost",
        args.rooms,
        args.clients,
        args.duration,
        args.repeat,
        if args.pin {
            ", server on CPU 0 and loadgen on CPU 1"
        } else {
            ", server and loadgen sharing every CPU"
        },
        args.p99_ms
    );
    println!(
        "| step/s | server | deliveries/s | p50 ms | p99 ms | max ms | first / whole room p50 ms | lost | holds | \
         p50 / p99 / CPU vs yardstick | ahead on p50 / p99 / CPU | p50 / p99 vs yardstick, round by round | \
         loadgen lateness p99 ms | server CPU s/M | loadgen CPU s/M |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // Per server: steps where it was ahead of the yardstick on p50, p99, CPU; steps with loss;
    // steps where it was behind on p50 or p99 in every round.
    let mut tally = vec![[0usize; 6]; servers.len()];
    let per_step = f64::from(args.rooms) * f64::from(args.clients);
    for step in &args.steps {
        // The servers take turns, each round starting one further along, so that a drift in
        // the machine's speed during a step falls on every server alike.
        let mut runs = vec![Vec::with_capacity(args.repeat); servers.len()];
        for round in 0..args.repeat {
            for k in 0..servers.len() {
                let i = (round + k) % servers.len();
                runs[i].push(measure(args, &servers[i], step / per_step).await?);
            }
        }
        let measured: Vec<Step> = runs.iter().map(|r| medians(r)).collect();
        // Each server's p50 and p99 as multiples of the yardstick's in the same step.
        let yardstick = servers.iter().position(|s| s.name == "yardstick");
        for (i, (server, m)) in servers.iter().zip(&measured).enumerate() {
            let tally = &mut tally[i];
            let holds = m.p99_ms < args.p99_ms && m.missing == 0;
            let (ratio, ahead, rounds) = match yardstick {
                Some(y) if i != y => {
                    let v = Versus::of(m, &measured[y]);
                    for (count, yes) in tally.iter_mut().zip(v.ahead()) {
                        *count += usize::from(yes);
                    }
                    let rounds = Rounds::of(&runs[i], &runs[y]);
                    tally[4] += usize::from(rounds.p50.0 > Versus::LEVEL);
                    tally[5] += usize::from(rounds.p99.0 > Versus::LEVEL);
                    (v.ratios(), v.verdict(), rounds.to_string())
                }
                _ => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
            };
            tally[3] += usize::from(m.missing > 0);
            println!(
                "| {step:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} | {} | {}{} | {ratio} | {ahead} | {rounds} | {:.3} | {:.2} | {:.2} |",
                server.name,
                m.deliveries_per_s,
                m.p50_ms,
                m.p99_ms,
                m.max_ms,
                m.first_p50_ms,
                m.whole_p50_ms,
                m.missing,
                if holds { "yes" } else { "no" },
                if holds && m.p99_ms < 2.0 {
                    " (< 2 ms)"
                } else {
                    ""
                },
                m.lateness_p99_ms,
                m.server_cpu,
                m.loadgen_cpu,
            );
        }
    }
    println!(
        "\nloadgen's own ceiling: 1 / (loadgen CPU s/M) million frames received per CPU-second."
    );
    if servers.iter().any(|s| s.name == "yardstick") {
        let steps = args.steps.len();
        for (server, [p50, p99, cpu, lossy, behind50, behind99]) in servers.iter().zip(&tally) {
            if server.name != "yardstick" {
                println!(
                    "{}: ahead of the yardstick on p50 at {p50} of {steps} steps, on p99 at {p99}, \
                     on CPU at {cpu}; lost messages at {lossy}; behind in every round on p50 at \
                     {behind50}, on p99 at {behind99}",
                    server.name
                );
            }
        }
    }
    Ok(())
}

/// A server's medians beside the yardstick's in the same step.
struct Versus {
    p50: f64,
    p99: f64,
    cpu: f64,
}

impl Versus {
    /// Latency within this share above the yardstick's counts as level: the spread of
    /// repeated runs on a shared machine.
    const LEVEL: f64 = 1.05;

    fn of(m: &Step, yardstick: &Step) -> Self {
        Self {
            p50: m.p50_ms / yardstick.p50_ms,
            p99: m.p99_ms / yardstick.p99_ms,
            cpu: m.server_cpu / yardstick.server_cpu,
        }
    }

    fn ahead(&self) -> [bool; 3] {
        [
            self.p50 <= Self::LEVEL,
            self.p99 <= Self::LEVEL,
            self.cpu <= 1.0,
        ]
    }

    fn ratios(&self) -> String {
        format!("{:.2} / {:.2} / {:.2}", self.p50, self.p99, self.cpu)
    }

    fn verdict(&self) -> String {
        let word = |yes: bool| if yes { "yes" } else { "no" };
        let [p50, p99, cpu] = self.ahead();
        format!("{} / {} / {}", word(p50), word(p99), word(cpu))
    }
}

/// A server's p50 and p99 as multiples of the yardstick's in the same round of a step, the
/// lowest and highest over the rounds: a difference is beyond the noise only when the whole
/// range lies on one side of 1.
struct Rounds {
    p50: (f64, f64),
    p99: (f64, f64),
}

impl Rounds {
    fn of(runs: &[Step], yardstick: &[Step]) -> Self {
        let range = |f: fn(&Step) -> f64| {
            runs.iter()
                .zip(yardstick)
                .map(|(m, y)| f(m) / f(y))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                    (lo.min(r), hi.max(r))
                })
        };
        Self {
            p50: range(|s| s.p50_ms),
            p99: range(|s| s.p99_ms),
        }
    }
}

impl std::fmt::Display for Rounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ((a, b), (c, d)) = (self.p50, self.p99);
        write!(f, "{a:.2}-{b:.2} / {c:.2}-{d:.2}")
    }
}

/// `--capacity`: each server's capacity by loadgen's own search, side by side.
async fn capacities(args: &Args, servers: &[Server]) -> anyhow::Result<()> {
    let per_step = f64::from(args.rooms) * f64::from(args.clients);
    let first = args.steps.first().copied().unwrap_or(50_000.0) / per_step;
    println!(
        "| server | capacity (deliveries/s) | broke at | steps | under |\n|---|---|---|---|---|"
    );
    for server in servers {
        let opts = loadgen::Opts::try_parse_from([
            "loadgen".to_owned(),
            "--quiet".into(),
            "--target".into(),
            format!("http://127.0.0.1:{}", server.port),
            "--rooms".into(),
            args.rooms.to_string(),
            "--clients".into(),
            args.clients.to_string(),
            "--duration".into(),
            args.duration.clone(),
            "--sweep".into(),
            "--rate".into(),
            first.to_string(),
            "--until".into(),
            format!("p99<{}ms", args.p99_ms),
            "--until".into(),
            "loss=0".into(),
        ])?;
        let mut n = 0;
        let sweep = loadgen::sweep::sweep(opts, |step| {
            n += 1;
            eprintln!(
                "{}: {}",
                server.name,
                loadgen::sweep_summary::step_line(n, step)
            );
        })
        .await?;
        let shown = |c: Option<run_result::sweep::Capacity>| {
            c.map_or("-".to_owned(), |c| format!("{:.0}", c.offered_per_s))
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            server.name,
            shown(sweep.capacity),
            shown(sweep.broke_at),
            sweep.steps.len(),
            sweep.bounds.join(", ")
        );
    }
    Ok(())
}
