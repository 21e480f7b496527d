//! loadgen: opens thousands of `/ws/chat/<room>/` connections, broadcasts through every room
//! on an open-loop schedule, and measures fan-out latency, loss, duplicates and ordering.
//!
//! `cargo run --release -p loadgen -- --rooms 100 --clients 50` runs against the embedded
//! reference server; `--target http://host:port` against any backend.
//!
//! - [`opts`]: the flags. [`run`]: the coordinator. `worker`: connections on worker threads.
//! - [`message`]: the stamp carried in each message. [`stats`]: per-worker histograms.
//! - [`result`]: the JSON result (`schema.json`). [`summary`]: the printed table.
//! - [`threshold`]: `--threshold` conditions. [`target`]: URLs and source addresses.

pub mod embedded;
pub mod message;
pub mod opts;
mod progress;
pub mod result;
pub mod run;
mod shared;
pub mod stats;
pub mod summary;
pub mod target;
pub mod threshold;
mod worker;

pub use opts::Opts;
pub use result::RunResult;
pub use run::run;
