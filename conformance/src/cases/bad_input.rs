//! docs/protocol.md section 5: bad input on an open socket.
//!
//! Core: the offender's input is broadcast to nobody, the room goes on, new connections are
//! accepted. Reference: the offender is closed at once with a specific code. Django: 1011.

use std::time::{Duration, Instant};

use super::{case, expect_closed, expect_message, expect_silence, holds, say};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::{Next, op};

pub(super) const CASES: &[Case] = &[
    case!(
        "bad-input.not-json",
        Core,
        "text that is not JSON is broadcast to nobody; the room goes on",
        core_not_json
    ),
    case!(
        "bad-input.not-object",
        Core,
        "JSON that is not an object is broadcast to nobody",
        core_not_object
    ),
    case!(
        "bad-input.no-message",
        Core,
        "an object without message is broadcast to nobody",
        core_no_message
    ),
    case!(
        "bad-input.empty",
        Core,
        "an empty text frame is broadcast to nobody",
        core_empty
    ),
    case!(
        "bad-input.binary",
        Core,
        "a binary frame is broadcast to nobody",
        core_binary
    ),
    case!(
        "bad-input.invalid-utf8",
        Core,
        "invalid UTF-8 text is broadcast to nobody",
        core_invalid_utf8
    ),
    case!(
        "bad-input.not-json-1007",
        Reference,
        "text that is not JSON: closed at once with 1007",
        ref_not_json
    ),
    case!(
        "bad-input.not-object-1007",
        Reference,
        "JSON that is not an object: closed at once with 1007",
        ref_not_object
    ),
    case!(
        "bad-input.no-message-1007",
        Reference,
        "no message key: closed at once with 1007",
        ref_no_message
    ),
    case!(
        "bad-input.empty-1007",
        Reference,
        "an empty text frame: closed at once with 1007",
        ref_empty
    ),
    case!(
        "bad-input.binary-1003",
        Reference,
        "a binary frame: closed at once with 1003",
        ref_binary
    ),
    case!(
        "bad-input.invalid-utf8-1007",
        Reference,
        "invalid UTF-8: closed at once with 1007",
        ref_invalid_utf8
    ),
    case!(
        "bad-input.non-finite-1007",
        Reference,
        "1e400, NaN, Infinity: closed at once with 1007",
        ref_non_finite
    ),
    case!(
        "bad-input.too-deep-1007",
        Reference,
        "nesting beyond the limit (200 levels): closed with 1007",
        ref_too_deep
    ),
    case!(
        "bad-input.too-large-1009",
        Reference,
        "a message over 1 MiB: closed at once with 1009",
        ref_too_large
    ),
    case!(
        "bad-input.outgoing-too-large-1009",
        Reference,
        "a broadcast frame that would exceed 1 MiB: only the sender is closed, with 1009",
        ref_outgoing_too_large
    ),
    case!(
        "bad-input.django-1011",
        Django,
        "text that is not JSON: closed with 1011 within 1 s",
        django_1011
    ),
];

/// What happened to the offender.
struct Outcome {
    /// The close frame's code and reason, or None when TCP ended without one or stayed open.
    close: Option<(u16, String)>,
    closed: bool,
    took: Duration,
}

/// Sends one bad frame in a room with a bystander and checks the core promise; returns what
/// happened to the offender.
async fn isolated(ctx: &Ctx, opcode: u8, payload: &[u8]) -> Result<Outcome, String> {
    let room = ctx.room("bad");
    let mut bystander = ctx.join(&room).await?;
    let mut offender = ctx.join(&room).await?;
    let started = Instant::now();
    // A server may end the connection before a large frame is all written: not an error.
    let _ = tokio::time::timeout(ctx.timeout, offender.send_frame(true, opcode, payload)).await;

    // The offender gets no broadcast of it; it may be closed (or not: core allows both).
    let mut outcome = Outcome {
        close: None,
        closed: false,
        took: Duration::ZERO,
    };
    loop {
        match offender
            .next(ctx.timeout.max(Duration::from_millis(1500)))
            .await
        {
            Ok(Next::Frame(f)) if f.opcode == op::CLOSE => {
                outcome = Outcome {
                    close: f.close_code(),
                    closed: true,
                    took: started.elapsed(),
                };
                break;
            }
            Ok(Next::Frame(f)) if f.opcode == op::TEXT => {
                return Err(format!("the offender received {}", f.describe()));
            }
            Ok(Next::Frame(_)) => {}
            Ok(Next::Eof) | Err(_) => {
                outcome.closed = true;
                outcome.took = started.elapsed();
                break;
            }
            Ok(Next::Silence) => break,
        }
    }
    expect_silence(&mut bystander, "the bystander", ctx.settle).await?;
    say(&mut bystander, "still here").await?;
    expect_message(
        &mut bystander,
        "the bystander",
        &"still here".into(),
        ctx.timeout,
    )
    .await?;
    let mut newcomer = ctx.join(&room).await?;
    say(&mut newcomer, "newcomer").await?;
    expect_message(
        &mut bystander,
        "the bystander",
        &"newcomer".into(),
        ctx.timeout,
    )
    .await?;
    Ok(outcome)
}

fn describe(o: &Outcome) -> String {
    match (&o.close, o.closed) {
        (Some((code, reason)), _) => {
            format!(
                "offender closed {code} {reason:?} after {} ms",
                o.took.as_millis()
            )
        }
        (None, true) => format!("offender's TCP ended after {} ms", o.took.as_millis()),
        (None, false) => "offender left open".into(),
    }
}

async fn core_check(ctx: Ctx, opcode: u8, payload: &[u8]) -> CaseResult {
    let o = isolated(&ctx, opcode, payload).await?;
    holds(format!("nobody got it; the room went on; {}", describe(&o)))
}

/// The reference promise: closed at once (within 500 ms) with `code`, with a reason.
async fn reference_check(ctx: Ctx, opcode: u8, payload: &[u8], code: u16) -> CaseResult {
    let o = isolated(&ctx, opcode, payload).await?;
    match &o.close {
        Some((got, reason)) if *got == code && !reason.is_empty() && o.took.as_millis() <= 500 => {
            holds(describe(&o))
        }
        _ => Err(format!(
            "{} (reference: {code} with a reason, at once)",
            describe(&o)
        )),
    }
}

async fn core_not_json(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::TEXT, b"hello").await
}
async fn core_not_object(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::TEXT, b"[1,2]").await
}
async fn core_no_message(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::TEXT, br#"{"msg":"x"}"#).await
}
async fn core_empty(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::TEXT, b"").await
}
async fn core_binary(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::BINARY, br#"{"message":"x"}"#).await
}
async fn core_invalid_utf8(ctx: Ctx) -> CaseResult {
    core_check(ctx, op::TEXT, b"{\"message\":\"\xff\xfe\"}").await
}
async fn ref_not_json(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::TEXT, b"hello", 1007).await
}
async fn ref_not_object(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::TEXT, b"[1,2]", 1007).await
}
async fn ref_no_message(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::TEXT, br#"{"msg":"x"}"#, 1007).await
}
async fn ref_empty(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::TEXT, b"", 1007).await
}
async fn ref_binary(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::BINARY, br#"{"message":"x"}"#, 1003).await
}
async fn ref_invalid_utf8(ctx: Ctx) -> CaseResult {
    reference_check(ctx, op::TEXT, b"{\"message\":\"\xff\xfe\"}", 1007).await
}
async fn ref_non_finite(ctx: Ctx) -> CaseResult {
    for payload in [
        &br#"{"message":1e400}"#[..],
        br#"{"message":NaN}"#,
        br#"{"message":-Infinity}"#,
    ] {
        let shown = String::from_utf8_lossy(payload).into_owned();
        reference_check(ctx.clone(), op::TEXT, payload, 1007)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
    }
    holds("1e400, NaN and -Infinity: each closed with 1007")
}
async fn ref_too_deep(ctx: Ctx) -> CaseResult {
    let deep = format!(r#"{{"message":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    reference_check(ctx, op::TEXT, deep.as_bytes(), 1007).await
}
async fn ref_too_large(ctx: Ctx) -> CaseResult {
    let big = format!(r#"{{"message":"{}"}}"#, "a".repeat(1 << 20));
    reference_check(ctx, op::TEXT, big.as_bytes(), 1009).await
}

async fn ref_outgoing_too_large(ctx: Ctx) -> CaseResult {
    // 200,000 Korean characters: 600 kB in, 1.2 MB of \uXXXX escapes out.
    let grows = format!(r#"{{"message":"{}"}}"#, "한".repeat(200_000));
    reference_check(ctx, op::TEXT, grows.as_bytes(), 1009).await
}

async fn django_1011(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("dj")).await?;
    ws.send_text("hello").await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (close, texts) = expect_closed(&mut ws, Duration::from_millis(2000)).await?;
    if !texts.is_empty() {
        return Err(format!("received {texts:?}"));
    }
    match close {
        Some((1011, _)) if started.elapsed() <= Duration::from_millis(1200) => {
            holds(format!("1011 after {} ms", started.elapsed().as_millis()))
        }
        other => {
            let what = match other {
                Some((code, reason)) if reason.is_empty() => format!("closed {code}"),
                Some((code, reason)) => format!("closed {code} {reason:?}"),
                None => "the TCP connection ended without a close frame".into(),
            };
            Err(format!(
                "{what} after {} ms (Django: 1011 within 1 s)",
                started.elapsed().as_millis()
            ))
        }
    }
}
