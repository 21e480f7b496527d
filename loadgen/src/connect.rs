//! Opening one member's connection (`endpoint::connect`: TCP from its source address, TLS
//! for an https/wss target, the upgrade with the run's headers and path, each step timed) and
//! closing it so that TIME_WAIT stays on the server's side.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use endpoint::connect::{ConnectError, Times as ConnectTimes, Ws};
use endpoint::throttle::SlowRead;
use tokio_util::sync::CancellationToken;

use crate::handshake::HandshakePlan;
use crate::plan::ConnPlan;

/// Opens `conn`'s connection within `timeout`; a slow reader keeps its pace until `finish`.
pub async fn connect(
    conn: &ConnPlan,
    handshake: &HandshakePlan,
    timeout: Duration,
    finish: &CancellationToken,
) -> Result<(Ws, ConnectTimes), ConnectError> {
    let path = handshake.ws_path.of(&conn.room_name);
    let slow = conn.read_rate.map(|rate| SlowRead {
        rate,
        until: finish.clone(),
    });
    let request = endpoint::connect::Request {
        endpoint: &conn.target,
        source: conn.source,
        path: &path,
        headers: &handshake.headers,
        tls: handshake.tls.as_ref(),
        config: Some(
            WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0),
        ),
        deflate: handshake.deflate,
        counters: Some(&handshake.wire),
        slow: slow.as_ref(),
        via: conn.via.as_ref(),
    };
    endpoint::connect::open(request, timeout).await
}

/// [`close_gracefully`] for a slow reader at the run's end (its pace lifted): what it had not
/// read yet is read and dropped, to learn how the server had ended the connection: the code of
/// a close frame it sent before answering ours (an eviction such as 1013, queued behind
/// everything the reader had not taken), or 1006 when the connection ended without one (a
/// server that drops TCP when its close frame cannot be written). `None`: the server answered
/// our close (1000, or no code), or said nothing within 2 s.
pub async fn close_learning(
    mut sink: SplitSink<Ws, Message>,
    mut stream: SplitStream<Ws>,
) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(2), async {
        // A server that already closed refuses our close: its own is still to be read.
        let _ = sink.send(Message::Close(None)).await;
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    return (code != 1000 && code != 1005).then_some(code);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Some(1006),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Sends a close frame and reads until the server ends the connection, so that the server
/// closes TCP first and the TIME_WAIT state stays on its side: a run that left thousands of
/// client ports in TIME_WAIT would slow the next run's connects (the kernel searches the
/// ephemeral range for a free port).
pub async fn close_gracefully(mut sink: SplitSink<Ws, Message>, mut stream: SplitStream<Ws>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if sink.send(Message::Close(None)).await.is_ok() {
            while let Some(Ok(_)) = stream.next().await {}
        }
    })
    .await;
}
