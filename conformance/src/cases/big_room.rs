//! docs/protocol.md section 6 in rooms of realistic size (`--room-size`, default 100): every
//! member receives every message once, in order, however many members the room has and
//! while members are still joining. A backend that serves only a room's first members (a
//! capacity cap) passes every small-room case and fails these.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{case, holds, say};
use crate::case::{Case, CaseResult, Ctx, message_of, on_node};
use crate::wire::{Next, Ws, op};

pub(super) const CASES: &[Case] = &[
    case!(
        "big-room.every-member",
        Core,
        "in a room of --room-size members (100), every member gets every message once, in order",
        every_member
    ),
    case!(
        "big-room.joining-while-busy",
        Core,
        "members that join a busy room of --room-size get, in order, everything sent after their 101",
        joining_while_busy
    ),
];

/// Messages [`every_member`] sends at once: a burst well inside Django's channel capacity
/// (100), so only a real loss fails it.
const BURST: usize = 20;
/// Handshakes in flight at once while a room fills.
const JOINING_AT_ONCE: usize = 10;
/// [`joining_while_busy`]'s pace: one message this often while members join.
const PACE: Duration = Duration::from_millis(5);
/// The message that tells every reader the sender is done.
const END: &str = "end";

/// `n` members of `room`, joined `JOINING_AT_ONCE` at a time.
async fn join_many(ctx: &Ctx, room: &str, n: usize) -> Result<Vec<Ws>, String> {
    let mut members = Vec::with_capacity(n);
    while members.len() < n {
        let batch = JOINING_AT_ONCE.min(n - members.len());
        let mut joins = JoinSet::new();
        for i in 0..batch {
            let (ctx, room) = (ctx.clone(), room.to_owned());
            joins.spawn(async move { (i, ctx.join(&room).await) });
        }
        let mut joined: Vec<(usize, Ws)> = Vec::with_capacity(batch);
        while let Some(done) = joins.join_next().await {
            let (i, ws) = done.map_err(|e| e.to_string())?;
            let ws = ws.map_err(|e| format!("member {} of {n}: {e}", members.len() + i + 1))?;
            joined.push((i, ws));
        }
        joined.sort_by_key(|(i, _)| *i);
        members.extend(joined.into_iter().map(|(_, ws)| ws));
    }
    Ok(members)
}

/// What one member read: the numbers of the `b<N>` messages, in arrival order, until
/// [`END`] (and, after it, within the settle time, anything more), or the reason it stopped.
#[derive(Debug, Default)]
struct Read {
    /// The node the member was on, when the backend has several ([`Ctx::node_of`]).
    node: Option<SocketAddr>,
    seqs: Vec<usize>,
    after_end: usize,
    failure: Option<String>,
}

async fn read_until_end(mut ws: Ws, ctx: Ctx) -> Read {
    let mut read = Read {
        node: ctx.node_of(&ws),
        ..Read::default()
    };
    loop {
        let text = match ws.recv_text(ctx.timeout).await {
            Ok(text) => text,
            Err(e) => {
                read.failure = Some(e);
                return read;
            }
        };
        let value = match message_of(&text) {
            Ok(value) => value,
            Err(e) => {
                read.failure = Some(e);
                return read;
            }
        };
        match value.as_str() {
            Some(END) => break,
            Some(s) if s.starts_with('b') && s[1..].parse::<usize>().is_ok() => {
                read.seqs.push(s[1..].parse().unwrap_or_default());
            }
            _ => {
                read.failure = Some(format!("an unexpected message {text}"));
                return read;
            }
        }
    }
    while let Ok(Next::Frame(f)) = ws.next(ctx.settle).await {
        if f.opcode == op::TEXT {
            read.after_end += 1;
        } else if f.opcode == op::CLOSE {
            break;
        }
    }
    read
}

/// Checks that member `i`'s `read` holds exactly `first..last` in order, `first` at most
/// `must_from`.
fn check(i: usize, read: &Read, must_from: usize, last: usize) -> Result<(), String> {
    let who = on_node(&format!("member {i}"), read.node);
    if let Some(failure) = &read.failure {
        return Err(format!(
            "{who}: after {} messages: {failure}",
            read.seqs.len()
        ));
    }
    if read.after_end > 0 {
        return Err(format!("{who}: {} messages after the last", read.after_end));
    }
    let Some(&first) = read.seqs.first() else {
        return Err(format!("{who}: received nothing of b{must_from}..b{last}"));
    };
    let want: Vec<usize> = (first..=last).collect();
    if read.seqs != want || first > must_from {
        let shown: Vec<String> = read.seqs.iter().take(12).map(|s| format!("b{s}")).collect();
        return Err(format!(
            "{who}: should have b{must_from}..b{last} in order, received {} messages: {}{}",
            read.seqs.len(),
            shown.join(" "),
            if read.seqs.len() > 12 { " ..." } else { "" }
        ));
    }
    Ok(())
}

/// The evidence for a room where some members fell short (`check` says which): how many,
/// how many on each node when the backend has several, and the first few.
fn verdict(
    size: usize,
    reads: &[(usize, Read)],
    check: impl Fn(usize, &Read) -> Result<(), String>,
    what: String,
) -> CaseResult {
    let mut failures = Vec::new();
    let mut nodes: BTreeMap<SocketAddr, (usize, usize)> = BTreeMap::new();
    for (i, read) in reads {
        let failed = match check(*i, read) {
            Ok(()) => false,
            Err(e) => {
                failures.push(e);
                true
            }
        };
        if let Some(node) = read.node {
            let (short, of) = nodes.entry(node).or_default();
            *short += usize::from(failed);
            *of += 1;
        }
    }
    if failures.is_empty() {
        return holds(what);
    }
    let by_node = if nodes.is_empty() {
        String::new()
    } else {
        let counts: Vec<String> = nodes
            .iter()
            .map(|(node, (short, of))| format!("{short} of {of} on {node}"))
            .collect();
        format!(" ({})", counts.join(", "))
    };
    let shown: Vec<&str> = failures.iter().take(3).map(String::as_str).collect();
    Err(format!(
        "{} of {size} members fell short{by_node}; {}",
        failures.len(),
        shown.join("; ")
    ))
}

async fn every_member(ctx: Ctx) -> CaseResult {
    let size = ctx.room_size;
    let room = ctx.room("big");
    let mut members = join_many(&ctx, &room, size).await?;
    let mut sender = members.remove(0);
    let mut readers = JoinSet::new();
    for (i, ws) in members.into_iter().enumerate() {
        readers.spawn(read_with_index(i + 2, ws, ctx.clone()));
    }
    for seq in 0..BURST {
        say(&mut sender, &format!("b{seq}")).await?;
    }
    say(&mut sender, END).await?;
    let mut reads = vec![(1, read_until_end(sender, ctx.clone()).await)];
    while let Some(done) = readers.join_next().await {
        reads.push(done.map_err(|e| e.to_string())?);
    }
    reads.sort_by_key(|(i, _)| *i);
    verdict(
        size,
        &reads,
        |i, read| check(i, read, 0, BURST - 1),
        format!("all {size} members got the {BURST} messages once, in order"),
    )
}

async fn read_with_index(i: usize, ws: Ws, ctx: Ctx) -> (usize, Read) {
    (i, read_until_end(ws, ctx).await)
}

async fn joining_while_busy(ctx: Ctx) -> CaseResult {
    let size = ctx.room_size;
    let room = ctx.room("busy");
    let settled = size / 2;
    let mut members = join_many(&ctx, &room, settled.max(1)).await?;
    let mut sender = members.remove(0);
    let mut readers = JoinSet::new();
    for (i, ws) in members.into_iter().enumerate() {
        readers.spawn(read_with_index(i + 2, ws, ctx.clone()));
    }
    // When each message's send began, from `start`; and when the joiners held their 101s.
    let start = Instant::now();
    let sent_at: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let (count_tx, mut count) = tokio::sync::watch::channel(0usize);
    let sending = {
        let sent_at = Arc::clone(&sent_at);
        tokio::spawn(async move {
            let mut seq = 0usize;
            let mut tail = None;
            loop {
                if tail.is_none() && done_rx.try_recv().is_ok() {
                    tail = Some(seq + 5);
                }
                if tail.is_some_and(|t| seq >= t) {
                    break;
                }
                sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(start.elapsed());
                say(&mut sender, &format!("b{seq}")).await?;
                seq += 1;
                count_tx.send_replace(seq);
                tokio::time::sleep(PACE).await;
            }
            say(&mut sender, END).await?;
            Ok::<_, String>((seq, sender))
        })
    };
    let joiners = size - settled;
    let mut joined_at = Vec::with_capacity(joiners);
    let mut number = settled;
    while joined_at.len() < joiners {
        // Each batch joins after another message went out: the room is busy throughout.
        let before = *count.borrow_and_update();
        if count.wait_for(|n| *n > before).await.is_err() {
            break;
        }
        let batch = join_many(&ctx, &room, JOINING_AT_ONCE.min(joiners - joined_at.len())).await;
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                let _ = done_tx.send(());
                let _ = sending.await;
                return Err(format!("joining while busy: {e}"));
            }
        };
        let at = start.elapsed();
        for ws in batch {
            number += 1;
            joined_at.push((number, at));
            readers.spawn(read_with_index(number, ws, ctx.clone()));
        }
    }
    let _ = done_tx.send(());
    let (sent, sender) = sending.await.map_err(|e| e.to_string())??;
    if joined_at.len() < joiners {
        return Err(format!(
            "the sender stopped after {sent} messages, with {} of {joiners} joined",
            joined_at.len()
        ));
    }
    let mut reads = vec![(1, read_until_end(sender, ctx.clone()).await)];
    while let Some(done) = readers.join_next().await {
        reads.push(done.map_err(|e| e.to_string())?);
    }
    reads.sort_by_key(|(i, _)| *i);
    let sent_at = sent_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // A joiner must have everything whose send began after its 101 (it may have more: a
    // message sent just before may reach it or not).
    let must_have = |i: usize, read: &Read| {
        let must_from = joined_at
            .iter()
            .find(|(n, _)| *n == i)
            .map_or(0, |(_, at)| sent_at.partition_point(|t| t < at));
        check(i, read, must_from, sent - 1)
    };
    verdict(
        size,
        &reads,
        must_have,
        format!(
            "{joiners} of {size} members joined while {sent} messages went out; each got \
             everything sent after its 101, in order"
        ),
    )
}
