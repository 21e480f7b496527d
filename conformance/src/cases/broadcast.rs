//! docs/protocol.md sections 3 and 4: who receives what.

use super::{case, expect_message, expect_silence, holds, say};
use crate::case::{Case, CaseResult, Ctx, message_of};

pub(super) const CASES: &[Case] = &[
    case!(
        "broadcast.self-echo",
        Core,
        "the sender receives its own message",
        self_echo
    ),
    case!(
        "broadcast.all-members",
        Core,
        "every member receives each message once",
        all_members
    ),
    case!(
        "broadcast.only-message",
        Core,
        "only the message key is forwarded",
        only_message
    ),
    case!(
        "broadcast.nothing-else",
        Core,
        "no welcome, ack, presence or history frames",
        nothing_else
    ),
];

async fn self_echo(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("echo")).await?;
    say(&mut ws, "hi").await?;
    expect_message(&mut ws, "the sender", &"hi".into(), ctx.timeout).await?;
    holds("the sender got {\"message\": \"hi\"}")
}

async fn all_members(ctx: Ctx) -> CaseResult {
    let room = ctx.room("all");
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(ctx.join(&room).await?);
    }
    say(&mut members[1], "to all").await?;
    for (i, ws) in members.iter_mut().enumerate() {
        let who = ctx.who(&format!("member {i}"), ws);
        expect_message(ws, &who, &"to all".into(), ctx.timeout).await?;
    }
    for (i, ws) in members.iter_mut().enumerate() {
        let who = ctx.who(&format!("member {i}"), ws);
        expect_silence(ws, &who, ctx.settle).await?;
    }
    holds("3 members, one copy each")
}

async fn only_message(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("only")).await?;
    ws.send_text(r#"{"message":"x","user":"y","type":"chat.message"}"#)
        .await
        .map_err(|e| e.to_string())?;
    let text = ws.recv_text(ctx.timeout).await?;
    let message = message_of(&text)?;
    if message != "x" {
        return Err(format!("message {message}, expected \"x\""));
    }
    holds(format!("received {text}"))
}

async fn nothing_else(ctx: Ctx) -> CaseResult {
    let room = ctx.room("quiet");
    let mut a = ctx.join(&room).await?;
    expect_silence(&mut a, "a member alone", ctx.settle).await?;
    let mut b = ctx.join(&room).await?;
    expect_silence(&mut a, "a member when another joined", ctx.settle).await?;
    drop(b.send_close(1000).await);
    expect_silence(&mut a, "a member when another left", ctx.settle).await?;
    holds("no frame on join, on another's join or leave")
}
