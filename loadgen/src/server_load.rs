//! The server's cost over the measured window (`--server-metrics URL`): its Prometheus
//! endpoint read when the measured window starts and when it ends, for
//! `process_cpu_seconds_total` (CPU), `process_resident_memory_bytes` (memory) and
//! `chat_open_connections` (connections; else the connections loadgen holds). Without the
//! flag, the embedded server's threads are read instead (their CPU from the kernel's
//! scheduler statistics; their memory cannot be told from loadgen's, so it is left out).

use std::time::Duration;

pub use endpoint::metrics::{MetricsUrl, Scrape};
use run_result::server::ServerLoad;

/// How long one scrape may take.
const SCRAPE_WAIT: Duration = Duration::from_secs(2);
/// The embedded server's threads (`embedded.rs`), as the kernel truncates the name.
const EMBEDDED_THREADS: &str = "reference-serv";

/// Where the server's figures come from.
#[derive(Debug, Clone)]
pub enum ServerSource {
    Metrics(MetricsUrl),
    /// The embedded server's threads.
    Embedded,
}

impl ServerSource {
    /// How the result names it.
    pub fn name(&self) -> String {
        match self {
            Self::Metrics(url) => url.url.clone(),
            Self::Embedded => "embedded".into(),
        }
    }

    /// The figures now; `None`, with a warning for a failed scrape, when there are none.
    pub async fn read(&self) -> Option<Scrape> {
        match self {
            Self::Metrics(url) => match scrape(url).await {
                Ok(scrape) => Some(scrape),
                Err(why) => {
                    tracing::warn!("--server-metrics: {why}: the server's figures are left out");
                    None
                }
            },
            Self::Embedded => embedded(),
        }
    }
}

/// Scrapes `url`; the error says what went wrong, for a warning (a scrape without CPU is
/// no use here).
pub async fn scrape(url: &MetricsUrl) -> Result<Scrape, String> {
    let scrape = endpoint::metrics::scrape(url, SCRAPE_WAIT).await?;
    if scrape.cpu_seconds.is_none() {
        return Err(format!("{}: no process_cpu_seconds_total", url.url));
    }
    Ok(scrape)
}

/// The embedded server's threads' CPU time so far (`None` where unreadable).
pub fn embedded() -> Option<Scrape> {
    let ns: u64 = crate::client_load::thread_times(EMBEDDED_THREADS)?
        .values()
        .map(|t| t.running_ns)
        .sum();
    Some(Scrape {
        cpu_seconds: Some(ns as f64 / 1e9),
        ..Scrape::default()
    })
}

/// The server's cost between two scrapes, for `delivered` deliveries and, when the server
/// does not say, `connections` open.
pub fn between(
    source: &str,
    start: &Scrape,
    end: &Scrape,
    delivered: u64,
    connections: u64,
) -> Option<ServerLoad> {
    let cpu_s = (end.cpu_seconds? - start.cpu_seconds?).max(0.0);
    let open = end.open_connections.unwrap_or(connections as f64);
    Some(ServerLoad {
        source: source.to_owned(),
        cpu_s,
        cpu_s_per_million: cpu_s * 1e6 / delivered.max(1) as f64,
        resident_bytes: end.resident_bytes,
        bytes_per_connection: end.resident_bytes.filter(|_| open > 0.0).map(|r| r / open),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_between_two_scrapes() {
        let start = Scrape {
            cpu_seconds: Some(12.5),
            resident_bytes: Some(4.2e7),
            open_connections: Some(5000.0),
            ..Scrape::default()
        };
        let end = Scrape {
            cpu_seconds: Some(14.5),
            ..start
        };
        let load = between("m", &start, &end, 1_000_000, 1).expect("both have CPU");
        assert_eq!(load.cpu_s_per_million, 2.0);
        assert_eq!(load.bytes_per_connection, Some(8400.0));
        assert!(between("m", &Scrape::default(), &end, 1, 1).is_none());
    }
}
