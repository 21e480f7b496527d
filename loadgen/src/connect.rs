//! Opening one connection (TCP from a chosen source address, then the client handshake) and
//! closing it so that TIME_WAIT stays on the server's side.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::error::ConnError;
use crate::handshake::HandshakePlan;
use crate::plan::ConnPlan;

pub type Ws = WebSocketStream<TcpStream>;

/// TCP connect and WebSocket handshake (with the run's headers and path), within `timeout`.
pub async fn connect(
    conn: &ConnPlan,
    handshake: &HandshakePlan,
    timeout: Duration,
) -> Result<Ws, ConnError> {
    let attempt = async {
        let socket = match conn.target.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| ConnError::Socket(e.kind()))?;
        if let Some(ip) = conn.source {
            socket
                .bind(SocketAddr::new(ip, 0))
                .map_err(|e| ConnError::BindSource(e.kind()))?;
        }
        let stream = socket
            .connect(conn.target.addr)
            .await
            .map_err(|e| ConnError::Connect(e.kind()))?;
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let url = conn.target.ws_url(&handshake.ws_path.of(&conn.room_name));
        let mut request = url
            .into_client_request()
            .map_err(|e| ConnError::handshake(&e))?;
        for h in &handshake.headers {
            request
                .headers_mut()
                .append(h.name.clone(), h.value.clone());
        }
        let (ws, _) = client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| ConnError::handshake(&e))?;
        Ok(ws)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ConnError::HandshakeTimeout))
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
