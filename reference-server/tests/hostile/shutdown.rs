//! Shutdown is bounded: SIGTERM closes every WebSocket with 1001, drops half-sent and idle
//! HTTP connections, and the process exits within `--shutdown-grace` whatever clients do.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::process::ServerProcess;
use crate::common::{RawWs, room};

#[tokio::test]
async fn sigterm_with_a_half_sent_request_and_a_silent_client_exits_within_the_grace() {
    let mut server = ServerProcess::start(&["--shutdown-grace", "2s"]);
    let addr = server.addr;
    // One byte of a request, and nothing more.
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"G").await.expect("write");
    // An idle keep-alive after one request.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // A WebSocket that answers the close, and one that never answers anything.
    let name = room("sigterm");
    let mut polite = RawWs::join(addr, &name).await;
    let mut silent = RawWs::join(addr, &name).await;

    server.terminate();
    assert_eq!(polite.expect_close().await.0, 1001);
    polite.send_close(1001, "").await;
    assert_eq!(silent.expect_close().await.0, 1001);
    // The silent one never answers; the half request never ends.
    let (status, took) = server.wait_exit(Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after SIGTERM"
    );
    // Both HTTP connections were ended by the server.
    let mut rest = Vec::new();
    assert!(matches!(half.read_to_end(&mut rest).await, Ok(_) | Err(_)));
    let n = idle.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "the idle keep-alive was closed");
}
