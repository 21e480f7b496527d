//! The conformance suite: grades any `/ws/chat/<room>/` backend against `docs/protocol.md`.
//!
//! `cargo run -p conformance -- --target http://127.0.0.1:8000`, or `cargo test -p conformance`
//! (against `CHAT_TARGET`, or the reference server started in-process when it is unset).
//!
//! - [`case`]: what a case is, its level and verdicts. [`cases`]: every case, by section.
//! - [`runner`]: selection by profile and ID, concurrent runs. [`report`]: table, JUnit, JSON.
//! - [`cli`]: the command line's options and `run` (`main.rs` only parses).
//! - [`known`]: `--known-failures`, upstream bugs graded KNOWN instead of FAIL. [`traces`]:
//!   `--trace-failed`, a failed case's wire log.
//! - [`wire`]: the suite's own WebSocket and HTTP client, independent of the server's code.
//! - [`target`]: which backend; [`embedded`]: the reference server when none is named. [`model`]: model-based testing with proptest.

pub mod case;
pub mod cases;
pub mod cli;
pub mod embedded;
pub mod json;
pub mod known;
pub mod model;
pub mod report;
pub mod runner;
pub mod target;
pub mod traces;
/// The suite's own WebSocket and HTTP client (the `rawws` crate), independent of the server,
/// over plain TCP or TLS (`endpoint::tls`).
pub mod wire {
    pub use rawws::*;
    /// A connection over plain TCP or TLS.
    pub type Ws = rawws::Ws<endpoint::tls::Conn>;
    pub type Handshake = rawws::Handshake<endpoint::tls::Conn>;
}

use std::time::Duration;

use case::Ctx;
use target::Target;

/// The defaults for a run against a live backend.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(300);
/// Random programs per run: few enough for a remote backend (each program is up to
/// [`MODEL_MAX_STEPS`] synchronised steps).
pub const DEFAULT_MODEL_CASES: u32 = 16;
pub const MODEL_MAX_STEPS: usize = 24;
/// Members of the room in the big-room cases (`--room-size`): the size of a busy real room,
/// and above the handful of every other case.
pub const DEFAULT_ROOM_SIZE: u16 = 100;
/// How long `order.idle-member`'s member stays silent (`--idle`): longer than the presence
/// timeouts the suite is meant to catch at a default run's cost (the case runs beside the
/// others). A deployment with a presence or group expiry sets `--idle` above it.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(5);
/// The tutorial's socket path; `--ws-path` may name another.
pub const TUTORIAL_WS_PATH: &str = "/ws/chat/{room}/";

/// The backend to grade: the nodes in `CHAT_TARGET` (comma-separated URLs), or a reference
/// server started in the current runtime (kept alive by the returned guard).
pub async fn targets_from_env() -> anyhow::Result<(Vec<Target>, Option<embedded::Embedded>)> {
    match std::env::var("CHAT_TARGET") {
        Ok(urls) if !urls.trim().is_empty() => Ok((
            urls.split(',')
                .map(|u| Target::parse(u.trim()))
                .collect::<Result<_, _>>()?,
            None,
        )),
        _ => {
            let (target, server) = embedded::Embedded::start().await?;
            Ok((vec![target], Some(server)))
        }
    }
}

/// The context cases run with against the nodes of one backend.
pub fn context(
    targets: &[Target],
    timeout: Duration,
    settle: Duration,
    origin: Option<String>,
) -> Ctx {
    Ctx::new(
        targets
            .iter()
            .map(|t| case::Node {
                addr: t.addr,
                host: t.authority.clone(),
                tls_name: t.tls.then(|| t.host.clone()),
            })
            .collect(),
        timeout,
        settle,
        origin,
    )
}
