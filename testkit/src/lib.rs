//! Test-only parts the workspace's tests share (never a stand-in for a server we can run):
//! - [`Pki`]: a private CA and a server certificate made fresh for a test, as PEM files;
//! - [`SelfSigned`]: a self-signed certificate made with the real `openssl req -x509`;
//! - [`Redis`]: a real `redis-server` (installed by scripts/setup) of the test's own, on a
//!   free port.

mod pki;
mod redis;

pub use pki::{Pki, SelfSigned};
pub use redis::Redis;
