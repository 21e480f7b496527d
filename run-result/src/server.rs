//! The measured server's own figures over the measured window: CPU seconds per million
//! deliveries and resident memory per connection, from its Prometheus endpoint
//! (`loadgen --server-metrics`) or, for the embedded server, from its threads.

use serde::{Deserialize, Serialize};

/// The server's cost, as loadgen read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerLoad {
    /// Where the figures come from: the metrics URL, or `embedded` (the server's threads in
    /// loadgen's process).
    pub source: String,
    /// CPU seconds the server used in the measured window.
    pub cpu_s: f64,
    /// The same per million deliveries measured.
    pub cpu_s_per_million: f64,
    /// Resident memory at the window's end; absent for the embedded server (its process is
    /// loadgen's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_bytes: Option<f64>,
    /// Resident memory per open connection at the window's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_connection: Option<f64>,
}
