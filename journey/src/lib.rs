//! journey: whole user sessions against the chat on goose. Each goose user opens `/chat/`,
//! picks a room (uniform or Zipf popularity over `--rooms`), loads `/chat/<room>/`, opens the
//! room's socket, sends `--messages` messages with goose's wait time between them as think
//! time, then leaves, and starts again.
//!
//! The socket's timings go into goose's own metrics beside the pages (`WS connect`, `WS echo`:
//! send until the user's own copy came back, `WS fan-out`: another member's message, from its
//! sender's clock to arrival), so goose's HTML, Markdown and JSON reports, graphs and
//! thresholds show them. A reader task per socket timestamps every frame as it arrives; the
//! transactions only hand those timings to goose.
//!
//! - [`opts`]: goose's own flags plus the scenario's.
//! - [`rooms`]: which room a user picks.
//! - [`socket`]: one user's socket: connect (TLS too), the reader task, sends.
//! - [`scenario`]: the transactions.
//! - [`run`]: the embedded server when no `--host`, and goose's attack.

pub mod opts;
pub mod rooms;
pub mod run;
pub mod scenario;
pub mod socket;

pub use opts::Opts;
pub use run::run;
