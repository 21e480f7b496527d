//! docs/protocol.md section 6: a member that stops reading. The reference server closes it with
//! 1013 once its bounded queue is full and the others go on getting everything; Django keeps
//! it, buffering for it without bound. One observation, graded at the reference level and
//! reported at the django level.

use std::time::Instant;

use super::{case, holds, say};
use crate::case::{Case, CaseResult, Check, Ctx, message_of};
use crate::wire::{Next, Ws, op};

/// Both run alone (`Case::exclusive`): 16 MiB for a member that never reads can stall a
/// whole backend (Django under uvicorn blocks its one sync thread on that member's socket).
pub(super) const CASES: &[Case] = &[
    Case {
        exclusive: true,
        ..case!(
            "slow.evicted",
            Reference,
            "a member that stops reading is closed with 1013 and the others get every message",
            evicted
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "slow.member",
            Django,
            "informational: what the backend does with a member that stops reading",
            member
        )
    },
];

/// Messages sent into the room, each [`SIZE`] bytes: 16 MiB in all, several times what the
/// kernel buffers on a loopback connection (the server's send buffer grows to 4 MiB, the
/// silent client's receive buffer stays near 128 KiB when it never reads) plus the reference
/// server's default queue (1 MiB). A backend that still has the member open after them is
/// holding at least 11 MiB for a client that reads nothing.
const MESSAGES: usize = 256;
const SIZE: usize = 64 * 1024;
/// Members that read at full speed besides the sender.
const READERS: usize = 2;

/// How the silent member's connection ended, seen when it finally reads.
#[derive(Debug)]
enum Ending {
    Closed(u16, String),
    /// The TCP connection ended without a close frame (or with one carrying no code).
    Ended,
    /// Still open, nothing more to read.
    Open,
}

/// What happened in a room with one member that did not read.
#[derive(Debug)]
struct Seen {
    /// Messages the sender sent (it waits for each one's echo before the next).
    sent: usize,
    /// Messages each reader received, in order, with the first difference if any.
    readers: Vec<Result<usize, String>>,
    /// Messages the silent member found when it read, in order, and how its connection ended.
    silent: usize,
    ending: Ending,
    /// Seconds from the first send to the end of the silent member's reading.
    seconds: f64,
}

/// The text of message `i`: its number, then padding to [`SIZE`] bytes.
fn text(i: usize) -> String {
    let mut t = format!("{i:05} ");
    t.push_str(&"x".repeat(SIZE - t.len()));
    t
}

/// Reads one delivery and returns its number (the frame must be `{"message": text(i)}`).
fn number_of(frame: &str) -> Result<usize, String> {
    let value = message_of(frame)?;
    let s = value.as_str().ok_or("a message that is not a string")?;
    s.get(..5)
        .and_then(|n| n.parse().ok())
        .filter(|_| s.len() == SIZE)
        .ok_or_else(|| format!("a message of {} bytes that is not one sent", s.len()))
}

/// Reads messages 0.. in order until `want` arrived, the connection ends or nothing comes for
/// `wait`: the number received in order, or the first difference.
async fn read_in_order(
    ws: &mut Ws,
    want: usize,
    wait: std::time::Duration,
    progress: &tokio::sync::watch::Sender<usize>,
) -> Result<usize, String> {
    let mut got = 0;
    while got < want {
        progress.send_replace(got);
        let text = match ws.recv_text(wait).await {
            Ok(t) => t,
            Err(_) => return Ok(got),
        };
        let n = number_of(&text)?;
        if n != got {
            return Err(format!("message {n} arrived where {got} was due"));
        }
        got += 1;
    }
    progress.send_replace(got);
    Ok(got)
}

/// Runs the room: `silent` joins and never reads, [`READERS`] read in their own tasks, the
/// sender sends [`MESSAGES`] (each after its own echo). Then the silent member reads.
async fn observe(ctx: &Ctx) -> Result<Seen, String> {
    let room = ctx.room("slow");
    let mut silent = ctx.join(&room).await?;
    let mut readers = Vec::new();
    // Each reader's count so far: the sender keeps pace with the readers, so that only the
    // silent member falls behind (a reader more than a queue's worth behind may be closed as
    // slow too, and that is not what this case grades).
    let mut progress = Vec::new();
    for _ in 0..READERS {
        let mut ws = ctx.join(&room).await?;
        let wait = ctx.timeout;
        let (count, seen) = tokio::sync::watch::channel(0);
        progress.push(seen);
        readers.push(tokio::spawn(async move {
            read_in_order(&mut ws, MESSAGES, wait, &count).await
        }));
    }
    let mut sender = ctx.join(&room).await?;
    let start = Instant::now();
    let mut sent = 0;
    while sent < MESSAGES {
        say(&mut sender, &text(sent)).await?;
        sent += 1;
        let echo = sender
            .recv_text(ctx.timeout)
            .await
            .map_err(|e| format!("the sender, after message {}: {e}", sent - 1))?;
        if number_of(&echo)? != sent - 1 {
            return Err(format!("the sender's echo of {} was another", sent - 1));
        }
        // A reader that stopped (its count ends the case below) is not waited for.
        for seen in &mut progress {
            let _ = tokio::time::timeout(ctx.timeout, seen.wait_for(|got| *got >= sent)).await;
        }
    }
    let mut seen = Vec::new();
    for r in readers {
        seen.push(r.await.map_err(|e| format!("a reader task: {e}"))?);
    }
    let (got, ending) = drain(&mut silent, ctx).await?;
    Ok(Seen {
        sent,
        readers: seen,
        silent: got,
        ending,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The silent member reads at last: the messages it finds (in order) and how it ends.
async fn drain(ws: &mut Ws, ctx: &Ctx) -> Result<(usize, Ending), String> {
    let mut got = 0;
    loop {
        match ws.next(ctx.settle).await {
            Ok(Next::Frame(f)) if f.opcode == op::TEXT => {
                let n = number_of(&String::from_utf8_lossy(&f.payload))?;
                if n != got {
                    return Err(format!(
                        "the silent member found message {n} where {got} was due"
                    ));
                }
                got += 1;
            }
            Ok(Next::Frame(f)) if f.opcode == op::CLOSE => {
                let ending = match f.close_code() {
                    Some((code, reason)) => Ending::Closed(code, reason),
                    None => Ending::Ended,
                };
                return Ok((got, ending));
            }
            Ok(Next::Frame(_)) => {}
            Ok(Next::Eof) | Err(_) => return Ok((got, Ending::Ended)),
            Ok(Next::Silence) => return Ok((got, Ending::Open)),
        }
    }
}

impl Seen {
    /// The readers' counts as one phrase, or the first reader's difference.
    fn readers(&self) -> Result<String, String> {
        let mut counts = Vec::new();
        for (i, r) in self.readers.iter().enumerate() {
            match r {
                Ok(n) => counts.push(n.to_string()),
                Err(e) => return Err(format!("reader {i}: {e}")),
            }
        }
        Ok(counts.join(" and "))
    }

    fn silent(&self) -> String {
        let mib = (self.silent * SIZE) as f64 / (1024.0 * 1024.0);
        let ending = match &self.ending {
            Ending::Closed(code, reason) if reason.is_empty() => format!("closed with {code}"),
            Ending::Closed(code, reason) => format!("closed with {code} ({reason:?})"),
            Ending::Ended => "the connection ended without a close code".into(),
            Ending::Open => "still open".into(),
        };
        format!(
            "the silent member found {} of {} messages ({mib:.1} MiB) when it read, then {ending}",
            self.silent, self.sent
        )
    }
}

async fn evicted(ctx: Ctx) -> CaseResult {
    let seen = observe(&ctx).await?;
    let readers = seen.readers()?;
    if seen.readers.iter().any(|r| r != &Ok(seen.sent)) {
        return Err(format!(
            "readers received {readers} of {} messages; {}",
            seen.sent,
            seen.silent()
        ));
    }
    // A close frame can reach a client that never reads only if it reads again before the
    // server gives up writing it (docs/protocol.md: "disconnected after a short grace"), so the end
    // of the connection without a close is as good as the 1013; keeping the member is not.
    let cut = seen.silent < seen.sent;
    match seen.ending {
        Ending::Closed(1013, _) | Ending::Ended if cut => holds(format!(
            "{}; readers got all {} in {:.1} s",
            seen.silent(),
            seen.sent,
            seen.seconds
        )),
        _ => Err(seen.silent()),
    }
}

async fn member(ctx: Ctx) -> CaseResult {
    let seen = observe(&ctx).await?;
    let readers = match seen.readers() {
        Ok(r) => format!("readers received {r} of {}", seen.sent),
        Err(e) => e,
    };
    Ok(Check::Info(format!("{}; {readers}", seen.silent())))
}
