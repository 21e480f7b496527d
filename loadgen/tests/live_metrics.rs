//! Live metrics against a real Prometheus (scripts/setup installs it): the counters loadgen
//! pushes with remote-write end equal to the result's, the latency histogram is there, the
//! `--metrics-bind` endpoint is scraped while the run lasts; a receiver that never answers
//! neither slows the measurement nor holds the run's end past its bound.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use loadgen::live::remote_write::PUSH_WAIT;
use testkit::Prometheus;

const LOAD: &[&str] = &[
    "--rooms",
    "4",
    "--clients",
    "10",
    "--rate",
    "20",
    "--duration",
    "3s",
    "--warmup",
    "500ms",
    "--settle",
    "500ms",
    "--out-interval",
    "500ms",
];

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// The one remote-written series of `metric` (no `job` label: not scraped), last value.
async fn pushed(prometheus: &Prometheus, metric: &str) -> (serde_json::Value, f64) {
    let series = prometheus
        .query(&format!("last_over_time({metric}{{job=\"\"}}[10m])"))
        .await;
    assert_eq!(series.len(), 1, "{metric}: {series:?}");
    series.into_iter().next().expect("one")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_holds_the_results_counts_and_the_latency_histogram() {
    let bind = free_addr();
    let prometheus = Prometheus::start(Some(bind)).await;
    let out = format!("prometheus-rw={}", prometheus.remote_write_url());
    let bind_arg = bind.to_string();
    let mut args = vec!["--out", out.as_str(), "--metrics-bind", bind_arg.as_str()];
    args.extend_from_slice(LOAD);
    let r = common::run(&args).await;
    let s = &r.summary;
    assert!(s.delivered > 0);
    for (metric, want) in [
        ("loadgen_deliveries_total", s.delivered),
        ("loadgen_sent_total", s.sent),
        ("loadgen_expected_total", s.expected),
        ("loadgen_missing_total", s.missing),
        ("loadgen_fanout_latency_seconds_count", s.latency_us.count),
    ] {
        let (labels, value) = pushed(&prometheus, metric).await;
        assert_eq!(value, want as f64, "{metric}");
        for label in ["run_id", "plan", "target"] {
            assert!(
                labels[label].is_string(),
                "{metric} has no {label}: {labels}"
            );
        }
    }
    let p99 = prometheus
        .query("histogram_quantile(0.99, last_over_time(loadgen_fanout_latency_seconds_bucket{job=\"\"}[10m]))")
        .await;
    assert_eq!(p99.len(), 1, "{p99:?}");
    let p99_s = p99[0].1;
    assert!(p99_s > 0.0 && p99_s <= 10.0, "p99 {p99_s} s");
    let (labels, _) = pushed(&prometheus, "loadgen_sent_total").await;
    let run_id = labels["run_id"].as_str().expect("run_id").to_owned();
    every_dashboard_query_has_data(&prometheus, &run_id).await;
    // The endpoint was scraped while the run lasted: its last sent count is the run's so far.
    let scraped = prometheus
        .query("max_over_time(loadgen_sent_total{job=\"loadgen\"}[10m])")
        .await;
    assert_eq!(scraped.len(), 1, "no scrape of --metrics-bind: {scraped:?}");
    assert!(
        scraped[0].1 > 0.0 && scraped[0].1 <= s.sent as f64,
        "{scraped:?}"
    );
}

/// Every query of every panel of deploy/grafana/loadgen.json, its variables set to this run,
/// answers with at least one finite value.
async fn every_dashboard_query_has_data(prometheus: &Prometheus, run_id: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/loadgen.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 5);
    let mut queries = 0;
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"]
                .as_str()
                .expect("expr")
                .replace("$run_id", run_id)
                .replace("$__rate_interval", "1m");
            let answer = prometheus.query(&expr).await;
            assert!(
                answer.iter().any(|(_, v)| v.is_finite()),
                "panel {:?}: {expr}: {answer:?}",
                panel["title"]
            );
            queries += 1;
        }
    }
    assert!(queries >= 9, "{queries} queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_does_not_slow_the_run() {
    // Connections land in the backlog and are never read: every push waits out its timeout.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let out = format!(
        "prometheus-rw=http://{}/api/v1/write",
        silent.local_addr().expect("addr")
    );
    let mut args = vec!["--out", out.as_str()];
    args.extend_from_slice(LOAD);
    let started = Instant::now();
    let r = common::run(&args).await;
    let took = started.elapsed();
    assert!(r.summary.delivered > 0);
    assert_eq!(r.summary.missing, 0, "{:?}", r.summary);
    // The run's own length (about 4 s, 12 s allowed on a loaded machine) plus at most two
    // push timeouts; waiting out every queued push takes about 20 s more than the run.
    let bound = Duration::from_secs(12) + 2 * PUSH_WAIT;
    assert!(took < bound, "the run took {took:?}, over {bound:?}");
    drop(silent);
}
