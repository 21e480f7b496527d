//! Opening one connection (TCP from a chosen source address, the TLS handshake for an
//! https/wss target, then the client handshake), timing each step, and closing it so that
//! TIME_WAIT stays on the server's side.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use endpoint::tls::Conn;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::error::ConnError;
use crate::handshake::HandshakePlan;
use crate::plan::ConnPlan;

pub type Ws = WebSocketStream<Conn>;

/// How long each step of a connect took, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectTimes {
    pub tcp_us: u64,
    /// `None` without TLS.
    pub tls_us: Option<u64>,
    pub upgrade_us: u64,
}

/// TCP connect, TLS handshake (https/wss targets) and WebSocket handshake (with the run's
/// headers and path), all within `timeout`.
pub async fn connect(
    conn: &ConnPlan,
    handshake: &HandshakePlan,
    timeout: Duration,
) -> Result<(Ws, ConnectTimes), ConnError> {
    let attempt = async {
        let mut times = ConnectTimes::default();
        let started = Instant::now();
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
        times.tcp_us = micros(started);

        let started = Instant::now();
        let tls_name = conn.target.tls.then_some(conn.target.host.as_str());
        let stream = endpoint::tls::wrap(stream, tls_name, handshake.tls.as_ref())
            .await
            .map_err(|e| ConnError::Tls(e.to_string()))?;
        if tls_name.is_some() {
            times.tls_us = Some(micros(started));
        }

        let started = Instant::now();
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
        times.upgrade_us = micros(started);
        Ok((ws, times))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ConnError::HandshakeTimeout))
}

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
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
