//! A real Prometheus of the test's own (Debian's package, installed by scripts/setup), on a
//! free port, its storage in a temporary directory, with the remote-write receiver on;
//! killed when dropped.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a started Prometheus has to say it is ready.
const START_WAIT: Duration = Duration::from_secs(30);
const HTTP_WAIT: Duration = Duration::from_secs(5);

/// A Prometheus of our own; killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

fn free_addr() -> SocketAddr {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

impl Prometheus {
    /// Starts one that receives remote writes and, if `scrape` is given, scrapes that
    /// address's `/metrics` every second (job `loadgen`); waits until it is ready.
    pub async fn start(scrape: Option<SocketAddr>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let jobs = match scrape {
            Some(target) => format!(
                "scrape_configs:\n  - job_name: loadgen\n    scrape_interval: 1s\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
            None => String::new(),
        };
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, format!("global:\n  scrape_interval: 1s\n{jobs}"))
            .expect("write the configuration");
        let addr = free_addr();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is needed for this test: run scripts/setup");
        let prometheus = Self {
            child,
            addr,
            _dir: dir,
        };
        let ready = tokio::time::timeout(START_WAIT, async {
            while !prometheus.ready().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            ready.is_ok(),
            "prometheus was not ready within {START_WAIT:?}"
        );
        if scrape.is_some() {
            // Its scrape manager takes up targets some seconds after it is ready.
            let scraping = tokio::time::timeout(START_WAIT, async {
                while !prometheus.has_targets().await {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await;
            assert!(
                scraping.is_ok(),
                "prometheus took up no scrape target within {START_WAIT:?}"
            );
        }
        prometheus
    }

    async fn has_targets(&self) -> bool {
        let Ok(response) = rawws::http_get(
            self.addr,
            &self.addr.to_string(),
            "/api/v1/targets",
            HTTP_WAIT,
        )
        .await
        else {
            return false;
        };
        serde_json::from_str::<serde_json::Value>(&response.body_text()).is_ok_and(|body| {
            body["data"]["activeTargets"]
                .as_array()
                .is_some_and(|targets| !targets.is_empty())
        })
    }

    async fn ready(&self) -> bool {
        rawws::http_get(self.addr, &self.addr.to_string(), "/-/ready", HTTP_WAIT)
            .await
            .is_ok_and(|r| r.status == 200)
    }

    /// Where remote writes go.
    pub fn remote_write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// The instant query's result: every series' labels and value (panics on an error
    /// answer, with Prometheus's message).
    pub async fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let target = format!(
            "/api/v1/query?query={}",
            percent_encoding::utf8_percent_encode(expr, percent_encoding::NON_ALPHANUMERIC)
        );
        let response = rawws::http_get(self.addr, &self.addr.to_string(), &target, HTTP_WAIT)
            .await
            .expect("prometheus answers");
        let body: serde_json::Value =
            serde_json::from_str(&response.body_text()).expect("a JSON answer");
        assert_eq!(body["status"], "success", "query {expr}: {body}");
        body["data"]["result"]
            .as_array()
            .expect("a vector")
            .iter()
            .map(|series| {
                let value = series["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .expect("a number");
                (series["metric"].clone(), value)
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
