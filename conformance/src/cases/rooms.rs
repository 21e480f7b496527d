//! docs/protocol.md section 2: which paths name a room.

use std::time::Instant;

use super::{case, expect_message, expect_silence, holds, say};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::{Handshake, WireError};

pub(super) const CASES: &[Case] = &[
    case!(
        "rooms.valid-names",
        Core,
        "names of 1 to 94 of [A-Za-z0-9_] are accepted",
        valid_names
    ),
    case!(
        "rooms.query-ignored",
        Core,
        "the query string is ignored: /ws/chat/R/?q=1 joins R",
        query_ignored
    ),
    case!(
        "rooms.percent-decoded",
        Core,
        "the path is percent-decoded: %6Cobby is lobby",
        percent_decoded
    ),
    case!(
        "rooms.case-sensitive",
        Core,
        "Lobby and lobby are two rooms",
        case_sensitive
    ),
    case!(
        "rooms.refused",
        Core,
        "invalid paths are not answered with 101",
        refused
    ),
    case!(
        "rooms.refusal-404",
        Reference,
        "a refused room gets an immediate 404 with a one-line reason",
        refusal_404
    ),
    case!(
        "rooms.refusal-500",
        Django,
        "a refused room gets a bare 500 with no body",
        refusal_500
    ),
];

async fn valid_names(ctx: Ctx) -> CaseResult {
    if ctx.uuid_rooms {
        // A UUID route: the names the style makes (three fresh UUIDs) are rooms.
        for _ in 0..3 {
            ctx.join(&ctx.room("v")).await?;
        }
        return holds("joined three rooms named by random UUIDs");
    }
    let base = ctx.room("v");
    let long = format!("{base}{}", "Z".repeat(94 - base.len()));
    for name in ["a".to_owned(), "A_z09".to_owned(), long] {
        ctx.join(&name).await?;
    }
    holds("joined rooms named a, A_z09 and a 94-character name")
}

async fn query_ignored(ctx: Ctx) -> CaseResult {
    let room = ctx.room("q");
    let mut a = match ctx
        .handshake(&format!("/ws/chat/{room}/?q=1&x=%20"), "")
        .await?
    {
        Handshake::Accepted(ws) => ws,
        Handshake::Refused(r) => return Err(format!("refused with HTTP {}", r.status)),
    };
    let mut b = ctx.join(&room).await?;
    say(&mut a, "q").await?;
    expect_message(&mut b, "the plain member", &"q".into(), ctx.timeout).await?;
    holds("a member joined with a query string shares the room")
}

async fn percent_decoded(ctx: Ctx) -> CaseResult {
    let room = ctx.room("pct");
    let escaped = format!("%{:02X}{}", room.as_bytes()[0], &room[1..]);
    let mut a = ctx.join(&room).await?;
    let mut b = match ctx.handshake(&format!("/ws/chat/{escaped}/"), "").await? {
        Handshake::Accepted(ws) => ws,
        Handshake::Refused(r) => {
            return Err(format!(
                "/ws/chat/{escaped}/ refused with HTTP {}",
                r.status
            ));
        }
    };
    say(&mut b, "pct").await?;
    expect_message(
        &mut a,
        "the member on the plain path",
        &"pct".into(),
        ctx.timeout,
    )
    .await?;
    holds(format!("/ws/chat/{escaped}/ is the room {room}"))
}

async fn case_sensitive(ctx: Ctx) -> CaseResult {
    let lower = ctx.room("case");
    let upper = lower.to_uppercase();
    let mut l = ctx.join(&lower).await?;
    let mut u = ctx.join(&upper).await?;
    say(&mut u, "upper").await?;
    expect_message(&mut u, "the sender", &"upper".into(), ctx.timeout).await?;
    expect_silence(&mut l, "the member of the lower-case room", ctx.settle).await?;
    holds(format!("{upper} and {lower} are separate"))
}

/// Paths Django refuses (docs/protocol.md section 2); with `--room-style uuid` (a UUID route) the
/// same shapes around a UUID, which such a route refuses as well.
fn invalid_targets(ctx: &Ctx) -> Vec<String> {
    let r = ctx.room("bad");
    vec![
        format!("/ws/chat/{r}"),
        "/ws/chat//".into(),
        format!("/ws/chat/{r}-x/"),
        format!("/ws/chat/{r}.x/"),
        format!("/ws/chat/{r}%C3%A9/"),
        format!("/ws/chat/{}/", "a".repeat(95)),
        format!("/ws/chat/{r}/extra/"),
        format!("/x/ws/chat/{r}/"),
    ]
}

async fn refused(ctx: Ctx) -> CaseResult {
    let mut seen = Vec::new();
    for target in invalid_targets(&ctx) {
        // A connection that could not be made says nothing about the path: it is an error
        // (the outer `?`), never a refusal.
        match ctx.try_handshake(&target, "").await? {
            Ok(Handshake::Accepted(_)) => return Err(format!("{target} was accepted (101)")),
            Ok(Handshake::Refused(r)) => seen.push(r.status.to_string()),
            // The server read the request and ended the connection without a 101 (Nginx's
            // 444, a server that drops what it will not route): not accepted.
            Err(WireError::Closed(_)) => seen.push("closed".into()),
            Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                seen.push("reset".into());
            }
            Err(e) => return Err(format!("{target}: {e}")),
        }
    }
    holds(format!("8 invalid paths refused ({})", seen.join(" ")))
}

async fn refusal_404(ctx: Ctx) -> CaseResult {
    for target in invalid_targets(&ctx) {
        let started = Instant::now();
        let Handshake::Refused(r) = ctx.handshake(&target, "").await? else {
            return Err(format!("{target} was accepted"));
        };
        let took = started.elapsed();
        let body = r.body_text();
        if r.status != 404 {
            return Err(format!("{target}: HTTP {} instead of 404", r.status));
        }
        if body.trim().is_empty() || body.trim_end().lines().count() != 1 {
            return Err(format!("{target}: body {body:?} is not a one-line reason"));
        }
        if took.as_millis() > 500 {
            return Err(format!(
                "{target}: the refusal took {} ms",
                took.as_millis()
            ));
        }
    }
    holds("every invalid path got 404 with a one-line reason within 500 ms")
}

async fn refusal_500(ctx: Ctx) -> CaseResult {
    let target = format!("/ws/chat/{}-x/", ctx.room("d"));
    match ctx.handshake(&target, "").await? {
        Handshake::Refused(r) if r.status == 500 && r.body.is_empty() => {
            holds(format!("{target}: bare 500"))
        }
        Handshake::Refused(r) => Err(format!(
            "{target}: HTTP {} with {} body bytes (Django: bare 500)",
            r.status,
            r.body.len()
        )),
        Handshake::Accepted(_) => Err(format!("{target} was accepted")),
    }
}
