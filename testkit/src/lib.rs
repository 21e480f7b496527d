//! Test-only parts the workspace's tests share (never a stand-in for a server we can run):
//! - [`Pki`]: a private CA and a server certificate made fresh for a test, as PEM files;
//! - [`Redis`]: a real `redis-server` (installed by scripts/setup) of the test's own, on a
//!   free port.

mod pki;
mod redis;

pub use pki::Pki;
pub use redis::Redis;
