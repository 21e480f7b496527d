//! The machine's floor under loadgen's send lateness: how late a send can leave here with no
//! load at all. Two figures:
//!
//! - **stalls**: a thread that only reads the clock, in a loop, for `--seconds`; every gap
//!   between two reads longer than 20 µs is time the thread did not run (the hypervisor or
//!   the kernel took the CPU). No timer can beat these.
//! - **pacer**: loadgen's own pacer (`loadgen::pacer`) on an otherwise idle runtime, waking
//!   one send every `gap` for `--seconds`, at a few gaps; its lateness is what a run would
//!   report as `send lateness` if nothing else ran; beside it, `std::thread::sleep` to the same
//!   times (the kernel's timer with its default 50 µs slack, and no early wake-up), and a
//!   blocking read of a `timerfd` (the kernel's timer alone).
//!
//! ```text
//! cargo build --release -p loadgen --examples
//! target/release/examples/send_floor --seconds 3
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use loadgen::pacer::Pacer;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};

#[derive(Parser, Debug)]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Gaps between sends for the pacer, in microseconds.
    #[arg(long, value_delimiter = ',', default_value = "10000,1000,200")]
    gaps_us: Vec<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be above 0"
    );
    let span = Duration::from_secs_f64(args.seconds);
    stalls(span);
    println!("| one send every | timer | sends | lateness p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    for gap in args.gaps_us {
        anyhow::ensure!(gap > 0, "--gaps-us: a gap must be above 0");
        row(gap, "loadgen's pacer", pace(span, gap)?);
        row(gap, "thread::sleep", sleep(span, gap)?);
        row(gap, "timerfd read", timerfd(span, gap)?);
    }
    Ok(())
}

fn row(gap_us: u64, timer: &str, mut late: Vec<u64>) {
    late.sort_unstable();
    let at = |q: f64| late[((late.len() - 1) as f64 * q) as usize];
    println!(
        "| {gap_us} µs | {timer} | {} | {} µs | {} µs | {} µs | {} µs |",
        late.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// The kernel's own sleep, for comparison: `std::thread::sleep` to each due time.
fn sleep(span: Duration, gap_us: u64) -> anyhow::Result<Vec<u64>> {
    blocking(span, gap_us, |wait| {
        std::thread::sleep(wait);
        Ok(())
    })
}

/// The kernel's timer without a runtime: a blocking `read` of a `timerfd` armed to each due
/// time (no slack, no early wake-up).
fn timerfd(span: Duration, gap_us: u64) -> anyhow::Result<Vec<u64>> {
    let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)?;
    blocking(span, gap_us, |wait| {
        let spec = Itimerspec {
            it_interval: Timespec::default(),
            // A zero value would disarm the timer: at least 1 µs.
            it_value: Timespec::try_from(wait.max(Duration::from_micros(1)))?,
        };
        timerfd_settime(&fd, TimerfdTimerFlags::empty(), &spec)?;
        rustix::io::read(&fd, &mut [0u8; 8])?;
        Ok(())
    })
}

/// One due time every `gap_us` for `span`, each waited for by `wait(time left)` on this
/// thread: the lateness of each, µs.
fn blocking(
    span: Duration,
    gap_us: u64,
    mut wait: impl FnMut(Duration) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<u64>> {
    let clock = Instant::now();
    let end = span.as_micros() as u64;
    let mut late = Vec::new();
    let mut at = gap_us;
    while at < end {
        let now = clock.elapsed().as_micros() as u64;
        wait(Duration::from_micros(at.saturating_sub(now)))?;
        late.push((clock.elapsed().as_micros() as u64).saturating_sub(at));
        at += gap_us;
    }
    Ok(late)
}

/// Spins on the clock for `span` and prints the gaps.
fn stalls(span: Duration) {
    let start = Instant::now();
    let mut last = start;
    let mut gaps = Vec::new();
    while last - start < span {
        let now = Instant::now();
        let gap = now - last;
        if gap > Duration::from_micros(20) {
            gaps.push(gap.as_micros() as u64);
        }
        last = now;
    }
    let lost: u64 = gaps.iter().sum();
    let over = |us: u64| gaps.iter().filter(|g| **g > us).count();
    println!(
        "stalls of a spinning thread over {:.1} s: {:.2} % of the time lost in {} gaps over 20 µs; \
         {} over 100 µs, {} over 1 ms, longest {} µs",
        span.as_secs_f64(),
        lost as f64 / span.as_micros() as f64 * 100.0,
        gaps.len(),
        over(100),
        over(1_000),
        gaps.iter().max().copied().unwrap_or(0)
    );
}

/// loadgen's pacer alone: one send due every `gap_us` for `span`; the lateness of each, µs.
fn pace(span: Duration, gap_us: u64) -> anyhow::Result<Vec<u64>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let clock = Instant::now();
        let pacer = Pacer::start(clock)?;
        let end = span.as_micros() as u64;
        let mut late = Vec::new();
        let mut at = gap_us;
        while at < end {
            pacer.until(at).await;
            late.push(clock.elapsed().as_micros() as u64 - at);
            at += gap_us;
        }
        Ok(late)
    })
}
