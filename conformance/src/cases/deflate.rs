//! permessage-deflate (RFC 7692) as browsers use it: each case offers it as Chromium does. A
//! backend that declines the offer passes (compression is the server's choice); one that
//! accepts it is held to it. What every compressed message must obey (RSV1 on a data
//! message's first frame only, DEFLATE that inflates within the agreed window and context,
//! within the reader's bound) is checked by the suite's client on every message; these cases
//! make sure the paths where backends get it wrong are taken.

use super::{case, expect_message, holds, say};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::deflate::OFFER;
use crate::wire::{Handshake, Next, Ws, op};

pub(super) const CASES: &[Case] = &[
    case!(
        "deflate.negotiation",
        Core,
        "the answer to Chromium's permessage-deflate offer is one a client may accept, or none",
        negotiation
    ),
    case!(
        "deflate.messages",
        Core,
        "with permessage-deflate, compressed and plain messages are broadcast and inflate to the sent text",
        messages
    ),
    case!(
        "deflate.late-member",
        Core,
        "with permessage-deflate, a member that joins after repeated messages inflates the next one (each stream has its own context)",
        late_member
    ),
    case!(
        "deflate.control-frames",
        Core,
        "with permessage-deflate, a pong is never compressed (RFC 7692 6.1)",
        control_frames
    ),
];

/// Joins `room` offering permessage-deflate; the socket and what was agreed, as evidence.
async fn join(ctx: &Ctx, room: &str) -> Result<(Ws, String), String> {
    let target = ctx.ws_target(room);
    let offer = format!("Sec-WebSocket-Extensions: {OFFER}\r\n");
    match ctx.handshake(&target, &offer).await? {
        Handshake::Accepted(ws) => {
            let agreed = ws
                .deflate
                .map_or_else(|| "declined".to_owned(), |p| p.describe());
            Ok((ws, agreed))
        }
        Handshake::Refused(r) => Err(format!(
            "joining {target} with permessage-deflate offered was refused with HTTP {}",
            r.status
        )),
    }
}

async fn negotiation(ctx: Ctx) -> CaseResult {
    let (mut ws, agreed) = join(&ctx, &ctx.room("pmd")).await?;
    let _ = ws.send_close(1000).await;
    holds(format!("offered {OFFER:?}: {agreed}"))
}

/// Reads the next text message of `ws`: its `message` value, and whether it came compressed.
async fn next_message(ctx: &Ctx, ws: &mut Ws, who: &str) -> Result<(String, bool), String> {
    match ws
        .next(ctx.timeout)
        .await
        .map_err(|e| format!("{who}: {e}"))?
    {
        Next::Frame(f) if f.opcode == op::TEXT => {
            let text = String::from_utf8_lossy(&f.payload).into_owned();
            let value = crate::case::message_of(&text).map_err(|e| format!("{who}: {e}"))?;
            let value = value.as_str().map(str::to_owned).unwrap_or_default();
            Ok((value, f.rsv & crate::wire::RSV1 != 0))
        }
        Next::Frame(f) => Err(format!(
            "{who}: expected a text message, got {}",
            f.describe()
        )),
        Next::Silence => Err(format!("{who}: nothing within {:?}", ctx.timeout)),
        Next::Eof => Err(format!("{who}: the connection ended")),
    }
}

async fn messages(ctx: Ctx) -> CaseResult {
    let room = ctx.room("pmdmsg");
    let (mut a, agreed) = join(&ctx, &room).await?;
    let (mut b, _) = join(&ctx, &room).await?;
    let words = "the quick brown fox jumps over the lazy dog, and the lazy dog sleeps on";
    let sent = [
        words.to_owned(),
        format!("{words} {words} {words}"),
        "plain".to_owned(),
    ];
    let mut compressed = 0;
    for (i, text) in sent.iter().enumerate() {
        if i == 2 {
            // Uncompressed on a compressed connection: a client may send either (RFC 7692 6).
            let frame = serde_json::json!({ "message": text }).to_string();
            a.send_frame(true, op::TEXT, frame.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        } else {
            say(&mut a, text).await?;
        }
        for (ws, who) in [(&mut a, "the sender"), (&mut b, "the other member")] {
            let who = ctx.who(who, ws);
            let (got, was_compressed) = next_message(&ctx, ws, &who).await?;
            if &got != text {
                return Err(format!(
                    "{who} got {got:?} for message {}, expected {text:?}",
                    i + 1
                ));
            }
            compressed += usize::from(was_compressed);
        }
    }
    holds(format!(
        "{agreed}; 3 messages (2 sent compressed when agreed, 1 plain) reached both members, {compressed} of 6 deliveries compressed"
    ))
}

async fn late_member(ctx: Ctx) -> CaseResult {
    let room = ctx.room("pmdlate");
    let (mut a, agreed) = join(&ctx, &room).await?;
    let text = "the same words again: a server that keeps context refers back to them";
    for _ in 0..3 {
        say(&mut a, text).await?;
        let who = ctx.who("the first member", &a);
        expect_message(&mut a, &who, &serde_json::json!(text), ctx.timeout).await?;
    }
    let (mut late, _) = join(&ctx, &room).await?;
    say(&mut a, text).await?;
    for (ws, who) in [(&mut late, "the late member"), (&mut a, "the first member")] {
        let who = ctx.who(who, ws);
        expect_message(ws, &who, &serde_json::json!(text), ctx.timeout).await?;
    }
    holds(format!(
        "{agreed}; a member that joined after 3 repeats inflated the 4th, as did the sender"
    ))
}

async fn control_frames(ctx: Ctx) -> CaseResult {
    let room = ctx.room("pmdping");
    let (mut ws, agreed) = join(&ctx, &room).await?;
    // Compressed traffic first, so a server that compresses whatever it sends has a context.
    say(&mut ws, "before the ping").await?;
    let who = ctx.who("the member", &ws);
    expect_message(
        &mut ws,
        &who,
        &serde_json::json!("before the ping"),
        ctx.timeout,
    )
    .await?;
    ws.send_frame(true, op::PING, b"conformance")
        .await
        .map_err(|e| e.to_string())?;
    let pong = super::await_pong(&mut ws, b"conformance", ctx.timeout).await?;
    if pong.rsv != 0 {
        return Err(format!(
            "{agreed}; the pong came with reserved bits {:03b}: control frames are never compressed",
            pong.rsv
        ));
    }
    holds(format!("{agreed}; the pong came plain"))
}
