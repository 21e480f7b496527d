//! A server's Prometheus endpoint as the tools read it (`--server-metrics URL`): the URL, and
//! the standard process figures of one scrape (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, as Prometheus's client libraries name
//! them) and `chat_open_connections`. loadgen puts the server's cost per delivery in its
//! result from them; conformance's hostile cases check that memory and descriptors come back
//! after each attack.

use std::str::FromStr;
use std::time::Duration;

use crate::Endpoint;

/// `--server-metrics`: a plain-HTTP Prometheus endpoint; its host and port parsed and
/// resolved as every `--target` is, its path `/metrics` if none.
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

/// The figures one scrape gave (each absent when the server does not export it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scrape {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub open_connections: Option<f64>,
}

/// Reads the unlabelled samples the tools need from Prometheus text (or OpenMetrics) format.
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
            "process_open_fds" => scrape.open_fds = Some(value),
            "chat_open_connections" => scrape.open_connections = Some(value),
            _ => {}
        }
    }
    scrape
}

/// Scrapes `url`, waiting at most `wait`; the error says what went wrong, for a warning.
pub async fn scrape(url: &MetricsUrl, wait: Duration) -> Result<Scrape, String> {
    let response = rawws::http_get(url.endpoint.addr, &url.endpoint.authority, &url.path, wait)
        .await
        .map_err(|e| format!("{}: {e}", url.url))?;
    if response.status != 200 {
        return Err(format!("{}: HTTP {}", url.url, response.status));
    }
    Ok(parse(&response.body_text()))
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
        assert_eq!(s.open_fds, Some(12.0));
        assert_eq!(parse("process_open_fds{x=\"y\"} 3\n").open_fds, None);
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
