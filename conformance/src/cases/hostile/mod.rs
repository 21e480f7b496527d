//! `--profile hostile`: attacks on the backend named with `--target`, each bounded in
//! connections, bytes and time, each graded by whether the backend keeps serving a healthy
//! probe room during and after it (`probe.rs`). What the attack itself saw (whether the
//! backend cut the attacker, and how) is evidence, not the verdict: a backend may survive an
//! attack by tolerating it. Every case runs alone, after the others; its connections are
//! closed when it ends, whatever the backend did.

mod probe;
mod usage;

pub(crate) use usage::check as check_metrics;

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{case, holds};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::{Next, op};

/// The section: `--profile hostile` selects it, the other profiles leave it out.
pub const SECTION: &str = "hostile";

/// How long each attack runs at most.
const ATTACK: Duration = Duration::from_secs(3);

pub(super) const CASES: &[Case] = &[
    Case {
        exclusive: true,
        ..case!(
            "hostile.ping-flood",
            Core,
            "a client that sends pings as fast as it can and never reads (3 s, 32 MiB at most) stalls no other room",
            ping_flood
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.endless-fragments",
            Core,
            "a message in 1-byte fragments that never ends (3 s, 16 MiB at most) stalls no other room",
            endless_fragments
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.huge-length",
            Core,
            "a frame announcing 2^62 bytes, its payload trickling (3 s, 1 MiB at most), stalls no other room",
            huge_length
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.never-reads",
            Core,
            "a member that never reads in a busy room (3 s, 32 MiB sent into it at most) stalls no other room",
            never_reads
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.slow-handshakes",
            Core,
            "50 connections sending their handshake a byte every 100 ms (3 s) stall no other room",
            slow_handshakes
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.idle-connections",
            Core,
            "500 TCP connections that send nothing (held 3 s) stall no other room",
            idle_connections
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.reconnect-burst",
            Core,
            "300 members joining and leaving at once, 20 at a time (3 s at most), stall no other room",
            reconnect_burst
        )
    },
    Case {
        exclusive: true,
        ..case!(
            "hostile.oversized",
            Core,
            "8 messages of 4 MiB, each on a connection of its own (3 s at most), stall no other room",
            oversized
        )
    },
];

/// Runs `attack` (which opens its own connections: it is not polled before the probe room is
/// served) beside the probe room and grades by the probe, then, with `--server-metrics`, by
/// the backend's memory and descriptors once every connection of the case has closed.
/// `attack` says what it saw, or why it could not start.
async fn graded(ctx: &Ctx, attack: impl Future<Output = Result<String, String>>) -> CaseResult {
    let probe = probe::Probe::start(ctx).await?;
    let before = usage::before(ctx).await?;
    let seen = match attack.await {
        Ok(seen) => seen,
        Err(e) => {
            // The probe's own verdict is moot: the attack never ran.
            drop(probe.finish().await);
            return Err(format!("the attack could not start: {e}"));
        }
    };
    let probe = match probe.finish().await {
        Ok(probe) => probe,
        Err(probe) => return Err(format!("{probe}; the attack: {seen}")),
    };
    match before {
        None => holds(format!("{seen}; {probe}")),
        Some(before) => match usage::back(ctx, &before).await {
            Ok(usage) => holds(format!("{seen}; {probe}; {usage}")),
            Err(usage) => Err(format!("{usage}; the attack: {seen}; {probe}")),
        },
    }
}

/// How the backend ended an attacker's connection, read for at most `wait`.
async fn ending(ws: &mut crate::wire::Ws, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.next_frame(left).await {
            Ok(Next::Frame(f)) if f.opcode == op::CLOSE => {
                return match f.close_code() {
                    Some((code, reason)) => format!("closed it with {code} ({reason:?})"),
                    None => "closed it without a code".into(),
                };
            }
            Ok(Next::Frame(_)) => {}
            Ok(Next::Eof) => return "ended its connection".into(),
            Ok(Next::Silence) => return "kept its connection open".into(),
            Err(e) => return format!("ended its connection ({e})"),
        }
    }
}

/// Writes `frame` again and again until `limit` bytes or [`ATTACK`]; the bytes written and
/// whether the backend stopped taking them (a write that did not finish within a second).
async fn flood(ws: &mut crate::wire::Ws, frame: &[u8], limit: usize) -> (usize, bool) {
    let started = Instant::now();
    let mut sent = 0;
    while sent < limit && started.elapsed() < ATTACK {
        let write = ws.stream_mut().write_all(frame);
        match tokio::time::timeout(Duration::from_secs(1), write).await {
            Ok(Ok(())) => sent += frame.len(),
            Ok(Err(_)) | Err(_) => return (sent, true),
        }
    }
    (sent, false)
}

/// [`flood`]s `frame` and says how much of `what` went, whether the backend stopped reading
/// and how it ended the connection.
async fn flooded(ws: &mut crate::wire::Ws, frame: &[u8], limit: usize, what: &str) -> String {
    let (sent, stalled) = flood(ws, frame, limit).await;
    let stopped = if stalled {
        ", then the backend stopped reading it"
    } else {
        ""
    };
    format!(
        "{} of {what} sent{stopped}; the backend {}",
        mib(sent),
        ending(ws, Duration::from_secs(1)).await
    )
}

/// A client frame with a zero mask key (the payload goes as it is).
fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mut frame = vec![
        u8::from(fin) << 7 | opcode,
        0x80 | payload.len() as u8,
        0,
        0,
        0,
        0,
    ];
    frame.extend_from_slice(payload);
    frame
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

async fn ping_flood(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let mut attacker = ctx.join(&ctx.room("pingflood")).await?;
        let ping = masked(true, op::PING, &[b'p'; 125]);
        Ok(flooded(&mut attacker, &ping, 32 << 20, "pings").await)
    })
    .await
}

async fn endless_fragments(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let mut attacker = ctx.join(&ctx.room("fragments")).await?;
        let first = masked(false, op::TEXT, b"{");
        let _ = attacker.stream_mut().write_all(&first).await;
        let fragment = masked(false, op::CONT, b" ");
        Ok(flooded(&mut attacker, &fragment, 16 << 20, "1-byte fragments").await)
    })
    .await
}

async fn huge_length(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let mut attacker = ctx.join(&ctx.room("hugelength")).await?;
        // FIN, text, masked, 64-bit length 2^62, a zero key.
        let mut header = vec![0x81, 0xff];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        header.extend_from_slice(&[0; 4]);
        let _ = attacker.stream_mut().write_all(&header).await;
        let chunk = [b'x'; 1024];
        let started = Instant::now();
        let mut sent = 0;
        while sent < 1 << 20 && started.elapsed() < ATTACK {
            let write = attacker.stream_mut().write_all(&chunk);
            if !matches!(
                tokio::time::timeout(Duration::from_secs(1), write).await,
                Ok(Ok(()))
            ) {
                break;
            }
            sent += chunk.len();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        Ok(format!(
            "the header and {} of its payload sent; the backend {}",
            mib(sent),
            ending(&mut attacker, Duration::from_secs(1)).await
        ))
    })
    .await
}

async fn never_reads(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let room = ctx.room("neverreads");
        // Joined first: it never reads from here on, whatever comes.
        let silent = ctx.join(&room).await?;
        let mut sender = ctx.join(&room).await?;
        let text = "x".repeat(60 * 1024);
        let frame = serde_json::json!({ "message": text }).to_string();
        let started = Instant::now();
        let mut sent = 0;
        while sent < 32 << 20 && started.elapsed() < ATTACK {
            let step = async {
                sender.send_text(&frame).await.map_err(|e| e.to_string())?;
                // Its own copy: the sender reads, only the silent member does not.
                sender.recv_text(Duration::from_secs(1)).await.map(drop)
            };
            if step.await.is_err() {
                break;
            }
            sent += frame.len();
        }
        let stalled = started.elapsed() < ATTACK && sent < 32 << 20;
        // The silent member stays for the whole attack, whatever became of the sender.
        tokio::time::sleep_until((started + ATTACK).into()).await;
        drop(silent);
        let stalled = if stalled {
            ", then the sender's own copy stopped coming"
        } else {
            ""
        };
        Ok(format!(
            "{} sent into the room of a member that never read{stalled}",
            mib(sent)
        ))
    })
    .await
}

async fn slow_handshakes(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let target = ctx.ws_target(&ctx.room("slowloris"));
        let mut conns = Vec::new();
        for _ in 0..50 {
            let node = ctx.pick();
            let request = format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n",
                node.host
            );
            conns.push((ctx.connect(node).await?, request.into_bytes()));
        }
        let started = Instant::now();
        let mut at = 0;
        let mut dropped = vec![false; conns.len()];
        while started.elapsed() < ATTACK {
            for ((conn, request), dropped) in conns.iter_mut().zip(&mut dropped) {
                let byte = &request[at.min(request.len() - 1)..][..1];
                if !*dropped && conn.write_all(byte).await.is_err() {
                    *dropped = true;
                }
            }
            at += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let n = dropped.iter().filter(|d| **d).count();
        Ok(format!(
            "50 connections each sent {at} bytes of a handshake a byte every 100 ms; the backend \
             had dropped {n} of them (a write failed)"
        ))
    })
    .await
}

async fn idle_connections(ctx: Ctx) -> CaseResult {
    graded(&ctx, async {
        let mut conns = Vec::new();
        for _ in 0..500 {
            match ctx.connect(ctx.pick()).await {
                Ok(conn) => conns.push(conn),
                // A backend may refuse connections past a limit of its own: that is survival.
                Err(_) => break,
            }
        }
        let opened = conns.len();
        tokio::time::sleep(ATTACK).await;
        let mut ended = 0;
        for conn in &mut conns {
            let mut byte = [0u8; 1];
            let read = tokio::io::AsyncReadExt::read(conn, &mut byte);
            if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(1), read).await {
                ended += 1;
            }
        }
        Ok(format!(
            "{opened} connections opened and held silent for {} s; the backend had ended {ended} \
             of them",
            ATTACK.as_secs()
        ))
    })
    .await
}

async fn reconnect_burst(ctx: Ctx) -> CaseResult {
    let room = ctx.room("burst");
    graded(&ctx, async {
        let started = Instant::now();
        let (mut joined, mut refused) = (0, 0);
        while joined + refused < 300 && started.elapsed() < ATTACK {
            let wave: Vec<_> = (0..20)
                .map(|_| {
                    let (ctx, room) = (ctx.clone(), room.clone());
                    tokio::spawn(async move { ctx.join(&room).await.is_ok() })
                })
                .collect();
            for member in wave {
                // Each member is dropped (its connection closed) as soon as it has joined.
                if matches!(member.await, Ok(true)) {
                    joined += 1;
                } else {
                    refused += 1;
                }
            }
        }
        Ok(format!(
            "{joined} members joined and left at once ({refused} not let in) in {} ms",
            started.elapsed().as_millis()
        ))
    })
    .await
}

async fn oversized(ctx: Ctx) -> CaseResult {
    let room = ctx.room("oversized");
    graded(&ctx, async {
        let text = "x".repeat(4 << 20);
        let frame = serde_json::json!({ "message": text }).to_string();
        let started = Instant::now();
        let mut endings = Vec::new();
        for _ in 0..8 {
            if started.elapsed() >= ATTACK {
                break;
            }
            let Ok(mut ws) = ctx.join(&room).await else {
                endings.push("not let in".to_owned());
                continue;
            };
            let send = ws.send_text(&frame);
            let sent = matches!(
                tokio::time::timeout(Duration::from_secs(1), send).await,
                Ok(Ok(()))
            );
            let ending = ending(&mut ws, Duration::from_millis(500)).await;
            endings.push(if sent {
                ending
            } else {
                format!("{ending} before taking it all")
            });
        }
        let tried = endings.len();
        endings.dedup();
        Ok(format!(
            "{tried} members sent a message of 4 MiB each; the backend {}",
            endings.join(", then ")
        ))
    })
    .await
}
