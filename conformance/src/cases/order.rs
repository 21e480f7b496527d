//! docs/protocol.md section 6: delivery, order and loss.

use std::collections::HashMap;

use super::{case, expect_closed, expect_message, expect_silence, holds, say};
use crate::case::{Case, CaseResult, Ctx, message_of};

pub(super) const CASES: &[Case] = &[
    case!(
        "order.single-sender",
        Core,
        "with one sender, every member gets every message once, in order",
        single_sender
    ),
    case!(
        "order.rooms-isolated",
        Core,
        "no message reaches a member of another room",
        rooms_isolated
    ),
    case!(
        "order.leave-rejoin",
        Core,
        "a member that left gets nothing more; it can rejoin at once",
        leave_rejoin
    ),
    case!(
        "order.one-order",
        Reference,
        "with several senders, nothing is lost and every member sees one order",
        one_order
    ),
];

const MESSAGES: usize = 100;

async fn single_sender(ctx: Ctx) -> CaseResult {
    let room = ctx.room("seq");
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(ctx.join(&room).await?);
    }
    for i in 0..MESSAGES {
        say(&mut members[0], &format!("m{i}")).await?;
    }
    for (m, ws) in members.iter_mut().enumerate() {
        let who = ctx.who(&format!("member {m}"), ws);
        for i in 0..MESSAGES {
            expect_message(ws, &who, &format!("m{i}").into(), ctx.timeout)
                .await
                .map_err(|e| format!("message {i} of {MESSAGES}: {e}"))?;
        }
        expect_silence(ws, &who, ctx.settle).await?;
    }
    holds(format!(
        "3 members got all {MESSAGES} messages once, in order"
    ))
}

async fn rooms_isolated(ctx: Ctx) -> CaseResult {
    let (one, two) = (ctx.room("iso"), ctx.room("iso"));
    let mut a = ctx.join(&one).await?;
    let mut b = ctx.join(&two).await?;
    say(&mut a, "for one").await?;
    say(&mut b, "for two").await?;
    expect_message(&mut a, "room one", &"for one".into(), ctx.timeout).await?;
    expect_message(&mut b, "room two", &"for two".into(), ctx.timeout).await?;
    expect_silence(&mut a, "room one", ctx.settle).await?;
    expect_silence(&mut b, "room two", ctx.settle).await?;
    holds("each room got only its own message")
}

async fn leave_rejoin(ctx: Ctx) -> CaseResult {
    let room = ctx.room("leave");
    let mut stay = ctx.join(&room).await?;
    let mut leaver = ctx.join(&room).await?;
    leaver.send_close(1000).await.map_err(|e| e.to_string())?;
    let (_, texts) = expect_closed(&mut leaver, ctx.timeout).await?;
    if !texts.is_empty() {
        return Err(format!("the leaving member received {texts:?}"));
    }
    say(&mut stay, "after").await?;
    expect_message(
        &mut stay,
        "the member that stayed",
        &"after".into(),
        ctx.timeout,
    )
    .await?;
    let mut back = ctx.join(&room).await?;
    say(&mut back, "back").await?;
    expect_message(
        &mut back,
        "the member that rejoined",
        &"back".into(),
        ctx.timeout,
    )
    .await?;
    expect_message(
        &mut stay,
        "the member that stayed",
        &"back".into(),
        ctx.timeout,
    )
    .await?;
    holds("the room went on without the leaver, who rejoined at once")
}

async fn one_order(ctx: Ctx) -> CaseResult {
    const SENDERS: usize = 4;
    const EACH: usize = 25;
    let room = ctx.room("order");
    let mut members = Vec::new();
    for _ in 0..SENDERS {
        members.push(ctx.join(&room).await?);
    }
    // Interleaved sends from every member, as fast as they go.
    for i in 0..EACH {
        for (s, ws) in members.iter_mut().enumerate() {
            say(ws, &format!("{s}-{i}")).await?;
        }
    }
    let mut orders = Vec::new();
    for (m, ws) in members.iter_mut().enumerate() {
        let who = ctx.who(&format!("member {m}"), ws);
        let mut seen = Vec::new();
        for _ in 0..SENDERS * EACH {
            let text = ws
                .recv_text(ctx.timeout)
                .await
                .map_err(|e| format!("{who} after {} messages: {e}", seen.len()))?;
            let value = message_of(&text)?;
            seen.push(value.as_str().unwrap_or_default().to_owned());
        }
        orders.push(seen);
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for text in &orders[0] {
        *counts.entry(text.as_str()).or_default() += 1;
    }
    if counts.len() != SENDERS * EACH || counts.values().any(|n| *n != 1) {
        return Err("member 0 did not get every message exactly once".into());
    }
    if let Some(m) = (1..SENDERS).find(|m| orders[*m] != orders[0]) {
        return Err(format!("member {m} saw another order than member 0"));
    }
    holds(format!(
        "{SENDERS} senders x {EACH}: all delivered, one order"
    ))
}
