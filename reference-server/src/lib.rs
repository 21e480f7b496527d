//! A minimal, correct and fast server for the `/ws/chat/<room>/` protocol of the Django
//! Channels chat tutorial (`shared/PROTOCOL.md`, every "reference" behaviour).
//!
//! Run it with `cargo run --release -p reference-server -- --bind 127.0.0.1:8000` and open
//! <http://127.0.0.1:8000/chat/>.
//!
//! - [`config`]: flags and environment variables.
//! - [`server`]: binding, routing, shutdown.
//! - `upgrade`: the WebSocket handshake and its refusals.
//! - `session`: one member's connection.
//! - [`fanout`]: rooms, members, bounded queues; the [`fanout::ChannelLayer`] interface.
//! - [`redis_layer`]: rooms across server processes over Redis pub/sub (`--layer redis://..`).
//! - `pages`: the tutorial's two HTML pages.
//! - [`metrics`]: the Prometheus counters.
//! - [`spawn`]: a running server for tests and for tools that embed it.

pub mod channels_codec;
pub mod channels_layer;
pub mod config;
pub mod fanout;
pub mod metrics;
mod pages;
pub mod redis_layer;
pub mod server;
mod session;
mod spawn;
mod upgrade;

pub use config::{Config, LayerFormat, LogFormat};
pub use server::Server;
pub use spawn::{RunningServer, spawn};
