//! `--impair SHARE:LINK`: a share of the receiving members reach the server over an impaired
//! link. Delay and jitter (a relay in user space) raise the impaired members' latency by the
//! delay and not the healthy members'; loss (a kernel link: network namespaces, veth,
//! nf_tables drops) makes TCP really retransmit, counted by the kernel and seen in the
//! impaired tail. Nothing the link needs is left behind after a run, a failed run, Ctrl-C
//! or a killed run; without root a kernel link is refused in one line before connecting.
//!
//! The kernel tests need root, as CI runs them; they fail (not skip) without it.

mod common;

use std::process::Command;

/// 4 rooms of 10 members, one sender each at 20 messages a second: 36 receivers.
const LOAD: &[&str] = &[
    "--rooms",
    "4",
    "--clients",
    "10",
    "--rate",
    "20",
    "--duration",
    "4s",
    "--warmup",
    "0s",
    "--settle",
    "2s",
    "--no-json",
];

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// This tool's network namespaces of process `pid` (`lg<pid>-<group>r` and `...m`).
fn namespaces_of(pid: u32) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("lg{pid}-")))
        .map(str::to_owned)
        .collect()
}

fn assert_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test builds kernel links and must run as root (CI does)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impaired_groups_latency_rises_by_the_delay_and_the_healthys_does_not() {
    let _one = common::ONE_AT_A_TIME.lock().await;
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let url = server.http_url();
    let mut args = vec![
        "--target",
        url.as_str(),
        "--impair",
        "25%:rtt=120ms,jitter=40ms",
    ];
    args.extend_from_slice(LOAD);
    let r = common::run(&args).await;
    let names: Vec<&str> = r.readers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["healthy", "impaired (rtt=120ms,jitter=40ms)"]);
    let (healthy, impaired) = (&r.readers[0], &r.readers[1]);
    // 36 receivers, a quarter of them impaired.
    assert_eq!((healthy.members, impaired.members), (Some(31), Some(9)));
    assert_eq!((healthy.missing, impaired.missing), (0, 0), "{r:?}");
    assert!(impaired.delivered > 0);
    // Each delivery to an impaired member is held 60 ms +- 20 ms on the way in.
    let (i, h) = (&impaired.latency_us, &healthy.latency_us);
    assert!(ms(i.p50) >= 55.0, "impaired p50 {} ms", ms(i.p50));
    assert!(
        ms(i.p50) >= ms(h.p50) + 40.0,
        "impaired {i:?}, healthy {h:?}"
    );
    assert!(ms(i.max) <= 200.0, "impaired max {} ms", ms(i.max));
    // The healthy members are not held (their p99 far below the delay).
    assert!(ms(h.p99) < 30.0, "healthy p99 {} ms", ms(h.p99));
    // No kernel link: no retransmit figures.
    assert!(impaired.retransmits.is_none());
    // The parts add up to the run.
    assert_eq!(healthy.delivered + impaired.delivered, r.summary.delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_drops_make_tcp_retransmit_and_stretch_the_impaired_tail() {
    assert_root();
    let _one = common::ONE_AT_A_TIME.lock().await;
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let url = server.http_url();
    let mut args = vec!["--target", url.as_str(), "--impair", "25%:loss=5%"];
    args.extend_from_slice(LOAD);
    let r = common::run(&args).await;
    let (healthy, impaired) = (&r.readers[0], &r.readers[1]);
    assert_eq!(impaired.name, "impaired (loss=0.05)");
    // TCP recovers every drop: nothing is lost, only late.
    assert_eq!((healthy.missing, impaired.missing), (0, 0), "{r:?}");
    // 5 % of about 80 segments a second to each of 9 members for 6 s: dozens of drops,
    // each retransmitted (the relay's namespace counts them: it holds only this link).
    let retransmits = impaired.retransmits.expect("a kernel link's retransmits");
    assert!(retransmits.to_members >= 10, "{retransmits:?}");
    // A dropped delivery waits for its retransmission: the impaired tail stretches, the
    // healthy members' does not.
    let (i, h) = (&impaired.latency_us, &healthy.latency_us);
    assert!(
        ms(i.p99) >= ms(h.p99) + 10.0,
        "impaired p99 {} ms, healthy p99 {} ms",
        ms(i.p99),
        ms(h.p99)
    );
    assert!(ms(h.p99) < 30.0, "healthy p99 {} ms", ms(h.p99));
    assert!(namespaces_of(std::process::id()).is_empty());
    // The result says so as its schema describes.
    let json = serde_json::to_value(&r).expect("JSON");
    assert_eq!(
        json["readers"][1]["retransmits"]["to_members"],
        retransmits.to_members
    );
    assert_eq!(testkit::result_schema_errors(&json), Vec::<String>::new());
}

#[test]
fn ctrl_c_a_failed_run_and_a_killed_run_leave_no_link_behind() {
    assert_root();
    // Interrupted while sending: the run ends as interrupted runs do and takes its link.
    let (mut child, lines) = common::child::spawn(&[
        "--rooms",
        "2",
        "--clients",
        "4",
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--impair",
        "50%:loss=1%,rate=10mbit",
        "--no-json",
    ]);
    let pid = child.id();
    common::child::until_sending(&lines);
    assert_eq!(namespaces_of(pid).len(), 2, "the link is up while sending");
    common::child::interrupt(&child);
    assert_eq!(child.wait().expect("ends").code(), Some(130));
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "after Ctrl-C");

    // A run that fails (nothing listens at the target) takes its link too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (mut child, _lines) = common::child::spawn(&[
        "--target",
        &url,
        "--rooms",
        "1",
        "--clients",
        "2",
        "--duration",
        "1s",
        "--impair",
        "50%:loss=1%",
        "--no-json",
    ]);
    let pid = child.id();
    assert_eq!(child.wait().expect("ends").code(), Some(1));
    assert_eq!(
        namespaces_of(pid),
        Vec::<String>::new(),
        "after a failed run"
    );

    // A killed run cannot clean up: the next run with a kernel link sweeps what it left.
    let (mut child, lines) = common::child::spawn(&[
        "--rooms",
        "1",
        "--clients",
        "2",
        "--duration",
        "60s",
        "--impair",
        "50%:loss=1%",
        "--no-json",
    ]);
    let pid = child.id();
    common::child::until_sending(&lines);
    child.kill().expect("SIGKILL");
    child.wait().expect("ends");
    assert_eq!(namespaces_of(pid).len(), 2, "a killed run leaves its link");
    let (mut next, _lines) = common::child::spawn(&[
        "--rooms",
        "1",
        "--clients",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--impair",
        "50%:loss=1%",
        "--no-json",
    ]);
    assert_eq!(next.wait().expect("ends").code(), Some(0));
    assert_eq!(
        namespaces_of(pid),
        Vec::<String>::new(),
        "swept by the next run"
    );
    assert_eq!(namespaces_of(next.id()), Vec::<String>::new());
}

#[test]
fn without_root_a_kernel_link_is_refused_in_one_line_before_connecting() {
    use std::os::unix::fs::PermissionsExt;
    assert_root();
    // The binary where user nobody can run it.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = dir.path().join("loadgen");
    std::fs::copy(env!("CARGO_BIN_EXE_loadgen"), &binary).expect("copy");
    // A target that counts what connects to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args([
            "--target",
            &url,
            "--rooms",
            "1",
            "--clients",
            "2",
            "--no-json",
        ])
        .args(["--impair", "50%:rtt=50ms,loss=1%"])
        .current_dir(dir.path())
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("needs root"), "{stderr}");
    assert!(lines[0].contains("rtt= and jitter="), "{stderr}");
    assert!(listener.accept().is_err(), "nothing connected");
}
