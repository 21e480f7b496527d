//! loadgen: opens thousands of `/ws/chat/<room>/` connections, broadcasts through every room
//! on an open-loop schedule, and measures fan-out latency, loss, duplicates and ordering.
//!
//! `cargo run --release -p loadgen -- --rooms 100 --clients 50` runs against the embedded
//! reference server; `--target http://host:port` against any backend.
//!
//! - [`opts`]: the flags. [`run`]: the coordinator. `worker`: connections on worker threads.
//! - [`message`]: the stamp carried in each message. [`stats`]: per-worker histograms.
//! - [`result`]: its config and machine in the JSON result (the format itself is the
//!   `run-result` crate, `run-result/schema.json`). [`summary`]: the printed table.
//! - [`target`]: URLs and source addresses. `--threshold` conditions are `run_result::threshold`.

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
mod worker;

pub use opts::Opts;
pub use run::run;
pub use run_result::RunResult;
