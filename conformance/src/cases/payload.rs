//! docs/protocol.md section 4: the value that comes back, as JSON (core) and byte for byte (django).

use super::{case, holds};
use crate::case::{Case, CaseResult, Check, Ctx, json_equal, message_of, parse_json};
use crate::wire::op;

pub(super) const CASES: &[Case] = &[
    case!(
        "payload.values",
        Core,
        "every section 4 vector (but integers beyond 64 bits) comes back as an equal JSON value (numbers by value)",
        values
    ),
    case!(
        "payload.bytes",
        Django,
        "every section 4 vector (but integers beyond 64 bits) comes back as Python's json.dumps bytes",
        bytes
    ),
    case!(
        "payload.fragmented",
        Core,
        "fragmented text frames are reassembled",
        fragmented
    ),
    case!(
        "payload.big-integers",
        Django,
        "integers beyond 64 bits keep every digit",
        big_integers
    ),
    case!(
        "payload.large",
        Core,
        "messages of 1, 16 and 64 KiB, ASCII and not, come back whole and equal",
        large
    ),
    case!(
        "payload.largest",
        Django,
        "informational: the largest message echoed (64 KiB to 1 MiB), and what happens above it",
        largest
    ),
];

/// The sizes every backend must carry whole (core).
const LARGE: [usize; 3] = [1024, 16 * 1024, 64 * 1024];
/// The sizes [`largest`] tries beyond them.
const LARGER: [usize; 4] = [128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024];

/// A text of `bytes` UTF-8 bytes: ASCII, or a mix of 2-, 3- and 4-byte characters.
fn text_of(bytes: usize, ascii: bool) -> String {
    let unit = if ascii { "abcdefghij" } else { "é€😀x" };
    let mut text: String = unit.repeat(bytes / unit.len() + 1);
    while text.len() > bytes {
        text.pop();
    }
    text
}

/// Sends `text` from `ws` and waits for it to come back; a difference says where.
async fn echo_whole(ws: &mut crate::wire::Ws, ctx: &Ctx, text: &str) -> Result<(), String> {
    super::say(ws, text).await?;
    let got = ws
        .recv_text(ctx.timeout)
        .await
        .map_err(|e| format!("after sending {} bytes: {e}", text.len()))?;
    let value = message_of(&got).map_err(|e| format!("after sending {} bytes: {e}", text.len()))?;
    match value.as_str() {
        Some(back) if back == text => Ok(()),
        Some(back) => {
            let same = back
                .chars()
                .zip(text.chars())
                .take_while(|(a, b)| a == b)
                .count();
            Err(format!(
                "sent {} bytes, got {} back, equal for the first {same} characters",
                text.len(),
                back.len()
            ))
        }
        None => Err(format!(
            "sent a {}-byte string, got {}",
            text.len(),
            crate::wire::clip(&got)
        )),
    }
}

async fn large(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("large")).await?;
    for bytes in LARGE {
        for ascii in [true, false] {
            let kind = if ascii { "ASCII" } else { "non-ASCII" };
            echo_whole(&mut ws, &ctx, &text_of(bytes, ascii))
                .await
                .map_err(|e| format!("{kind}: {e}"))?;
        }
    }
    holds("1, 16 and 64 KiB, ASCII and non-ASCII, each came back whole")
}

async fn largest(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("largest")).await?;
    let mut echoed = 64 * 1024;
    for bytes in LARGER {
        if let Err(e) = echo_whole(&mut ws, &ctx, &text_of(bytes, true)).await {
            let after = match super::expect_closed(&mut ws, ctx.settle).await {
                Ok((Some((code, _)), _)) => format!("closed with {code}"),
                Ok((None, _)) => "the connection ended".into(),
                Err(_) => "the connection stayed open".into(),
            };
            // Said once when the failure already says it (daphne ends the connection).
            let after = if e.ends_with(&after) {
                String::new()
            } else {
                format!("; {after}")
            };
            return Ok(Check::Info(format!(
                "{} KiB echoed; {} KiB: {e}{after}",
                echoed / 1024,
                bytes / 1024
            )));
        }
        echoed = bytes;
    }
    Ok(Check::Info(format!(
        "every size up to {} KiB echoed whole",
        echoed / 1024
    )))
}

/// Integers outside 64 bits: Django's in-memory layer keeps every digit, but its Redis layer
/// cannot carry them (msgpack raises, the consumer dies, the socket is closed 1011), so they
/// are not core: [`big_integers`] grades them at the django level.
const BIG: &str = "18446744073709551616";

/// docs/protocol.md section 4: what a client sends, and the exact bytes Django sends back.
pub(crate) const VECTORS: &[(&str, &str)] = &include!("../../../vectors/section4.rs");

/// Sends the vectors but the big integer (see [`big_integers`]) from one member and collects
/// what came back.
async fn round_trip(ctx: &Ctx) -> Result<Vec<(&'static str, &'static str, String)>, String> {
    let mut ws = ctx.join(&ctx.room("vec")).await?;
    let mut out = Vec::new();
    for (sent, django) in VECTORS.iter().filter(|(s, _)| !s.contains(BIG)) {
        ws.send_text(sent).await.map_err(|e| e.to_string())?;
        let got = ws
            .recv_text(ctx.timeout)
            .await
            .map_err(|e| format!("after sending {sent}: {e}"))?;
        out.push((*sent, *django, got));
    }
    Ok(out)
}

async fn values(ctx: Ctx) -> CaseResult {
    let mut compared = 0;
    for (sent, django, got) in round_trip(&ctx).await? {
        compared += 1;
        let want = message_of(django)?;
        let value = message_of(&got).map_err(|e| format!("after sending {sent}: {e}"))?;
        if !json_equal(&value, &want) {
            return Err(format!("sent {sent}, received {got}"));
        }
    }
    holds(format!("{compared} vectors, equal values"))
}

async fn bytes(ctx: Ctx) -> CaseResult {
    let mut different = Vec::new();
    for (sent, django, got) in round_trip(&ctx).await? {
        if got != django {
            different.push(format!("{sent} -> {got} (Django: {django})"));
        }
    }
    if let Some(first) = different.first() {
        return Err(format!(
            "{} of {} differ; first: {first}",
            different.len(),
            VECTORS.len()
        ));
    }
    holds(format!("{} vectors byte for byte", VECTORS.len()))
}

async fn fragmented(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("frag")).await?;
    let send = |fin, opcode, part: &'static [u8]| (fin, opcode, part);
    for (fin, opcode, part) in [
        send(false, op::TEXT, br#"{"mess"#),
        send(false, op::CONT, br#"age":"in "#),
        send(true, op::CONT, br#"parts"}"#),
    ] {
        ws.send_frame(fin, opcode, part)
            .await
            .map_err(|e| e.to_string())?;
    }
    let got = ws.recv_text(ctx.timeout).await?;
    let value = parse_json(&got)?;
    if value != serde_json::json!({ "message": "in parts" }) {
        return Err(format!("received {got}"));
    }
    holds("three fragments became one message")
}

async fn big_integers(ctx: Ctx) -> CaseResult {
    let mut ws = ctx.join(&ctx.room("bigint")).await?;
    for n in [
        BIG,
        "-9223372036854775809",
        "123456789012345678901234567890",
    ] {
        ws.send_text(&format!(r#"{{"message":{n}}}"#))
            .await
            .map_err(|e| e.to_string())?;
        let got = ws
            .recv_text(ctx.timeout)
            .await
            .map_err(|e| format!("after sending {n}: {e}"))?;
        let compact: String = got.chars().filter(|c| !c.is_whitespace()).collect();
        if compact != format!(r#"{{"message":{n}}}"#) {
            return Err(format!("sent {n}, received {got}"));
        }
    }
    holds("three integers beyond 64 bits came back digit for digit")
}
