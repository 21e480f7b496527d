//! docs/protocol.md section 7: connection life.

use super::{case, expect_closed, holds};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::{Handshake, Next, op};

pub(super) const CASES: &[Case] = &[
    case!(
        "life.ping-pong",
        Core,
        "a client ping gets a pong with the same payload",
        ping_pong
    ),
    case!(
        "life.client-close",
        Core,
        "a client close is answered and the connection ends",
        client_close
    ),
    case!(
        "life.no-subprotocol",
        Django,
        "no subprotocol is selected (a server may select one it was offered, RFC 6455 4.2.2)",
        no_subprotocol
    ),
    case!(
        "life.no-compression",
        Django,
        "permessage-deflate is not negotiated (a server may accept the offer, RFC 7692)",
        no_compression
    ),
];

async fn ping_pong(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("ping")).await?;
    ws.send_frame(true, op::PING, b"conformance")
        .await
        .map_err(|e| e.to_string())?;
    // Frame by frame: a pong is a frame. A text frame is not this case's to grade
    // (broadcast.nothing-else grades what a lone member receives): a server that sends one at
    // join would otherwise pass or fail here by which of the two frames it happened to write
    // first.
    super::await_pong(&mut ws, b"conformance", ctx.timeout).await?;
    holds("pong \"conformance\"")
}

async fn client_close(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("close")).await?;
    ws.send_close(4000).await.map_err(|e| e.to_string())?;
    let (close, texts) = expect_closed(&mut ws, ctx.timeout).await?;
    if !texts.is_empty() {
        return Err(format!("received {texts:?} while closing"));
    }
    let Some((code, _)) = close else {
        return Err("the TCP connection ended without a close frame".into());
    };
    match ws.next(ctx.timeout).await.map_err(|e| e.to_string())? {
        Next::Eof => holds(format!("answered with {code}, then the connection ended")),
        Next::Frame(f) => Err(format!("after the close: {}", f.describe())),
        Next::Silence => Err(format!(
            "answered {code} but the TCP connection stayed open"
        )),
    }
}

async fn no_subprotocol(ctx: Ctx) -> CaseResult {
    let target = ctx.ws_target(&ctx.room("proto"));
    match ctx
        .handshake(&target, "Sec-WebSocket-Protocol: chat, superchat\r\n")
        .await?
    {
        Handshake::Accepted(ws) => match ws.response.header("sec-websocket-protocol") {
            None => holds("offered chat, superchat; none selected"),
            Some(p) => Err(format!("selected {p}")),
        },
        Handshake::Refused(r) => Err(format!(
            "refused with HTTP {} when offered subprotocols",
            r.status
        )),
    }
}

async fn no_compression(ctx: Ctx) -> CaseResult {
    let target = ctx.ws_target(&ctx.room("deflate"));
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    match ctx.handshake(&target, offer).await? {
        Handshake::Accepted(ws) => match ws.response.header("sec-websocket-extensions") {
            None => holds("permessage-deflate offered, not negotiated"),
            Some(e) => Err(format!("negotiated {e}")),
        },
        Handshake::Refused(r) => Err(format!("refused with HTTP {}", r.status)),
    }
}
