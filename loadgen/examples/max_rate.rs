//! Benchmark: the highest per-room rate at which the reference server keeps p99 fan-out
//! latency under a bound with zero loss, and the CPU time loadgen and the server each used.
//!
//! ```text
//! cargo build --release -p reference-server -p loadgen --bins --examples
//! target/release/examples/max_rate            # 100 rooms x 50 clients, p99 < 10 ms
//! ```
//!
//! The server runs as its own process (so its CPU time is its own); loadgen runs in this
//! process. Rates go up step by step; the run stops at the first step that breaks the bound.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    rooms: u32,
    #[arg(long, default_value_t = 50)]
    clients: u32,
    /// Measured seconds per step.
    #[arg(long, default_value = "10s")]
    duration: String,
    /// The p99 bound, in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    p99_ms: f64,
    /// Per-room rates to try, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,20,40,60,80,100,120,160,200,250,300,400"
    )]
    rates: Vec<f64>,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU seconds of a process, from /proc (clock ticks of 100 Hz).
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')').context("odd /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / 100.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX)?;
    let exe = std::env::current_exe()?;
    let server_bin = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("reference-server"))
        .filter(|p| p.exists())
        .context("build the server first: cargo build --release -p reference-server")?;
    let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let server = Killed(
        Command::new(&server_bin)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the server")?,
    );
    let server_pid = server.0.id().to_string();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("the server did not come up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!(
        "{} rooms x {} clients, 1 sender per room, {} per step, bound p99 < {} ms, zero loss",
        args.rooms, args.clients, args.duration, args.p99_ms
    );
    println!(
        "{:>8} {:>12} {:>9} {:>9} {:>9} {:>8} {:>12} {:>12}",
        "rate/room",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "missing",
        "loadgen cpu",
        "server cpu"
    );
    let mut best = None;
    for rate in &args.rates {
        let server_cpu = cpu_seconds(&server_pid)?;
        let own_cpu = cpu_seconds("self")?;
        let opts = loadgen::Opts::try_parse_from([
            "loadgen",
            "--quiet",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--rooms",
            &args.rooms.to_string(),
            "--clients",
            &args.clients.to_string(),
            "--rate",
            &rate.to_string(),
            "--duration",
            &args.duration,
            "--warmup",
            "2s",
            "--settle",
            "2s",
        ])?;
        let r = loadgen::run(opts).await?;
        let server_cpu = cpu_seconds(&server_pid)? - server_cpu;
        let own_cpu = cpu_seconds("self")? - own_cpu;
        let s = &r.summary;
        let p99_ms = s.latency_us.p99 as f64 / 1000.0;
        println!(
            "{:>8} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>11.1}s {:>11.1}s",
            rate,
            s.deliveries_per_s,
            s.latency_us.p50 as f64 / 1000.0,
            p99_ms,
            s.latency_us.max as f64 / 1000.0,
            s.missing,
            own_cpu,
            server_cpu
        );
        if p99_ms >= args.p99_ms || s.missing > 0 || s.connections.failed > 0 {
            break;
        }
        best = Some((*rate, s.deliveries_per_s));
    }
    match best {
        Some((rate, dps)) => {
            println!("highest rate within the bound: {rate}/s per room = {dps:.0} deliveries/s")
        }
        None => println!("no rate kept within the bound"),
    }
    Ok(())
}
