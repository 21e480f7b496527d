//! The kernel's half of an impaired link: two network namespaces, the relay's and the
//! members', joined by a veth pair (`wan`, 10.0.0.1 and 10.0.0.2), with a `tbf` rate limit
//! on each end and an nf_tables rule on each end's ingress that drops packets at random:
//! TCP meets real loss and really retransmits, and each namespace holds only this link's
//! sockets, so its TCP counters are the link's own. Built with `ip`, `tc` and `nft` (the
//! same commands, to type by hand, are in docs/loadgen.md); removed by deleting the two
//! namespaces, which takes the veth, its qdiscs and rules with them.
//!
//! A socket belongs to the namespace of the thread that made it: each namespace has a thread
//! of its own that entered it and makes sockets on request.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::{Context, bail};

use crate::workload::Link;

/// The relay's end of the link.
pub const RELAY_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The members' end.
pub const MEMBER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Names of this tool's namespaces: `lg<pid>-<group>r` and `lg<pid>-<group>m`.
const PREFIX: &str = "lg";

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace of this process, and the thread inside it.
#[derive(Debug)]
pub struct Namespace {
    pub name: String,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Namespace {
    /// `ip netns add name` and a thread inside it.
    fn add(name: String) -> anyhow::Result<Self> {
        ip(&["netns", "add", &name])?;
        let mut ns = Self {
            name,
            jobs: None,
            thread: None,
        };
        let file = File::open(format!("/run/netns/{}", ns.name))
            .with_context(|| format!("open network namespace {}", ns.name))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (entered, entry) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("netns-{}", ns.name))
            .spawn(move || {
                let result = rustix::thread::move_into_link_name_space(
                    std::os::fd::AsFd::as_fd(&file),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                );
                let ok = result.is_ok();
                let _ = entered.send(result);
                if ok {
                    for job in queue {
                        job();
                    }
                }
            })
            .context("thread for a network namespace")?;
        ns.thread = Some(thread);
        ns.jobs = Some(jobs);
        entry
            .recv()
            .context("the namespace's thread ended")?
            .with_context(|| format!("enter network namespace {}", ns.name))?;
        Ok(ns)
    }

    /// Runs `f` on the namespace's thread (sockets it makes are the namespace's).
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        let gone = || std::io::Error::other("the network namespace's thread has ended");
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())
    }

    /// The namespace's TCP segments retransmitted so far (`RetransSegs`).
    pub fn retransmits(&self) -> Option<u64> {
        let snmp = self
            .run(|| std::fs::read_to_string("/proc/thread-self/net/snmp"))
            .ok()?
            .ok()?;
        retrans_segs(&snmp)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Err(e) = ip(&["netns", "delete", &self.name]) {
            tracing::warn!("could not remove network namespace {}: {e:#}", self.name);
        }
    }
}

/// `RetransSegs` of /proc/net/snmp's Tcp lines.
fn retrans_segs(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "RetransSegs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// The two namespaces of one impaired group's link. Field order is drop order: the
/// members' namespace goes first.
#[derive(Debug)]
pub struct Pair {
    pub members: Namespace,
    pub relay: Namespace,
}

impl Pair {
    /// Builds group `group`'s link: the namespaces, the veth, the addresses, the rate limit
    /// and the drops. Anything built is removed again if a later step fails.
    pub fn build(group: usize, link: &Link) -> anyhow::Result<Self> {
        let base = format!("{PREFIX}{}-{group}", std::process::id());
        let relay = Namespace::add(format!("{base}r"))?;
        let members = Namespace::add(format!("{base}m"))?;
        let pair = Self { members, relay };
        let (r, m) = (pair.relay.name.as_str(), pair.members.name.as_str());
        ip(&[
            "link", "add", "wan", "netns", r, "type", "veth", "peer", "name", "wan", "netns", m,
        ])?;
        for (ns, addr) in [(r, RELAY_ADDR), (m, MEMBER_ADDR)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", "wan"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", "wan", "up"])?;
            if let Some(rate) = link.rate {
                tc(ns, rate)?;
            }
            if link.loss > 0.0 {
                drops(ns, link.loss)?;
            }
        }
        Ok(pair)
    }

    /// Where the relay listens for group members: the relay's end, any port.
    pub fn relay_bind() -> SocketAddr {
        SocketAddr::from((RELAY_ADDR, 0))
    }
}

/// A `tbf` of `rate` bits a second on `ns`'s end: a burst of 10 ms at the rate (at least
/// two full frames), packets queued up to 200 ms behind it.
fn tc(ns: &str, rate: u64) -> anyhow::Result<()> {
    let burst = (rate / 8 / 100).max(3028);
    run(Command::new(tool("tc")).args([
        "-n",
        ns,
        "qdisc",
        "add",
        "dev",
        "wan",
        "root",
        "tbf",
        "rate",
        &format!("{rate}bit"),
        "burst",
        &burst.to_string(),
        "latency",
        "200ms",
    ]))
}

/// An nf_tables rule on `ns`'s end that drops arriving packets with chance `loss`, before
/// the IP stack sees them (a netdev ingress hook, as a lossy wire would).
fn drops(ns: &str, loss: f64) -> anyhow::Result<()> {
    let below = (loss * 1e6).round() as u64;
    let rules = format!(
        "table netdev impair {{\n  chain wan {{\n    type filter hook ingress device \"wan\" \
         priority 0; policy accept;\n    numgen random mod 1000000 < {below} drop\n  }}\n}}\n"
    );
    run_with_input(
        Command::new(tool("ip"))
            .args(["netns", "exec", ns])
            .arg(tool("nft"))
            .args(["-f", "-"]),
        &rules,
    )
}

/// Removes the namespaces of this tool's runs that ended without removing them (a process
/// killed with SIGKILL): those named for a process that no longer exists.
pub fn sweep_stale() {
    let Ok(out) = Command::new(tool("ip")).args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = name.ends_with('r') || name.ends_with('m');
        if ours && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!("removing network namespace {name} left by ended process {pid}");
            let _ = ip(&["netns", "delete", name]);
        }
    }
}

/// What a kernel link needs: root and the three tools. The error is one line.
pub fn check() -> anyhow::Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!(
            "--impair with loss= or rate= builds a kernel link (network namespaces, tbf, \
             nf_tables) and needs root: run as root, or keep to rtt= and jitter= (no root needed)"
        );
    }
    for name in ["ip", "tc", "nft"] {
        if Command::new(tool(name)).arg("-V").output().is_err() {
            bail!(
                "--impair with loss= or rate= needs `{name}`: install iproute2 and nftables (scripts/setup does)"
            );
        }
    }
    Ok(())
}

/// `name` from PATH, or /usr/sbin (where Debian puts them, not always on a user's PATH).
fn tool(name: &str) -> String {
    let sbin = format!("/usr/sbin/{name}");
    if std::path::Path::new(&sbin).exists() {
        sbin
    } else {
        name.to_string()
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    run(Command::new(tool("ip")).args(args))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}").replace('"', "");
    let out = command.output().with_context(|| format!("run {shown}"))?;
    succeeded(&shown, &out)
}

/// Runs `command` with `input` on its standard input (nft reads its rules so: `-f -`).
fn run_with_input(command: &mut Command, input: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let shown = format!("{command:?}").replace('"', "");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {shown}"))?;
    let mut stdin = child.stdin.take().context("the child's standard input")?;
    let written = stdin.write_all(input.as_bytes());
    // Closed before waiting: the tool reads to the end of its input.
    drop(stdin);
    let out = child
        .wait_with_output()
        .with_context(|| format!("run {shown}"))?;
    written.with_context(|| format!("write the input of {shown}"))?;
    succeeded(&shown, &out)
}

fn succeeded(shown: &str, out: &std::process::Output) -> anyhow::Result<()> {
    if !out.status.success() {
        bail!("{shown}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retransmitted_segments() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RetransSegs InErrs\nTcp: 1 200 42 0\nUdp: InDatagrams\nUdp: 3\n";
        assert_eq!(retrans_segs(snmp), Some(42));
        assert_eq!(retrans_segs("Tcp: A\n"), None);
    }
}
