//! docs/protocol.md sections 2 and 6: rooms whose names look alike are still separate rooms,
//! and a silent member is still a member.

use std::time::{Duration, Instant};

use super::{case, expect_message, holds, say};
use crate::case::{Case, CaseResult, Ctx, message_of};
use crate::wire::{Next, Ws, op};

pub(super) const CASES: &[Case] = &[
    case!(
        "order.rooms-alike",
        Core,
        "64 rooms whose names share all but their last character (case, length) stay apart",
        rooms_alike
    ),
    case!(
        "order.idle-member",
        Core,
        "a member that sends nothing for --idle still receives every message",
        idle_member
    ),
];

/// The longest room name (docs/protocol.md section 2).
const MAX_NAME: usize = 94;
/// The characters a word-style name may end in: every one, so that names differing only in
/// case (`…a`, `…A`) are among them.
const LAST: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";

/// The rooms of `order.rooms-alike`. Word style: one name of 93 characters and the 63 names
/// of the maximum length that extend it by one character (so one name is the start of every
/// other; `…a` and `…A` differ only in case). UUID style: 64 UUIDs that share their first 34
/// characters. 64 rooms: a server that hashes rooms onto 63 or fewer shared channels merges
/// two of them whatever its hash, and one with a few hundred almost surely does.
pub(crate) fn alike_names(ctx: &Ctx) -> Vec<String> {
    let base = ctx.room("alike");
    if ctx.uuid_rooms {
        let stem = &base[..base.len() - 2];
        return (0..64u8).map(|i| format!("{stem}{i:02x}")).collect();
    }
    let stem = format!("{base}_{}", "x".repeat(MAX_NAME - 2 - base.len()));
    std::iter::once(stem.clone())
        .chain(LAST.chars().map(|c| format!("{stem}{c}")))
        .collect()
}

/// How two names that a backend merged resemble each other, for the evidence.
pub(crate) fn how_alike(a: &str, b: &str) -> String {
    if a.eq_ignore_ascii_case(b) {
        return "names that differ only in case".into();
    }
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if shared == a.len().min(b.len()) {
        format!("one name is the first {shared} characters of the other")
    } else if shared + 1 == a.len() && a.len() == b.len() {
        format!(
            "names of {} characters that differ only in the last",
            a.len()
        )
    } else {
        format!("names that share their first {shared} characters")
    }
}

async fn rooms_alike(ctx: Ctx) -> CaseResult {
    let names = alike_names(&ctx);
    let mut members = Vec::with_capacity(names.len());
    for name in &names {
        members.push(ctx.join(name).await?);
    }
    for (i, ws) in members.iter_mut().enumerate() {
        say(ws, &format!("alike {i}")).await?;
    }
    // Each member reads until its own message, then every member listens once more for what
    // the backend delivers late: anything but its own room's message is a merge.
    let mut wrong: Vec<(usize, usize)> = Vec::new();
    for (i, ws) in members.iter_mut().enumerate() {
        let who = ctx.who(&format!("the member of {}", names[i]), ws);
        loop {
            let text = ws
                .recv_text(ctx.timeout)
                .await
                .map_err(|e| format!("{who}, waiting for its own message: {e}"))?;
            let from = sender_of(&text).map_err(|e| format!("{who}: {e}"))?;
            if from == i {
                break;
            }
            wrong.push((i, from));
        }
    }
    let late =
        futures_util::future::join_all(members.iter_mut().map(|ws| more_messages(ws, ctx.settle)))
            .await;
    for (i, late) in late.into_iter().enumerate() {
        let late = late.map_err(|e| format!("the member of {}: {e}", names[i]))?;
        wrong.extend(late.into_iter().map(|from| (i, from)));
    }
    let Some(&(to, from)) = wrong.first() else {
        return holds(format!(
            "{} rooms whose names differ only at their end each got only their own message",
            names.len()
        ));
    };
    let rooms = {
        let mut rooms: Vec<usize> = wrong.iter().map(|(to, _)| *to).collect();
        rooms.sort_unstable();
        rooms.dedup();
        rooms.len()
    };
    Err(format!(
        "{rooms} of {} rooms got another room's message: room {} got the message of room {} \
         ({}): the backend merged rooms",
        names.len(),
        names[to],
        names[from],
        how_alike(&names[to], &names[from])
    ))
}

/// The room index in an `alike <i>` message.
fn sender_of(text: &str) -> Result<usize, String> {
    let value = message_of(text)?;
    value
        .as_str()
        .and_then(|t| t.strip_prefix("alike "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("received {value}, which no member of these rooms sent"))
}

/// The `alike` messages that arrive within `wait`.
async fn more_messages(ws: &mut Ws, wait: Duration) -> Result<Vec<usize>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next(left).await.map_err(|e| e.to_string())? {
            Next::Silence => return Ok(got),
            Next::Eof => return Err("the connection ended".into()),
            Next::Frame(f) if f.opcode == op::TEXT => {
                got.push(sender_of(&String::from_utf8_lossy(&f.payload))?);
            }
            Next::Frame(f) => return Err(format!("unexpectedly received {}", f.describe())),
        }
    }
}

/// The talker's pace while the listener stays silent.
const TALK_EVERY: Duration = Duration::from_secs(1);

async fn idle_member(ctx: Ctx) -> CaseResult {
    let room = ctx.room("idle");
    let mut silent = ctx.join(&room).await?;
    let mut talker = ctx.join(&room).await?;
    let silent_who = ctx.who("the silent member", &silent);
    let started = Instant::now();
    let mut said = 0;
    loop {
        let text = format!("while idle {said}");
        let silent_for = started.elapsed();
        say(&mut talker, &text).await?;
        expect_message(&mut silent, &silent_who, &text.clone().into(), ctx.timeout)
            .await
            .map_err(|e| {
                format!(
                    "{e} (message {} of a member that keeps talking, sent when the silent \
                     member had sent nothing for {:.1} s): the backend stopped delivering to a \
                     silent member",
                    said + 1,
                    silent_for.as_secs_f64(),
                )
            })?;
        expect_message(&mut talker, "the talker", &text.into(), ctx.timeout).await?;
        said += 1;
        if started.elapsed() >= ctx.idle {
            break;
        }
        // The silence is the point of the case: the member waits, sending nothing.
        tokio::time::sleep(TALK_EVERY.min(ctx.idle.saturating_sub(started.elapsed()))).await;
    }
    holds(format!(
        "a member that sent nothing for {:.1} s got all {said} messages",
        started.elapsed().as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(uuid_rooms: bool) -> Ctx {
        let node = crate::case::Node {
            addr: "127.0.0.1:1".parse().expect("an address"),
            host: "127.0.0.1:1".into(),
            tls_name: None,
        };
        let mut ctx = Ctx::new(vec![node], Duration::ZERO, Duration::ZERO, None);
        ctx.uuid_rooms = uuid_rooms;
        ctx
    }

    #[test]
    fn the_alike_names_are_valid_distinct_and_alike() {
        let names = alike_names(&ctx(false));
        assert_eq!(names.len(), 64);
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 64);
        let word = |n: &String| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        assert!(names.iter().all(word));
        assert_eq!(names[0].len(), MAX_NAME - 1);
        assert!(names[1..].iter().all(|n| n.len() == MAX_NAME));
        assert!(names.iter().any(|n| n.ends_with('a')) && names.iter().any(|n| n.ends_with('A')));
        let uuids = alike_names(&ctx(true));
        assert_eq!(uuids.len(), 64);
        assert!(
            uuids
                .iter()
                .all(|u| u.len() == 36 && u[..34] == uuids[0][..34])
        );
    }

    #[test]
    fn the_evidence_says_how_two_names_are_alike() {
        assert_eq!(how_alike("abcA", "abca"), "names that differ only in case");
        assert_eq!(
            how_alike("abc", "abcd"),
            "one name is the first 3 characters of the other"
        );
        assert_eq!(
            how_alike("abc1", "abc2"),
            "names of 4 characters that differ only in the last"
        );
        assert_eq!(
            how_alike("ab1x", "ab2x"),
            "names that share their first 2 characters"
        );
    }
}
