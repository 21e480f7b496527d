//! The user's journey as goose transactions, run in this order, goose's wait time (`--think`)
//! between them, then again from the start:
//! 1. `index`: GET /chat/, which must hold the room form;
//! 2. `room`: pick a room, GET /chat/<room>/, which must embed the name as json_script;
//! 3. `join`: open /ws/chat/<room>/ (`WS connect`);
//! 4. `talk`, `--messages` times: send a stamped message and wait for its echo (`WS echo`);
//!    others' messages arriving meanwhile are `WS fan-out`;
//! 5. `leave`: close the socket.
//!
//! The reader task times each frame; a transaction hands those timings to goose with
//! `record_custom_request_duration`, so they sit beside the page requests in every report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use endpoint::Endpoint;
use endpoint::tls::TlsClient;
use goose::prelude::*;
use tokio::sync::Mutex;

use crate::rooms::Rooms;
use crate::socket::{Arrival, Socket};

/// What every user of a run shares.
#[derive(Debug)]
pub struct Journey {
    pub rooms: Rooms,
    pub messages: u32,
    pub echo_timeout: Duration,
    /// Where the sockets go (the goose host).
    pub endpoint: Endpoint,
    pub tls: Option<TlsClient>,
    pub connect_timeout: Duration,
    /// Offer permessage-deflate (`--deflate`).
    pub deflate: bool,
}

/// A user's current visit, in goose's session data.
#[derive(Debug, Clone)]
struct Visit {
    room: u32,
    socket: Arc<Mutex<Option<Socket>>>,
}

/// Goose's method label for the socket's metrics.
const WS: &str = "WS";

/// The scenario, its transactions in order.
pub fn scenario(
    journey: Arc<Journey>,
    think: (Duration, Duration),
) -> Result<Scenario, GooseError> {
    let step = |name: &str, sequence: usize, f: TransactionFunction| {
        Transaction::new(f).set_name(name).set_sequence(sequence)
    };
    let talk = {
        let j = Arc::clone(&journey);
        step(
            "talk",
            4,
            Arc::new(move |user| Box::pin(talk(user, Arc::clone(&j)))),
        )
        .set_weight(journey.messages as usize)?
    };
    let j = Arc::clone(&journey);
    let room = step(
        "room",
        2,
        Arc::new(move |user| Box::pin(room(user, Arc::clone(&j)))),
    );
    let j = Arc::clone(&journey);
    let join = step(
        "join",
        3,
        Arc::new(move |user| Box::pin(join(user, Arc::clone(&j)))),
    );
    Ok(scenario!("ChatUser")
        .set_wait_time(think.0, think.1)?
        .register_transaction(step("index", 1, Arc::new(|user| Box::pin(index(user)))))
        .register_transaction(room)
        .register_transaction(join)
        .register_transaction(talk)
        .register_transaction(step("leave", 5, Arc::new(|user| Box::pin(leave(user))))))
}

/// GETs `path` (named `name` in the reports) and checks the page holds `needle`.
async fn page(user: &mut GooseUser, path: &str, name: &str, needle: &str) -> TransactionResult {
    let mut goose = user.get_named(path, name).await?;
    match goose.response {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status.is_success() && !body.contains(needle) {
                let tag = format!("{path}: no {needle} in the page");
                return user.set_failure(&tag, &mut goose.request, None, Some(&body));
            }
            Ok(())
        }
        // Goose has already counted the failed request.
        Err(_) => Ok(()),
    }
}

async fn index(user: &mut GooseUser) -> TransactionResult {
    page(user, "/chat/", "/chat/", "id=\"room-name-input\"").await
}

async fn room(user: &mut GooseUser, journey: Arc<Journey>) -> TransactionResult {
    let index = journey.rooms.pick(&mut rand::rng());
    let name = journey.rooms.name(index);
    // Leaving a socket open from an interrupted visit would leak it: close it first.
    let (arrivals, _) = close_visit(user).await;
    record(user, &arrivals).await?;
    user.set_session_data(Visit {
        room: index,
        socket: Arc::new(Mutex::new(None)),
    });
    page(
        user,
        &format!("/chat/{name}/"),
        "/chat/<room>/",
        &format!("\"{name}\""),
    )
    .await
}

async fn join(user: &mut GooseUser, journey: Arc<Journey>) -> TransactionResult {
    let Some(visit) = user.get_session_data::<Visit>().cloned() else {
        return Ok(());
    };
    let name = journey.rooms.name(visit.room);
    let started = Instant::now();
    let opened = Socket::open(
        &journey.endpoint,
        (journey.tls.as_ref(), journey.deflate),
        &format!("/ws/chat/{name}/"),
        visit.room,
        user.weighted_users_index as u32,
        journey.connect_timeout,
    )
    .await;
    let took = started.elapsed();
    match opened {
        Ok(socket) => {
            *visit.socket.lock().await = Some(socket);
            user.record_custom_request_duration(WS, "connect", took, true, Some(101), None)
                .await
        }
        Err(e) => {
            let text = e.to_string();
            user.record_custom_request_duration(WS, "connect", took, false, e.status(), Some(&text))
                .await
        }
    }
}

async fn talk(user: &mut GooseUser, journey: Arc<Journey>) -> TransactionResult {
    let Some(visit) = user.get_session_data::<Visit>().cloned() else {
        return Ok(());
    };
    let mut guard = visit.socket.lock().await;
    let Some(socket) = guard.as_mut() else {
        // The join failed (counted there).
        return Ok(());
    };
    let mut arrivals = Vec::new();
    let echoed = match socket.send().await {
        Ok(seq) => {
            socket
                .until_echo(seq, journey.echo_timeout, |a| arrivals.push(a))
                .await
        }
        Err(e) => {
            drop(guard);
            let text = format!("send: {e}");
            return user
                .record_custom_request_duration(
                    WS,
                    "echo",
                    Duration::ZERO,
                    false,
                    None,
                    Some(&text),
                )
                .await;
        }
    };
    drop(guard);
    record(user, &arrivals).await?;
    if !echoed {
        let text = format!("no echo within {:?}", journey.echo_timeout);
        user.record_custom_request_duration(
            WS,
            "echo",
            journey.echo_timeout,
            false,
            None,
            Some(&text),
        )
        .await?;
    }
    Ok(())
}

async fn leave(user: &mut GooseUser) -> TransactionResult {
    let (arrivals, dropped) = close_visit(user).await;
    record(user, &arrivals).await?;
    if dropped > 0 {
        // Nothing lost without a trace: arrivals the reader could not queue for timing.
        let text = format!("{dropped} arrivals not timed (the reader's queue was full)");
        user.record_custom_request_duration(
            WS,
            "untimed",
            Duration::ZERO,
            false,
            None,
            Some(&text),
        )
        .await?;
    }
    Ok(())
}

/// Closes the visit's socket, if open; returns what arrived until then, and how many
/// arrivals could not be timed.
async fn close_visit(user: &mut GooseUser) -> (Vec<Arrival>, u64) {
    let Some(visit) = user.get_session_data::<Visit>().cloned() else {
        return (Vec::new(), 0);
    };
    let socket = visit.socket.lock().await.take();
    let mut arrivals = Vec::new();
    let mut dropped = 0;
    if let Some(mut socket) = socket {
        socket.drain(|a| arrivals.push(a));
        dropped = socket.close(|a| arrivals.push(a)).await;
    }
    (arrivals, dropped)
}

/// Hands the reader's timings to goose.
async fn record(user: &mut GooseUser, arrivals: &[Arrival]) -> TransactionResult {
    for arrival in arrivals {
        match *arrival {
            Arrival::Echo { rtt, .. } => {
                user.record_custom_request_duration(WS, "echo", rtt, true, None, None)
                    .await?;
            }
            Arrival::FanOut { latency } => {
                user.record_custom_request_duration(WS, "fan-out", latency, true, None, None)
                    .await?;
            }
            // Closed by us at leave (1000), or by the server: only the latter is a failure.
            Arrival::Closed { code: Some(1000) } | Arrival::Foreign => {}
            Arrival::Closed { code } => {
                let text = format!("closed by the server ({code:?})");
                user.record_custom_request_duration(
                    WS,
                    "closed",
                    Duration::ZERO,
                    false,
                    code,
                    Some(&text),
                )
                .await?;
            }
        }
    }
    Ok(())
}
