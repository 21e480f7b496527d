//! The result of a loadgen run, as loadgen writes it (`--json`) and `reports` reads, merges
//! and compares it: one owner for the format, so neither side imports the other's internals.
//! No I/O beyond serde. The JSON Schema is `run-result/schema.json`.
//!
//! - [`result`]: the result's types and [`SCHEMA_VERSION`].
//! - [`totals`]: the mergeable totals (histograms, counters, per-second series) a result is
//!   assembled from, and rebuilt from to merge results exactly.
//! - [`assemble`]: totals into a result: summary, series, thresholds, encoded histograms.
//! - [`part`]: a run broken down by room group, room-size class and stage.
//! - [`histogram`]: the histogram bounds and the HdrHistogram V2 + base64 encoding.
//! - [`metric`]: the one metric vocabulary; [`threshold`]: `--threshold` conditions over it.
//! - [`display`]: figures for people (ms, thousands separators).
//! - [`witness`]: the evidence of an order conflict (two members, two messages).
//! - [`sweep`]: a capacity search (`loadgen --sweep`): its steps' results and the capacity.

pub mod assemble;
pub mod client;
pub mod display;
pub mod histogram;
pub mod metric;
pub mod part;
pub mod result;
pub mod server;
pub mod sweep;
pub mod threshold;
pub mod totals;
pub mod wire;
pub mod witness;

pub use assemble::Parts;
pub use metric::Metric;
pub use result::{RunResult, SCHEMA_VERSION, Summary};
pub use threshold::Threshold;
pub use totals::Totals;
