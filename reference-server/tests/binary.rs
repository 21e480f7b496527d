//! One smoke test of the real binary: it starts, logs its address, serves, and on SIGTERM
//! closes its WebSockets with 1001 and exits 0. Bad flags are refused with a clear message.

mod common;

use std::process::Command;
use std::time::Duration;

use common::RawWs;
use common::process::ServerProcess;

#[tokio::test]
async fn starts_serves_and_stops_on_sigterm() {
    let mut server = ServerProcess::start(&[]);
    let addr = server.addr;
    let health = common::get(addr, "/healthz").await;
    assert_eq!(health.status, 200);
    let mut ws = RawWs::join(addr, &common::room("bin")).await;
    ws.send_text(r#"{"message":"hi"}"#).await;
    assert_eq!(ws.recv_text().await, r#"{"message": "hi"}"#);

    server.terminate();
    assert_eq!(ws.read_frame().await.close().0, 1001);
    ws.send_close(1001, "").await;
    let (status, _) = server.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    for (args, says) in [
        (&["--bind", "nowhere"][..], "invalid socket address"),
        (&["--ping-interval", "soon"][..], "20s or 500ms"),
        (&["--queue-bytes", "0"][..], "more than zero"),
        (&["--allowed-origin", "*"][..], "wildcard"),
        (
            &["--allowed-origin", "http://a.example/chat/"][..],
            "no path",
        ),
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

/// Logs written to a pipe or a file carry no ANSI colour codes (with NO_COLOR unset).
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening"));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a listening line");
    assert!(!line.contains('\x1b'), "{line:?}");
}
