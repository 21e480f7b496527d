//! The yardstick: the chat protocol as it is usually first written with axum and tokio, one
//! `tokio::sync::broadcast` channel per room and a reader and a writer task per member. No
//! bounds but the channel's capacity: a member that falls 1,024 messages behind silently loses
//! them. The benchmark (`max_rate`) runs it beside the reference server, at the same steps in
//! the same run, so the reference server's figures can be read as a ratio on a noisy machine.
//!
//! ```text
//! cargo build --release -p loadgen --examples
//! target/release/examples/yardstick 127.0.0.1:8001
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8001".into());
    let app = Router::new()
        .route("/ws/chat/{room}/", get(upgrade))
        .with_state(Rooms::default());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(
    ws: WebSocketUpgrade,
    Path(room): Path<String>,
    State(rooms): State<Rooms>,
) -> Response {
    let room = rooms
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(room)
        .or_insert_with(|| broadcast::channel(1024).0)
        .clone();
    ws.on_upgrade(move |socket| member(socket, room))
}

async fn member(socket: WebSocket, room: broadcast::Sender<String>) {
    let mut inbox = room.subscribe();
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        loop {
            match inbox.recv().await {
                Ok(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(message) = value.get("message") {
            let _ = room.send(serde_json::json!({ "message": message }).to_string());
        }
    }
    writer.abort();
}
