//! A minimal, correct and fast server for the `/ws/chat/<room>/` protocol of the Django
//! Channels chat tutorial (`docs/protocol.md`, every "reference" behaviour).
//!
//! Run it with `cargo run --release -p reference-server -- --bind 127.0.0.1:8000` and open
//! <http://127.0.0.1:8000/chat/>.
//!
//! - [`config`]: flags and environment variables; [`origin`]: `--allowed-origin` entries.
//! - [`server`]: binding, routing, shutdown; `state`: what handlers and sessions share.
//! - `listener`: accepting and serving HTTP with the handshake timeout and pending limit.
//! - `upgrade`: the WebSocket handshake and its refusals.
//! - `session`: one member's connection; `outbox`: its writing half over the WebSocket codec
//!   (TLS members); `prefixed`: the bytes read past the upgrade, put back in front.
//! - [`rooms`]: rooms and their local members, one order per room.
//! - The fan-out core: `outlet` (a member's queue and, for plain TCP, its socket, with every
//!   write into it: by the publisher into an idle member's socket, by the fan-out helper, by
//!   the session's drain, by the codec for control frames), `spread` (the helper thread that
//!   writes a large room's second share in parallel with the publisher), `load` (the node's delivery rate, which
//!   decides whether publishers write directly).
//! - [`frame`]: a broadcast frame, built once, its bytes shared by every member (and its
//!   compressed form, built once for the members that agreed to permessage-deflate:
//!   `deflate`, which also inflates what they send).
//! - [`queue`]: a member's outgoing queue, bounded in bytes.
//! - [`budget`]: the global memory budget over queues and half-received messages.
//! - [`layer`]: the [`layer::RoomLayer`] interface and its three layers: in-process, Redis
//!   pub/sub (`native`), Django's channels_redis format (`channels`), on one shared core
//!   (`redis_core`, `marker`).
//! - `pages`: the tutorial's two HTML pages.
//! - `tls`: `--tls-cert`/`--tls-key`, reloaded on SIGHUP.
//! - [`metrics`]: the Prometheus counters; `process_metrics`: the process's CPU, memory and
//!   descriptors beside them.
//! - [`spawn`]: a running server for tests and for tools that embed it.

pub mod budget;
pub mod config;
pub mod deflate;
pub mod frame;
pub mod layer;
mod listener;
mod load;
pub mod metrics;
pub mod origin;
mod outbox;
pub mod outlet;
mod pages;
mod prefixed;
mod process_metrics;
pub mod queue;
pub mod rooms;
pub mod server;
mod session;
mod spawn;
mod spread;
mod state;
mod tls;
mod upgrade;

pub use config::{Config, ConfigError, LayerFormat, LogFormat, Outage};
pub use server::Server;
pub use spawn::{RunningServer, spawn};
pub use tls::TlsConfigError;
