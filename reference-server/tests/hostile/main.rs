//! Hostile clients: each test plays one attack against a server on port 0 and asserts the
//! bound it must not cross (memory, time, descriptors, close codes, counters). Each stays
//! within a few seconds, but for the ping flood, which runs the 10 s the bound is stated for.
//! The soak (waves of thousands of connections, RSS back to its baseline) is `soak.rs`,
//! `#[ignore]`d.

#[path = "../common/mod.rs"]
mod common;

mod handshake;
mod memory;
mod shutdown;
mod slow;
mod soak;
