//! loadgen: opens thousands of `/ws/chat/<room>/` connections, broadcasts through every room
//! on an open-loop schedule, and measures fan-out latency, loss, duplicates and ordering.
//!
//! `cargo run --release -p loadgen -- --rooms 100 --clients 50` runs against the embedded
//! reference server; `--target http://host:port` against any backend.
//!
//! - [`opts`]: the flags.
//! - [`run`]: the coordinator: plan, connect, warm up, measure, settle, assemble.
//! - `plan`: checking the flags against this machine and resolving them once (nothing reads
//!   the flags after), and who connects where and when (the per-worker, per-connection and
//!   per-sender plans).
//! - `worker`: connections on worker threads (single-threaded runtimes), each with its totals;
//!   `connect`: opening and closing one; `send`: a sender's open-loop schedule; [`pacer`]:
//!   wakes each send on time, to the microsecond; `receive`: the receive path (stamps,
//!   duplicates, order, latencies); `window`: with churn or --reconnect, what one stay of a
//!   member should get; `leave`: when a member leaves and comes back (churn, the stages'
//!   share of members); `comeback`: --reconnect, a lost connection's backoff and accounting.
//! - [`workload`]: `--workload FILE` and what a run of flags means as one: room groups whose
//!   sizes, senders, rates and message lengths are drawn from distributions ([`dist`]), and
//!   stages that change the rate and the members present over time; `index`: where each
//!   room's senders and messages sit in the shared vectors, and the parts (group, room size,
//!   stage) they count in; [`breakdown`]: the summary's tables by part.
//! - `causal`: answers (`--replies`) and the check that none arrives before its question.
//! - `order`: one common order per room (ranks by first receipt, order conflicts and their
//!   witness).
//! - [`abort`]: `--abort-on`, ending a run early when a bound has been broken for a time.
//! - [`live`]: live metrics (Prometheus remote write, an OpenMetrics endpoint); `streaming`:
//!   a run's feed into them. [`server_load`], [`client_load`]: the server's and loadgen's
//!   own cost over the measured window. `start`: when sending starts.
//! - [`shard`]: `--shard K/N`, `--start-at`: one plan over several processes.
//! - [`sweep`]: `--sweep`, the capacity search: runs at rising rates until a bound breaks.
//! - `shared`: the atomics the coordinator and the workers share (the run-wide counts).
//! - [`error`]: plan errors, and connection errors counted by kind.
//! - [`handshake`]: extra headers, the socket's path, room-name styles.
//! - the `stamp` crate: the stamp carried in each message and its fast parse.
//! - [`stats`]: which sequence numbers a receiver has seen (duplicates, reordering).
//! - [`result`]: the run's config and machine in the result (the format itself, totals and
//!   thresholds are the `run-result` crate).
//! - [`summary`]: the printed table; [`sweep_summary`]: the sweep's. `progress`: the bars.
//! - [`target`]: URLs and source addresses. [`embedded`]: the in-process reference server.

pub mod abort;
pub mod breakdown;
mod causal;
pub mod client_load;
mod comeback;
mod connect;
pub mod dist;
pub mod embedded;
pub mod error;
pub mod handshake;
pub mod impair;
mod index;
mod interrupt;
mod leave;
pub mod live;
pub mod opts;
mod order;
pub mod pacer;
mod plan;
mod progress;
mod receive;
pub mod result;
pub mod run;
mod send;
pub mod server_load;
pub mod shard;
mod shared;
mod start;
pub mod stats;
mod streaming;
pub mod summary;
pub mod sweep;
pub mod sweep_summary;
pub mod target;
mod window;
mod worker;
pub mod workload;

pub use opts::Opts;
pub use run::run;
pub use run_result::RunResult;
