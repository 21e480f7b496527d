//! Valid ways of speaking the protocol that differ from the common ones: the fault server
//! with a [`Style`] is still a correct server, and a verdict that fails it is a bug of the
//! tool. Each is something a real library or proxy does.

use std::time::Duration;

use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error, Message};

/// How the server frames and greets, within RFC 6455.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Each broadcast is sent as this many frames (a text frame without FIN, then
    /// continuation frames, RFC 6455 5.4), cut at byte positions, even inside a UTF-8
    /// character. 0 or 1: one frame.
    pub fragments: usize,
    /// Between two fragments, a ping and an unsolicited pong (RFC 6455 5.4, 5.5.3).
    pub controls_between: bool,
    /// The server pings this often, whatever the client does.
    pub ping_every: Option<Duration>,
    /// An unusual 101: header names in other cases, `Upgrade: WebSocket`, extra headers, the
    /// headers in another order (RFC 9110: names are case-insensitive; RFC 6455 4.1: the
    /// Upgrade value compares case-insensitively).
    pub odd_handshake: bool,
    /// The first subprotocol the client offers is selected (RFC 6455 4.2.2).
    pub select_subprotocol: bool,
    /// Numbers written as JavaScript's `JSON.stringify` writes them: `1E2` and `100.0` as
    /// `100`, `-0.0` as `0` (RFC 8259 has one number type; a Node server does this).
    pub javascript_numbers: bool,
}

impl Style {
    /// Every style a verdict must pass, named, one variation each and all of them at once.
    pub fn valid_variants() -> Vec<(&'static str, Style)> {
        let fragmented = Style {
            fragments: 3,
            ..Style::default()
        };
        let controls = Style {
            fragments: 4,
            controls_between: true,
            ..Style::default()
        };
        let pings = Style {
            ping_every: Some(Duration::from_millis(2)),
            ..Style::default()
        };
        let odd = Style {
            odd_handshake: true,
            ..Style::default()
        };
        let subprotocol = Style {
            select_subprotocol: true,
            ..Style::default()
        };
        let javascript = Style {
            javascript_numbers: true,
            ..Style::default()
        };
        let everything = Style {
            fragments: 5,
            controls_between: true,
            ping_every: Some(Duration::from_millis(5)),
            odd_handshake: true,
            select_subprotocol: true,
            javascript_numbers: true,
        };
        vec![
            ("fragmented broadcasts", fragmented),
            ("pings and pongs between fragments", controls),
            ("a server ping every 2 ms", pings),
            ("an unusual 101", odd),
            ("a subprotocol selected", subprotocol),
            ("numbers as JavaScript writes them", javascript),
            ("all of them", everything),
        ]
    }

    /// The subprotocol to select from a request's `Sec-WebSocket-Protocol` value.
    pub(crate) fn subprotocol<'a>(&self, offered: Option<&'a str>) -> Option<&'a str> {
        if !self.select_subprotocol {
            return None;
        }
        offered?.split(',').map(str::trim).find(|p| !p.is_empty())
    }
}

/// `value` with every integral double that JavaScript would print without a fraction made an
/// integer.
pub(crate) fn javascript_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() && x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 => {
                Value::from(x as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(javascript_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, javascript_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Writes one broadcast as the style says.
pub(crate) async fn send<S>(sink: &mut S, text: String, style: &Style) -> Result<(), Error>
where
    S: Sink<Message, Error = Error> + Unpin,
{
    if style.fragments <= 1 {
        return sink.send(Message::text(text)).await;
    }
    let bytes = text.into_bytes();
    let pieces = style.fragments;
    for i in 0..pieces {
        let (from, to) = (bytes.len() * i / pieces, bytes.len() * (i + 1) / pieces);
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let last = i + 1 == pieces;
        let frame = Frame::message(bytes[from..to].to_vec(), OpCode::Data(opcode), last);
        sink.feed(Message::Frame(frame)).await?;
        if style.controls_between && !last {
            sink.feed(Message::Ping("between fragments".into())).await?;
            sink.feed(Message::Pong("heartbeat".into())).await?;
        }
    }
    sink.flush().await
}
