//! The client's checks of a 101 (RFC 6455 4.1): what a valid server may vary is accepted,
//! what a client must fail the connection for is refused.

use std::time::Duration;

use rawws::{Handshake, WireError, Ws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A handshake with `extra` request headers against a peer that answers `response`.
async fn against(
    response: String,
    extra: &str,
) -> Result<Handshake<tokio::io::DuplexStream>, WireError> {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if server.read_exact(&mut b).await.is_err() {
                return;
            }
            head.push(b[0]);
        }
        let _ = server.write_all(response.as_bytes()).await;
        let mut rest = Vec::new();
        let _ = server.read_to_end(&mut rest).await;
    });
    Ws::handshake_on(client, "h", "/ws/chat/r/", extra, Duration::from_secs(5)).await
}

fn response(headers: &str) -> String {
    format!("HTTP/1.1 101 Switching Protocols\r\n{headers}\r\n")
}

#[tokio::test]
async fn valid_but_unusual_101s_are_accepted() {
    let accepted = [
        (
            format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
            ),
            "",
        ),
        (
            format!(
                "x-extra: 1\r\nsec-websocket-accept:{ACCEPT}\r\ncOnNeCtIoN: keep-alive, UPGRADE\r\nUPGRADE: WebSocket\r\n"
            ),
            "",
        ),
        (
            format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: superchat\r\n"
            ),
            "Sec-WebSocket-Protocol: chat, superchat\r\n",
        ),
        (
            format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
            ),
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        ),
    ];
    for (headers, extra) in accepted {
        let got = against(response(&headers), extra).await;
        assert!(
            matches!(got, Ok(Handshake::Accepted(_))),
            "{headers:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn a_101_a_client_must_fail_is_refused() {
    let refused = [
        (
            format!("Connection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"),
            "",
            "Upgrade",
        ),
        (
            format!("Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"),
            "",
            "Upgrade",
        ),
        (
            format!(
                "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
            ),
            "",
            "Connection",
        ),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n".to_owned(),
            "",
            "Accept",
        ),
        (
            format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n"
            ),
            "",
            "subprotocol",
        ),
        (
            format!(
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
            ),
            "",
            "extension",
        ),
    ];
    for (headers, extra, says) in refused {
        match against(response(&headers), extra).await {
            Err(WireError::Malformed(why)) => assert!(why.contains(says), "{headers:?}: {why}"),
            other => panic!("{headers:?}: {other:?}"),
        }
    }
}
