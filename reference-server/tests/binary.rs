//! One smoke test of the real binary: it starts, logs its address, serves, and on SIGTERM
//! closes its WebSockets with 1001 and exits 0. Bad flags are refused with a clear message.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::RawWs;

#[tokio::test]
async fn starts_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    // The log line "listening addr=127.0.0.1:PORT" tells the chosen port.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a log line within 10 s");
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("address")
                .parse()
                .expect("socket address");
        }
    };

    let health = common::get(addr, "/healthz").await;
    assert_eq!(health.status, 200);
    let mut ws = RawWs::join(addr, &common::room("bin")).await;
    ws.send_text(r#"{"message":"hi"}"#).await;
    assert_eq!(ws.recv_text().await, r#"{"message": "hi"}"#);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    assert_eq!(ws.read_frame().await.close().0, 1001);
    ws.send_close(1001, "").await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    for (args, says) in [
        (&["--bind", "nowhere"][..], "invalid socket address"),
        (&["--ping-interval", "soon"][..], "20s or 500ms"),
        (&["--queue-len", "0"][..], "queue-len"),
        (&["--no-such-flag"][..], "unexpected argument"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(args)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
