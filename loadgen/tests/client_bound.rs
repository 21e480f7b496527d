//! loadgen knows when it is the bottleneck: starved of CPU (its one worker pinned to a core
//! beside busy loops) it reports the run client-bound, in the result and the summary; with
//! the CPU to spare, its worker is not busy.

mod common;

use std::process::{Child, Command, Stdio};

use fault_server::Faults;
use run_result::RunResult;
use run_result::client::{BUSY, STARVED};

/// Busy loops pinned to CPU 0, killed when dropped.
struct Hogs(Vec<Child>);

impl Hogs {
    fn on_cpu0(n: usize) -> Self {
        Self(
            (0..n)
                .map(|_| {
                    Command::new("taskset")
                        .args(["-c", "0", "sh", "-c", "while :; do :; done"])
                        .spawn()
                        .expect("taskset (util-linux) runs")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the loadgen binary (pinned to CPU 0 when `pinned`) and reads its result and summary.
fn loadgen(target: &str, pinned: bool, load: &[&str]) -> (RunResult, String) {
    let dir = tempfile::tempdir().expect("dir");
    let json = dir.path().join("run.json");
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", env!("CARGO_BIN_EXE_loadgen")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
    };
    let out = cmd
        .args(["--target", target, "--workers", "1", "--quiet"])
        .args(load)
        .args(["--threshold", "loss<100%", "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .output()
        .expect("loadgen runs");
    let summary =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    let result =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("result")).expect("a result");
    (result, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starved_loadgen_says_it_is_client_bound_and_a_light_one_does_not() {
    let server = fault_server::spawn(Faults::default())
        .await
        .expect("server");
    let url = server.url();
    let load = [
        "--rooms",
        "20",
        "--clients",
        "20",
        "--rate",
        "40",
        "--duration",
        "3s",
        "--warmup",
        "500ms",
    ];

    let (starved, summary) = {
        let _hogs = Hogs::on_cpu0(2);
        let url = url.clone();
        tokio::task::spawn_blocking(move || loadgen(&url, true, &load))
            .await
            .expect("join")
    };
    let client = starved.client.expect("the client's load is recorded");
    assert!(client.bound, "{client:?}\n{summary}");
    assert!(summary.contains("CLIENT-BOUND"), "{summary}");

    let light = [
        "--rooms",
        "2",
        "--clients",
        "5",
        "--rate",
        "10",
        "--duration",
        "2s",
    ];
    let (calm, summary) = tokio::task::spawn_blocking(move || loadgen(&url, false, &light))
        .await
        .expect("join");
    let client = calm.client.expect("recorded");
    assert!(
        client.running + client.waiting < BUSY && client.waiting < STARVED,
        "{client:?}\n{summary}"
    );
}
