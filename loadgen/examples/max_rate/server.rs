//! The servers `max_rate` measures, each its own process, and the CPU time they and this
//! process spend, sampled so that only a measured window is counted.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::{Args, variant};

/// A server process, killed when dropped.
pub struct Server {
    pub name: String,
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(name: &str, bin_dir: &Path, args: &Args) -> anyhow::Result<Self> {
        let pin = args.pin;
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let bind = format!("127.0.0.1:{port}");
        let (bin, argv): (PathBuf, Vec<String>) = match (name, &args.other_reference) {
            ("reference", _) => (
                bin_dir.join("../reference-server"),
                vec!["--bind".into(), bind],
            ),
            ("yardstick", _) => (bin_dir.join("yardstick"), vec![bind]),
            ("other", Some(path)) => (path.clone(), vec!["--bind".into(), bind]),
            ("other", None) => bail!("--servers other needs --other-reference PATH"),
            (other, _) => match variant(args, other) {
                Some(flags) => (
                    bin_dir.join("../reference-server"),
                    ["--bind".to_owned(), bind]
                        .into_iter()
                        .chain(flags)
                        .collect(),
                ),
                None => bail!(
                    "--servers: unknown server {other:?} (reference, yardstick, other, or a --variant NAME)"
                ),
            },
        };
        if !bin.exists() {
            bail!(
                "{} is missing: cargo build --release -p reference-server -p loadgen --bins --examples",
                bin.display()
            );
        }
        let mut command = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        // A variant's `VAR=VALUE` words go to the environment, the rest are flags.
        let (env, argv): (Vec<String>, Vec<String>) = argv
            .into_iter()
            .partition(|a| !a.starts_with('-') && a.contains('=') && !a.starts_with('='));
        let child = command
            .args(&argv)
            .envs(env.iter().filter_map(|e| e.split_once('=')))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let server = Self {
            name: name.into(),
            child,
            port,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{name} did not come up");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
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

/// CPU seconds of the server and of this process, sampled every 50 ms while a step runs, so
/// that only the measured window is counted (not the ramp-up, warm-up or settle).
pub struct Sampler {
    samples: Arc<Mutex<Vec<(Instant, f64, f64)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(server_pid: String) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if let (Ok(server), Ok(own)) = (cpu_seconds(&server_pid), cpu_seconds("self")) {
                        let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
                        s.push((Instant::now(), server, own));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Self {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// (server, own) CPU seconds between the samples nearest `from` and `to`.
    pub fn between(mut self, from: Instant, to: Instant) -> anyhow::Result<(f64, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let nearest = |at: Instant| {
            samples
                .iter()
                .min_by_key(|(t, _, _)| if *t > at { *t - at } else { at - *t })
                .copied()
                .context("no CPU samples")
        };
        let ((_, s0, o0), (_, s1, o1)) = (nearest(from)?, nearest(to)?);
        Ok((s1 - s0, o1 - o0))
    }
}
