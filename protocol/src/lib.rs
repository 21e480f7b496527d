//! The wire rules of the `/ws/chat/<room>/` protocol (see `docs/protocol.md`), with no I/O.
//!
//! Shared by the reference server and the tools; tested with `cargo test -p protocol`.
//!
//! - [`room`]: which paths name a room, and why the others are refused (section 2).
//! - [`inbound`]: what a client may send, the limits, and the close code for each refusal
//!   (sections 3 and 5). Decoding and encoding are one pass: [`inbound::broadcast_frame`] turns a
//!   client's text frame into the frame every member receives.
//! - [`pyjson`]: the encoder that is byte-identical to Python's `json.dumps` (section 4);
//!   `pyfloat` writes floats as Python's `repr`, `pystr` strings as `json.dumps`.
//! - [`close`]: the close codes used by the reference server.
//! - [`vectors`]: docs/protocol.md section 4's test vectors.

pub mod close;
pub mod inbound;
mod pyfloat;
pub mod pyjson;
mod pystr;
pub mod room;
pub mod vectors;

pub use inbound::{DecodeError, Limits, broadcast_frame};
pub use room::{RoomError, RoomName, parse_ws_path};
