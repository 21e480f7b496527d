//! The server's cost over the measured window (`--server-metrics URL`): its Prometheus
//! endpoint read when the measured window starts and when it ends, for
//! `process_cpu_seconds_total` (CPU), `process_resident_memory_bytes` (memory) and
//! `chat_open_connections` (connections; else the connections loadgen holds). Without the
//! flag, the embedded server's threads are read instead (their CPU from the kernel's
//! scheduler statistics; their memory cannot be told from loadgen's, so it is left out).

use std::str::FromStr;
use std::time::Duration;

use endpoint::Endpoint;
use run_result::server::ServerLoad;

/// How long one scrape may take.
const SCRAPE_WAIT: Duration = Duration::from_secs(2);
/// The embedded server's threads (`embedded.rs`), as the kernel truncates the name.
const EMBEDDED_THREADS: &str = "reference-serv";

/// `--server-metrics`: a plain-HTTP Prometheus endpoint; its host and port parsed and
/// resolved as every `--target` is (`endpoint::Endpoint`), its path `/metrics` if none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsUrl {
    pub url: String,
    pub endpoint: Endpoint,
    pub path: String,
}

impl FromStr for MetricsUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::with_default_path(s, "/metrics")
    }
}

impl MetricsUrl {
    /// A plain `http://host:port/path` URL, its path `default_path` if none.
    pub fn with_default_path(s: &str, default_path: &str) -> Result<Self, String> {
        let plain = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("{s:?}: write http://host:port{default_path} (plain HTTP)"))?;
        let (base, path) = match plain.find('/') {
            Some(i) => (&s[..i + "http://".len()], &plain[i..]),
            None => (s, default_path),
        };
        let endpoint = Endpoint::parse(base).map_err(|e| e.to_string())?;
        Ok(Self {
            url: s.to_owned(),
            endpoint,
            path: path.to_owned(),
        })
    }
}

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

/// The figures one scrape gave.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scrape {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub open_connections: Option<f64>,
}

/// Reads the unlabelled samples loadgen needs from Prometheus text (or OpenMetrics) format.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        match name {
            "process_cpu_seconds_total" => scrape.cpu_seconds = Some(value),
            "process_resident_memory_bytes" => scrape.resident_bytes = Some(value),
            "chat_open_connections" => scrape.open_connections = Some(value),
            _ => {}
        }
    }
    scrape
}

/// Scrapes `url`; the error says what went wrong, for a warning.
pub async fn scrape(url: &MetricsUrl) -> Result<Scrape, String> {
    let response = rawws::http_get(
        url.endpoint.addr,
        &url.endpoint.authority,
        &url.path,
        SCRAPE_WAIT,
    )
    .await
    .map_err(|e| format!("{}: {e}", url.url))?;
    if response.status != 200 {
        return Err(format!("{}: HTTP {}", url.url, response.status));
    }
    let scrape = parse(&response.body_text());
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
    fn reads_the_samples_it_needs_and_nothing_else() {
        let text = "# HELP process_cpu_seconds x\n# TYPE process_cpu_seconds counter\n\
                    process_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 4.2e7\n\
                    chat_open_connections 5000\nchat_closes_total{code=\"1006\"} 3\n\
                    process_open_fds 12\n# EOF\n";
        let s = parse(text);
        assert_eq!(s.cpu_seconds, Some(12.5));
        assert_eq!(s.resident_bytes, Some(4.2e7));
        assert_eq!(s.open_connections, Some(5000.0));
        let end = Scrape {
            cpu_seconds: Some(14.5),
            ..s
        };
        let load = between("m", &s, &end, 1_000_000, 1).expect("both have CPU");
        assert_eq!(load.cpu_s_per_million, 2.0);
        assert_eq!(load.bytes_per_connection, Some(8400.0));
        assert!(between("m", &Scrape::default(), &end, 1, 1).is_none());
    }

    #[test]
    fn urls_are_plain_http_with_a_default_path() {
        let u: MetricsUrl = "http://127.0.0.1:9000".parse().expect("valid");
        assert_eq!(
            (u.path.as_str(), u.endpoint.addr.port()),
            ("/metrics", 9000)
        );
        let u: MetricsUrl = "http://127.0.0.1:9000/prom?x=1".parse().expect("valid");
        assert_eq!(u.path, "/prom?x=1");
        assert!(
            "https://127.0.0.1:9000/metrics"
                .parse::<MetricsUrl>()
                .is_err()
        );
    }
}
