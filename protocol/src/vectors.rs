//! The test vectors of docs/protocol.md section 4, for the protocol's and the server's tests.
//!
//! The vectors themselves are data in `vectors/section4.rs` at the root, which the conformance
//! suite includes too: it shares the specification's data, never the server's code.

/// What a client sends, and the exact bytes every member receives (Python's `json.dumps`).
pub const SECTION_4: &[(&str, &str)] = &include!("../../vectors/section4.rs");
