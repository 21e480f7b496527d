//! The server in the result: `--server-metrics` reads the target's Prometheus endpoint when
//! the measured window starts and ends (CPU per million deliveries, resident bytes per
//! connection); the embedded server's CPU comes from its threads; a target without the
//! endpoint leaves the figures out and the run goes on.

mod common;

use fault_server::Faults;

const LOAD: &[&str] = &[
    "--rooms",
    "10",
    "--clients",
    "10",
    "--rate",
    "20",
    "--duration",
    "1500ms",
    "--warmup",
    "300ms",
    "--settle",
    "500ms",
];

/// [`LOAD`] against `url` with `--server-metrics <url>/metrics`; the result and that URL.
async fn with_metrics(url: &str) -> (run_result::RunResult, String) {
    let metrics = format!("{url}/metrics");
    let mut args = vec!["--target", url, "--server-metrics", metrics.as_str()];
    args.extend_from_slice(LOAD);
    (common::run(&args).await, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_servers_metrics_give_cpu_and_memory_per_connection() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let url = server.http_url();
    let (r, metrics) = with_metrics(&url).await;
    let s = r.server.expect("the server's figures");
    assert_eq!(s.source, metrics);
    assert!(s.cpu_s_per_million > 0.0, "{s:?}");
    // The process's resident memory over the 100 connections it holds.
    let per_connection = s.bytes_per_connection.expect("memory per connection");
    assert!(per_connection > 1024.0, "{s:?}");
    assert!(
        (per_connection * 100.0 - s.resident_bytes.expect("resident")).abs() < 1.0,
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_is_read_from_its_threads() {
    let r = common::run(LOAD).await;
    let s = r.server.expect("the embedded server's figures");
    assert_eq!(s.source, "embedded");
    assert!(s.cpu_s > 0.0, "{s:?}");
    assert_eq!(s.resident_bytes, None, "its memory is loadgen's process's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_without_metrics_leaves_them_out() {
    let server = fault_server::spawn(Faults::default())
        .await
        .expect("server");
    let url = server.url();
    let (r, _) = with_metrics(&url).await;
    assert_eq!(r.server, None);
    assert_eq!(r.summary.missing, 0);
}
