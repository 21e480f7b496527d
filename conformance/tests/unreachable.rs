//! Unreachable is not a verdict: against a port where nothing listens, or a listener that
//! never answers, the CLI grades nothing, writes no report and exits 2; a server that speaks
//! only WebSocket (no answer to a plain GET) is graded.

mod common;

use std::process::ExitCode;

async fn cli(target: &str) -> (ExitCode, bool) {
    common::cli_exit(target, &["--timeout", "500"]).await
}

#[tokio::test]
async fn nothing_listening() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (code, report) = cli(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(code, ExitCode::from(2));
    assert!(
        !report,
        "a report was written for a backend that is not there"
    );
}

#[tokio::test]
async fn a_listener_that_never_answers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let (code, report) = cli(&format!("http://{addr}")).await;
    held.abort();
    assert_eq!(code, ExitCode::from(2));
    assert!(!report);
}

/// A server that speaks only WebSocket (tokio-tungstenite's accept on every connection: a
/// plain GET gets no answer) is reachable and graded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_only_server_is_graded() {
    let server = fault_server::spawn(fault_server::Faults::default())
        .await
        .expect("fault server");
    let (code, report) = common::cli_exit(&server.url(), &["--case", "broadcast.self-echo"]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(report);
}

/// A report path that cannot be written is refused before anything is graded.
#[tokio::test]
async fn an_unwritable_report_path_is_refused_before_grading() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let opts = <conformance::cli::Opts as clap::Parser>::parse_from([
        "conformance",
        "--target",
        &format!("http://{}", listener.local_addr().expect("addr")),
        "--junit",
        "/no/such/dir/report.xml",
    ]);
    let err = conformance::cli::run(opts).await.expect_err("refused");
    assert_eq!(
        edge::chain(&err),
        "--junit: cannot write /no/such/dir/report.xml: the folder /no/such/dir does not exist"
    );
    assert!(listener.accept().is_err(), "the suite connected first");
}
