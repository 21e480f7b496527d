//! The server's settings: every flag also readable from an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use protocol::inbound::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_MESSAGE_BYTES, Limits};

pub const DEFAULT_MAX_CONNECTIONS: usize = 19_000;
pub const DEFAULT_QUEUE_LEN: u32 = 1024;
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

    /// Frames queued per member before it counts as too slow and is closed with 1013.
    #[arg(long, env = "CHAT_QUEUE_LEN", default_value_t = DEFAULT_QUEUE_LEN,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_len: u32,

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

    /// A channel layer spanning server processes: `redis://host:port`; with
    /// `--layer-format channels`, several hosts comma-separated in Django's CONFIG order.
    /// None: rooms live in this process only.
    #[arg(long, env = "CHAT_LAYER", value_name = "URL")]
    pub layer: Option<String>,

    /// Wire format of the Redis layer: `native` (pub/sub, fast) or `channels` (Django's
    /// channels_redis RedisChannelLayer, so Django nodes share the rooms).
    #[arg(long, env = "CHAT_LAYER_FORMAT", value_enum, default_value_t = LayerFormat::Native)]
    pub layer_format: LayerFormat,

    /// Prefix of the Redis channel names (`<prefix>:room:<room>`, native format).
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chatharness")]
    pub redis_prefix: String,

    /// Log format.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The Redis layer's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayerFormat {
    Native,
    Channels,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
            queue_len: DEFAULT_QUEUE_LEN,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            allowed_origins: Vec::new(),
            layer: None,
            layer_format: LayerFormat::Native,
            redis_prefix: "chatharness".into(),
            log_format: LogFormat::Text,
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}
