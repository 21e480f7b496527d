//! Opening one member's connection (`endpoint::connect`: TCP from its source address, TLS
//! for an https/wss target, the upgrade with the run's headers and path, each step timed) and
//! closing it so that TIME_WAIT stays on the server's side.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use endpoint::connect::{ConnectError, Times as ConnectTimes, Ws};

use crate::handshake::HandshakePlan;
use crate::plan::ConnPlan;

/// Opens `conn`'s connection within `timeout`.
pub async fn connect(
    conn: &ConnPlan,
    handshake: &HandshakePlan,
    timeout: Duration,
) -> Result<(Ws, ConnectTimes), ConnectError> {
    let path = handshake.ws_path.of(&conn.room_name);
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
    };
    endpoint::connect::open(request, timeout).await
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
