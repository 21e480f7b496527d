//! The server's settings: every flag also readable from an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use protocol::inbound::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_MESSAGE_BYTES, Limits};

pub const DEFAULT_MAX_CONNECTIONS: usize = 19_000;
/// Bytes queued per member (frames charged their length plus [`crate::queue::FRAME_OVERHEAD`]).
pub const DEFAULT_QUEUE_BYTES: usize = 1024 * 1024;
pub const DEFAULT_DIRECT_WRITE_BELOW: u64 = 200_000;
pub const DEFAULT_DIRECT_WRITE_MEMBERS: usize = 50;
/// Bytes all connections together may hold in queues and half-received messages.
pub const DEFAULT_MEMORY_BUDGET: usize = 4 * 1024 * 1024 * 1024;
/// HTTP connections that have not (yet) become WebSockets. With the default
/// `--max-connections` this keeps the total under this machine's 20,000 open files.
pub const DEFAULT_MAX_PENDING: usize = 512;
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Daphne's value.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// A minimal, correct and fast server for the `/ws/chat/<room>/` protocol.
#[derive(Debug, Clone, Parser)]
#[command(name = "reference-server", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port; the chosen address is logged).
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// Largest incoming message, and largest outgoing frame, in bytes. Over it: close 1009.
    #[arg(long, env = "CHAT_MAX_MESSAGE_BYTES", default_value_t = DEFAULT_MAX_MESSAGE_BYTES,
          value_parser = clap::value_parser!(usize))]
    pub max_message_bytes: usize,

    /// Most WebSocket connections open at once; one more gets HTTP 503 at the handshake.
    /// The default leaves room under this machine's 20,000 open-files limit.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Bytes queued for one member (not yet written to its socket) before it counts as too
    /// slow and is closed with 1013. Each frame is charged its length plus 64 bytes; a member
    /// whose queue is empty always takes the next frame, however large.
    #[arg(long, env = "CHAT_QUEUE_BYTES", default_value_t = DEFAULT_QUEUE_BYTES,
          value_parser = parse_positive)]
    pub queue_bytes: usize,

    /// Below this many deliveries a second (the node's, over the last 100 ms), a publisher
    /// writes a frame straight into an idle plain-TCP member's socket, which saves the member's
    /// task a wake-up; above it every frame is queued and each member's session writes its
    /// frames in batches, which costs less per frame under load. 0: never write from the
    /// publisher. The default was measured on a 2-core machine (docs/benchmarks.md).
    #[arg(long, env = "CHAT_DIRECT_WRITE_BELOW", default_value_t = DEFAULT_DIRECT_WRITE_BELOW)]
    pub direct_write_below: u64,

    /// Of a room's members on this node, how many the publisher writes into itself (under
    /// --direct-write-below), with the fan-out helper's share; the others are woken first
    /// and their sessions write, on the runtime's workers, while the publisher writes. A
    /// larger value saves wake-ups (CPU); a smaller one adds the runtime's workers to the
    /// publisher and the helper. The default was measured on a 2-core machine
    /// (docs/benchmarks.md).
    #[arg(long, env = "CHAT_DIRECT_WRITE_MEMBERS", default_value_t = DEFAULT_DIRECT_WRITE_MEMBERS)]
    pub direct_write_members: usize,

    /// Bytes all connections together may hold in outgoing queues and half-received
    /// messages. A member whose frame would cross it is closed with 1013; a client whose
    /// half-received message crosses it (beyond its first 64 KiB) is closed with 1013 too.
    #[arg(long, env = "CHAT_MEMORY_BUDGET", default_value_t = DEFAULT_MEMORY_BUDGET,
          value_parser = parse_positive)]
    pub memory_budget: usize,

    /// HTTP connections that have not become WebSockets (page requests, idle keep-alives,
    /// handshakes being read). One more drops the oldest of them, so a flood of half-requests
    /// cannot lock out new clients.
    #[arg(long, env = "CHAT_MAX_PENDING", default_value_t = DEFAULT_MAX_PENDING,
          value_parser = parse_positive)]
    pub max_pending: usize,

    /// Time a client has to send a complete request head (also an idle keep-alive's limit);
    /// after it the connection is dropped.
    #[arg(long, env = "CHAT_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// On SIGTERM or Ctrl-C: how long WebSockets get to finish their 1001 close before the
    /// process exits anyway.
    #[arg(long, env = "CHAT_SHUTDOWN_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Silence from a client after which the server sends a ping.
    #[arg(long, env = "CHAT_PING_INTERVAL", default_value = "20s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// How long after its ping the server waits for any frame before closing with 1011.
    #[arg(long, env = "CHAT_PING_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub ping_timeout: Duration,

    /// An Origin allowed to open a WebSocket (repeatable, or comma-separated in the variable).
    /// With none given every Origin is accepted, as Django does; with any given, other Origins
    /// and requests without one get 403.
    #[arg(
        long = "allowed-origin",
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Decline permessage-deflate. By default an offer is accepted with no context takeover
    /// either way, so a broadcast is compressed once for every member that agreed
    /// (docs/reference-server.md, "Compression"). `CHAT_NO_DEFLATE=true` does the same.
    #[arg(long, env = "CHAT_NO_DEFLATE")]
    pub no_deflate: bool,

    /// A channel layer spanning server processes: `redis://host:port`; with
    /// `--layer-format channels`, several hosts comma-separated in Django's CONFIG order.
    /// None: rooms live in this process only.
    #[arg(long, env = "CHAT_LAYER", value_name = "URL")]
    pub layer: Option<String>,

    /// Wire format of the Redis layer: `native` (pub/sub, fast), `channels` (Django's
    /// channels_redis RedisChannelLayer, so Django nodes share the rooms) or `pubsub`
    /// (channels_redis's RedisPubSubChannelLayer: Django nodes on the pub/sub layer share
    /// them; one Redis host).
    #[arg(long, env = "CHAT_LAYER_FORMAT", value_enum, default_value_t = LayerFormat::Native)]
    pub layer_format: LayerFormat,

    /// What a frame sent while Redis is unreachable (or before its room is subscribed again)
    /// does on this node: `hold` waits for Redis and comes back through it, so every member
    /// of the room, on every node, gets one order; `local` reaches this node's members at
    /// once and the other nodes' later, so members of different nodes see the outage's
    /// messages in different orders. Both publish it once the room is subscribed again.
    #[arg(long, env = "CHAT_OUTAGE", value_enum, default_value_t = Outage::Hold)]
    pub outage: Outage,

    /// Prefix of the Redis channel names (`<prefix>:room:<room>`, native format).
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chatharness")]
    pub redis_prefix: String,

    /// Serve https and wss with this certificate chain (PEM, leaf first). Reloaded, with
    /// the key, on SIGHUP.
    #[arg(long, env = "CHAT_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "CHAT_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Log format.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// A setting that cannot work, found at startup.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Origin(#[from] crate::origin::OriginError),
}

/// The Redis layer's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayerFormat {
    Native,
    Channels,
    Pubsub,
}

/// When this node's members get a frame the Redis layer could not publish yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Outage {
    /// On its way back from Redis, like every node (one order for the room).
    Hold,
    /// At once (available during an outage; the room's order differs between nodes).
    Local,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be more than zero".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (a number of bytes, e.g. 1048576)")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 20s or 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

impl Config {
    /// The documented defaults on `127.0.0.1:0`, without reading the environment: what tests
    /// and embedding tools (conformance, loadgen) start from.
    pub fn local() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            direct_write_below: DEFAULT_DIRECT_WRITE_BELOW,
            direct_write_members: DEFAULT_DIRECT_WRITE_MEMBERS,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_pending: DEFAULT_MAX_PENDING,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            allowed_origins: Vec::new(),
            no_deflate: false,
            layer: None,
            layer_format: LayerFormat::Native,
            outage: Outage::Hold,
            redis_prefix: "chatharness".into(),
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Text,
        }
    }

    /// Checks what clap cannot: settings that would refuse every client or cannot hold.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.origins().map(drop)
    }

    /// `--allowed-origin`, parsed and normalised.
    pub fn origins(&self) -> Result<Vec<crate::origin::Origin>, ConfigError> {
        self.allowed_origins
            .iter()
            .map(|o| Ok(crate::origin::Origin::parse(o)?))
            .collect()
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, FromArgMatches as _};

    use super::*;

    /// The flags' defaults (what `reference-server` runs with) are `Config::local()`'s (what
    /// the tools embed), but for the address: one place says each, the other is tied to it
    /// here. The environment is left out: it may set any of them.
    #[test]
    fn the_flags_defaults_are_the_constants() {
        let command = Config::command().mut_args(|a| a.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["reference-server"])
            .expect("no flag is required");
        let flags = Config::from_arg_matches(&matches).expect("the defaults parse");
        let local = Config::local();
        assert_eq!(flags.bind, "127.0.0.1:8000".parse().expect("an address"));
        let figures = |c: &Config| {
            (
                c.max_message_bytes,
                c.max_connections,
                c.queue_bytes,
                c.direct_write_below,
                c.direct_write_members,
                c.memory_budget,
                c.max_pending,
                (c.handshake_timeout, c.shutdown_grace),
                (c.ping_interval, c.ping_timeout),
            )
        };
        assert_eq!(figures(&flags), figures(&local));
        assert_eq!(
            (
                &flags.layer,
                flags.layer_format,
                flags.outage,
                &flags.redis_prefix
            ),
            (
                &local.layer,
                local.layer_format,
                local.outage,
                &local.redis_prefix
            )
        );
        assert_eq!(flags.log_format, local.log_format);
        assert!(flags.allowed_origins.is_empty() && flags.tls_cert.is_none());
        assert_eq!(flags.no_deflate, local.no_deflate);
    }
}
