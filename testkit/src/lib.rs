//! Test-only parts the workspace's tests share (never a stand-in for a server we can run):
//! - [`Pki`]: a private CA and a server certificate made fresh for a test, as PEM files;
//! - [`SelfSigned`]: a self-signed certificate made with the real `openssl req -x509`;
//! - [`Redis`]: a real `redis-server` (installed by scripts/setup) of the test's own, on a
//!   free port;
//! - [`Prometheus`]: a real Prometheus (installed by scripts/setup) of the test's own, with
//!   its remote-write receiver, and queries against it;
//! - [`result_schema_errors`]: a loadgen result against `run-result/schema.json`;
//! - [`lines`]: a child process's output, line by line as it comes.

mod lines;
mod pki;
mod prometheus;
mod redis;
mod schema;

pub use lines::lines;
pub use pki::{Pki, SelfSigned};
pub use prometheus::Prometheus;
pub use redis::Redis;
pub use schema::result_schema_errors;
