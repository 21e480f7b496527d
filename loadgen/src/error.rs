//! Errors: what stops a run before it starts ([`PlanError`]), and what ends one connection
//! ([`ConnError`]), counted in the result's `errors` under its text, which names its kind.

pub use endpoint::connect::{ConnectError, WsKind};

use crate::target::PORTS_PER_SOURCE;
use stamp::{MAX_SIZE, MIN_SIZE};

/// A plan this machine or this flag set cannot carry out.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "--senders {senders} is more than --clients {clients}: senders are members of the room"
    )]
    SendersOverClients { senders: u32, clients: u32 },
    #[error(
        "{flag}: only members that do not send leave and rejoin, and with --senders {senders} \
         --clients {senders} every member sends (raise --clients)"
    )]
    ChurnWithoutReceivers { flag: &'static str, senders: u32 },
    #[error("--size {0} is too small: each message needs {MIN_SIZE} bytes for its stamp")]
    SizeTooSmall(String),
    #[error(
        "--size {0} reaches {1} bytes: at most {MAX_SIZE} (a message is built whole in memory)"
    )]
    SizeTooLarge(String, u64),
    #[error("raise the open-files limit: {0}")]
    FileLimit(std::io::Error),
    #[error(
        "this plan needs about {needed} open files ({connections} connections{}) but this \
         process may open {limit}; use fewer --rooms or --clients{}",
        if *.embedded { ", two each since the embedded server holds the other end" } else { "" },
        if *.embedded {
            ", or run the server as its own process and pass --target"
        } else {
            ", or run several loadgen processes and merge their results"
        }
    )]
    TooManyFiles {
        needed: u64,
        connections: u64,
        limit: u64,
        embedded: bool,
    },
    #[error(
        "{per_target} connections to one target need more than {sources} source addresses \
         ({PORTS_PER_SOURCE} ports each); widen --source-ip"
    )]
    TooFewSources { per_target: u64, sources: usize },
    #[error("the plan sends more than {0} messages; shorten --duration or lower --rate")]
    TooManyMessages(u64),
    #[error(transparent)]
    Workload(#[from] crate::workload::file::WorkloadError),
    #[error("--cookie: {0}")]
    Cookie(String),
    #[error("--target {0}")]
    Target(#[from] endpoint::EndpointError),
    #[error(transparent)]
    Tls(#[from] endpoint::tls::TlsSetupError),
    #[error("--shards: JOB_COMPLETION_INDEX is not set; give --shard K/N instead")]
    ShardIndexMissing,
    #[error("JOB_COMPLETION_INDEX={0:?}: {1}")]
    ShardIndex(String, String),
    #[error("--shard/--shards need --target: each shard loads the same backend")]
    ShardEmbedded,
    #[error("shard {index}/{count} owns no room: --rooms {rooms} is fewer than the shards")]
    ShardEmpty { index: u32, count: u32, rooms: u32 },
}

/// What ended (or never opened) one connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// It never opened (`endpoint::connect`'s texts).
    #[error(transparent)]
    Open(#[from] ConnectError),
    /// While receiving.
    #[error("{0}")]
    Receive(WsKind),
    #[error("connection ended without a close frame")]
    EndedWithoutClose,
    #[error("send: {0}")]
    Send(WsKind),
    #[error("task panicked")]
    TaskPanicked,
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    #[test]
    fn kinds_read_as_before_in_results() {
        // These texts are the keys of `errors` in result files: keep them stable.
        assert_eq!(
            ConnError::Open(ConnectError::Connect(ErrorKind::ConnectionRefused)).to_string(),
            "connect: connection refused"
        );
        assert_eq!(
            ConnError::Open(ConnectError::Status(403, Some("origin refused".into()))).to_string(),
            "handshake: HTTP 403 (origin refused)"
        );
        assert_eq!(
            ConnError::Receive(WsKind::Io(ErrorKind::ConnectionReset)).to_string(),
            "io: connection reset"
        );
        assert_eq!(
            ConnError::Send(WsKind::Utf8).to_string(),
            "send: invalid UTF-8 from the server"
        );
    }
}
