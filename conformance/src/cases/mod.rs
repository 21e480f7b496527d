//! Every case, by section. IDs are stable: tools and CI configurations refer to them.

use std::time::Duration;

use crate::case::{Case, Check, json_equal, message_of};
use crate::wire::{Next, Ws, op};

mod bad_input;
mod big_room;
mod broadcast;
mod deflate;
pub mod hostile;
mod isolation;
mod life;
mod model;
mod order;
mod pages;
mod payload;
mod rooms;
mod security;
mod slow;

/// All cases, in a stable order.
pub fn all() -> Vec<Case> {
    [
        rooms::CASES,
        broadcast::CASES,
        payload::CASES,
        order::CASES,
        isolation::CASES,
        big_room::CASES,
        slow::CASES,
        bad_input::CASES,
        life::CASES,
        deflate::CASES,
        pages::CASES,
        security::CASES,
        model::CASES,
        hostile::CASES,
    ]
    .concat()
}

/// Declares a case: `case!(ID, Level, "description", body)` where `body` is an
/// `async fn(Ctx) -> CaseResult`.
macro_rules! case {
    ($id:literal, $level:ident, $description:literal, $body:path) => {
        $crate::case::Case {
            id: $id,
            level: $crate::case::Level::$level,
            description: $description,
            run: |ctx| Box::pin($body(ctx)),
            exclusive: false,
        }
    };
}
pub(crate) use case;

/// Reads the next frame and requires it to be the text `{"message": V}` with `V == want`.
pub(crate) async fn expect_message(
    ws: &mut Ws,
    who: &str,
    want: &serde_json::Value,
    wait: Duration,
) -> Result<(), String> {
    let text = ws
        .recv_text(wait)
        .await
        .map_err(|e| format!("{who}: {e}"))?;
    let got = message_of(&text).map_err(|e| format!("{who}: {e}"))?;
    if !json_equal(&got, want) {
        return Err(format!("{who} received message {got}, expected {want}"));
    }
    Ok(())
}

/// Requires that nothing but pings arrives for `wait`.
pub(crate) async fn expect_silence(ws: &mut Ws, who: &str, wait: Duration) -> Result<(), String> {
    match ws.next(wait).await {
        Ok(Next::Silence) => Ok(()),
        Ok(Next::Frame(f)) => Err(format!("{who} unexpectedly received {}", f.describe())),
        Ok(Next::Eof) => Err(format!("{who}'s connection ended unexpectedly")),
        Err(e) => Err(format!("{who}: {e}")),
    }
}

/// Waits for the server to close: a close frame (its code and reason) or the TCP end (None).
/// Text frames before the close are returned as evidence of a broadcast that should not be.
pub(crate) async fn expect_closed(
    ws: &mut Ws,
    wait: Duration,
) -> Result<(Option<(u16, String)>, Vec<String>), String> {
    let mut texts = Vec::new();
    loop {
        match ws.next(wait).await.map_err(|e| e.to_string())? {
            Next::Frame(f) if f.opcode == op::CLOSE => return Ok((f.close_code(), texts)),
            Next::Frame(f) if f.opcode == op::TEXT => {
                texts.push(String::from_utf8_lossy(&f.payload).into_owned());
            }
            Next::Frame(_) => {}
            Next::Eof => return Ok((None, texts)),
            Next::Silence => {
                return Err(format!(
                    "the connection stayed open for {} ms",
                    wait.as_millis()
                ));
            }
        }
    }
}

/// Sends `{"message": text}` from `ws` as JSON text.
pub(crate) async fn say(ws: &mut Ws, text: &str) -> Result<(), String> {
    let frame = serde_json::json!({ "message": text }).to_string();
    ws.send_text(&frame).await.map_err(|e| e.to_string())
}

/// Frame by frame until the pong that answers a ping of `payload`: a pong with another
/// payload is a heartbeat the server may send unasked (RFC 6455 5.5.3), and a text frame is
/// not the caller's to grade (a server may send one at join). Anything else is an error.
pub(crate) async fn await_pong(
    ws: &mut Ws,
    payload: &[u8],
    wait: Duration,
) -> Result<crate::wire::Frame, String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next_frame(wait).await.map_err(|e| e.to_string())? {
            Next::Frame(f) if f.opcode == op::PONG && f.payload == payload => return Ok(f),
            Next::Frame(f) if f.opcode == op::PONG || f.opcode == op::TEXT => continue,
            Next::Frame(f) => {
                return Err(format!("got {} with payload {:?}", f.describe(), f.payload));
            }
            Next::Silence => return Err("no pong".into()),
            Next::Eof => return Err("the connection ended".into()),
        }
    }
}

pub(crate) fn holds(evidence: impl Into<String>) -> Result<Check, String> {
    Ok(Check::Holds(evidence.into()))
}
