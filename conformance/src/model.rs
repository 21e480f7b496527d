//! Model-based testing: random programs of join, leave, reconnect and send over a few rooms
//! and clients, run against the backend and checked against a model of docs/protocol.md: each
//! message reaches exactly the members present when it was sent, once, in order, and nothing
//! crosses rooms. A failure is shrunk by proptest and printed as a readable script.
//!
//! Each step is synchronised on the backend's own answers (a join on its 101, a leave on its
//! close, a send on the sender's own copy), so "present when it was sent" is well defined
//! without sleeps.

use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::case::{Ctx, message_of};
use crate::wire::{Next, Ws, op};

pub const CLIENTS: usize = 4;
pub const ROOMS: usize = 2;

/// One step of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Join { client: usize, room: usize },
    Leave { client: usize },
    Reconnect { client: usize },
    Send { client: usize },
}

/// A program: steps in order.
#[derive(Debug, Clone)]
pub struct Program(pub Vec<Op>);

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, op) in self.0.iter().enumerate() {
            match op {
                Op::Join { client, room } => {
                    writeln!(f, "{i:>3}. client {client} joins room {room}")?
                }
                Op::Leave { client } => writeln!(f, "{i:>3}. client {client} leaves")?,
                Op::Reconnect { client } => writeln!(f, "{i:>3}. client {client} reconnects")?,
                Op::Send { client } => writeln!(f, "{i:>3}. client {client} sends")?,
            }
        }
        Ok(())
    }
}

pub fn program(max_len: usize) -> impl Strategy<Value = Program> {
    let op = prop_oneof![
        3 => (0..CLIENTS, 0..ROOMS).prop_map(|(client, room)| Op::Join { client, room }),
        1 => (0..CLIENTS).prop_map(|client| Op::Leave { client }),
        1 => (0..CLIENTS).prop_map(|client| Op::Reconnect { client }),
        5 => (0..CLIENTS).prop_map(|client| Op::Send { client }),
    ];
    prop::collection::vec(op, 1..max_len).prop_map(Program)
}

/// A connected client: its socket, its room, and what it has received so far.
struct Member {
    ws: Ws,
    room: usize,
}

/// What the model says each client must have received, and what it did receive.
#[derive(Default)]
struct Log {
    expected: Vec<Vec<String>>,
    received: Vec<Vec<String>>,
    /// The nodes each client's sockets went to, in order, when the backend has several.
    nodes: Vec<Vec<SocketAddr>>,
}

impl Log {
    /// Notes the node `ws`, the new socket of `client`, is on.
    fn joined(&mut self, ctx: &Ctx, client: usize, ws: &Ws) {
        if let Some(node) = ctx.node_of(ws) {
            self.nodes[client].push(node);
        }
    }

    /// For evidence: which node each client was on (`; nodes: client 0 on A, client 1 on B
    /// then A`), or nothing with one node.
    fn nodes_text(&self) -> String {
        let clients: Vec<String> = (self.nodes.iter().enumerate())
            .filter(|(_, nodes)| !nodes.is_empty())
            .map(|(client, nodes)| {
                let nodes: Vec<String> = nodes.iter().map(SocketAddr::to_string).collect();
                format!("client {client} on {}", nodes.join(" then "))
            })
            .collect();
        if clients.is_empty() {
            return String::new();
        }
        format!("; nodes: {}", clients.join(", "))
    }
}

/// Runs `program` with fresh rooms; `Err` is the evidence of a difference from the model,
/// with the node each client was on when the backend has several.
pub async fn execute(ctx: &Ctx, program: &Program) -> Result<(), String> {
    let mut log = Log {
        expected: vec![Vec::new(); CLIENTS],
        received: vec![Vec::new(); CLIENTS],
        nodes: vec![Vec::new(); CLIENTS],
    };
    run(ctx, program, &mut log)
        .await
        .map_err(|e| format!("{e}{}", log.nodes_text()))
}

async fn run(ctx: &Ctx, program: &Program, log: &mut Log) -> Result<(), String> {
    let rooms: Vec<String> = (0..ROOMS).map(|_| ctx.room("model")).collect();
    let mut members: Vec<Option<Member>> = (0..CLIENTS).map(|_| None).collect();
    let mut sent = 0usize;
    for (step, op) in program.0.iter().enumerate() {
        let at = |e: String| format!("step {step} ({op:?}): {e}");
        match *op {
            Op::Join { client, room } => {
                if let Some(m) = members[client].take() {
                    leave(ctx, client, m, log).await.map_err(at)?;
                }
                let ws = ctx.join(&rooms[room]).await.map_err(at)?;
                log.joined(ctx, client, &ws);
                members[client] = Some(Member { ws, room });
            }
            Op::Leave { client } => {
                if let Some(m) = members[client].take() {
                    leave(ctx, client, m, log).await.map_err(at)?;
                }
            }
            Op::Reconnect { client } => {
                if let Some(m) = members[client].take() {
                    let room = m.room;
                    leave(ctx, client, m, log).await.map_err(at)?;
                    let ws = ctx.join(&rooms[room]).await.map_err(at)?;
                    log.joined(ctx, client, &ws);
                    members[client] = Some(Member { ws, room });
                }
            }
            Op::Send { client } => {
                let Some(room) = members[client].as_ref().map(|m| m.room) else {
                    continue;
                };
                let text = format!("c{client}-m{sent}");
                sent += 1;
                for (other, m) in members.iter().enumerate() {
                    if m.as_ref().is_some_and(|m| m.room == room) {
                        log.expected[other].push(text.clone());
                    }
                }
                let m = members[client]
                    .as_mut()
                    .ok_or_else(|| at("no member".into()))?;
                let frame = serde_json::json!({ "message": text }).to_string();
                m.ws.send_text(&frame)
                    .await
                    .map_err(|e| at(e.to_string()))?;
                // Synchronise: read until the sender has its own copy.
                loop {
                    let got = receive(ctx, &mut m.ws).await.map_err(at)?;
                    let mine = got == text;
                    log.received[client].push(got);
                    if mine {
                        break;
                    }
                }
            }
        }
    }
    // Collect what is still in flight, then compare every client with the model.
    for (client, m) in members.iter_mut().enumerate() {
        if let Some(m) = m {
            drain(ctx, &mut m.ws, &mut log.received[client]).await?;
        }
    }
    for client in 0..CLIENTS {
        if log.received[client] != log.expected[client] {
            return Err(format!(
                "client {client} received {:?}; the model expected {:?}",
                log.received[client], log.expected[client]
            ));
        }
    }
    Ok(())
}

/// The next delivered message text.
async fn receive(ctx: &Ctx, ws: &mut Ws) -> Result<String, String> {
    let text = ws.recv_text(ctx.timeout).await?;
    let value = message_of(&text)?;
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("a message that is not a string: {text}"))
}

/// Reads whatever arrives within the settle time.
async fn drain(ctx: &Ctx, ws: &mut Ws, into: &mut Vec<String>) -> Result<(), String> {
    loop {
        match ws.next(ctx.settle).await.map_err(|e| e.to_string())? {
            Next::Frame(f) if f.opcode == op::TEXT => {
                let text = String::from_utf8_lossy(&f.payload).into_owned();
                let value = message_of(&text)?;
                into.push(value.as_str().unwrap_or_default().to_owned());
            }
            Next::Frame(_) => {}
            Next::Silence | Next::Eof => return Ok(()),
        }
    }
}

/// Closes a member's socket once it has everything sent to it while it was present (a frame
/// still in flight when a client closes may rightly never be written), keeping what it
/// received before the server's close.
async fn leave(ctx: &Ctx, client: usize, mut m: Member, log: &mut Log) -> Result<(), String> {
    while log.received[client].len() < log.expected[client].len() {
        let got = receive(ctx, &mut m.ws).await.map_err(|e| {
            format!(
                "client {client}, before leaving, had {:?} of {:?}: {e}",
                log.received[client], log.expected[client]
            )
        })?;
        log.received[client].push(got);
    }
    m.ws.send_close(1000).await.map_err(|e| e.to_string())?;
    loop {
        match m.ws.next(ctx.timeout).await.map_err(|e| e.to_string())? {
            Next::Frame(f) if f.opcode == op::TEXT => {
                let text = String::from_utf8_lossy(&f.payload).into_owned();
                let value = message_of(&text)?;
                log.received[client].push(value.as_str().unwrap_or_default().to_owned());
            }
            Next::Frame(f) if f.opcode == op::CLOSE => return Ok(()),
            Next::Frame(_) => {}
            Next::Eof => return Ok(()),
            Next::Silence => return Err("the server did not answer a close".into()),
        }
    }
}

/// Runs `cases` random programs of up to `max_len` steps within `budget`; on a difference,
/// returns the shrunk program as a script with the evidence.
///
/// Every shrinking step against a backend that differs waits out a timeout, so shrinking is
/// what the budget bounds: once it is spent no further program is run (proptest is told the
/// ones it still asks for hold), and the smallest failing program found by then is the
/// evidence, with a note that shrinking stopped. Programs that all held but did not all run
/// within the budget are a difference too: the case could not check them.
pub fn check(
    ctx: &Ctx,
    runtime: &tokio::runtime::Handle,
    cases: u32,
    max_len: usize,
    budget: Duration,
) -> Result<(), String> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let give_up = Instant::now() + budget;
    let (ran, cut) = (Cell::new(0u32), Cell::new(false));
    let result = runner.run(&program(max_len), |p| {
        if Instant::now() >= give_up {
            cut.set(true);
            return Ok(());
        }
        ran.set(ran.get() + 1);
        runtime
            .block_on(execute(ctx, &p))
            .map_err(TestCaseError::fail)
    });
    let (ran, cut) = (ran.get(), cut.get());
    match result {
        Ok(()) if !cut => Ok(()),
        Ok(()) => Err(format!(
            "{ran} of {cases} random programs ran within {budget:?}, each as the model says; \
             the others did not fit in the case's time"
        )),
        Err(TestError::Fail(reason, program)) => {
            let stopped = if cut {
                format!(
                    " (shrinking stopped after {ran} runs, at the case's time budget of {budget:?})"
                )
            } else {
                String::new()
            };
            Err(format!(
                "shrunk failing program{stopped}:\n{program}\n{reason}"
            ))
        }
        Err(TestError::Abort(reason)) => Err(format!("aborted: {reason}")),
    }
}
