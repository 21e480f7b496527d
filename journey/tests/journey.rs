//! Short journeys against real servers: the embedded reference server (pages, sockets, echoes,
//! fan-out, no failure, goose's reports written with the socket beside the pages), the fault
//! server with a delay (the echo round trip shows it), and a server that refuses every socket
//! (failures counted with their status, the run still ends with its report), and a TLS server
//! with `--insecure`.

use std::path::Path;
use std::time::Duration;

use clap::Parser as _;
use goose::metrics::GooseMetrics;

/// Every journey in these tests ends within this.
const RUN_LIMIT: Duration = Duration::from_secs(60);

async fn journey(args: &[&str]) -> GooseMetrics {
    let mut full = vec!["journey", "--quiet", "--no-print-metrics", "--no-telnet"];
    full.extend_from_slice(args);
    let opts = journey::Opts::try_parse_from(&full).expect("valid flags");
    tokio::time::timeout(RUN_LIMIT, journey::run(opts))
        .await
        .expect("the journey ends in time")
        .expect("the journey runs")
}

/// (successes, failures) of the request named `key` ("GET /chat/", "WS echo", ...).
fn counts(m: &GooseMetrics, key: &str) -> (usize, usize) {
    m.requests
        .get(key)
        .map_or((0, 0), |r| (r.success_count, r.fail_count))
}

fn short(report: &Path) -> Vec<String> {
    [
        "--users",
        "4",
        "--increase-rate",
        "40",
        "--run-time",
        "3s",
        "--rooms",
        "1",
        "--messages",
        "3",
        "--think",
        "10ms..30ms",
        "--report-file",
        report.to_str().expect("utf-8"),
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_journey_against_the_embedded_server() {
    let dir = tempfile::tempdir().expect("dir");
    let html = dir.path().join("report.html");
    let args = short(&html);
    let m = journey(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let keys: Vec<&String> = m.requests.keys().collect();
    for key in [
        "GET /chat/",
        "GET /chat/<room>/",
        "WS connect",
        "WS echo",
        "WS fan-out",
    ] {
        let (ok, failed) = counts(&m, key);
        assert!(ok > 0, "{key}: none in {keys:?}");
        assert_eq!(failed, 0, "{key}: failures");
    }
    assert_eq!(counts(&m, "WS closed"), (0, 0), "only we close, at leave");
    let (connects, _) = counts(&m, "WS connect");
    let (echoes, _) = counts(&m, "WS echo");
    assert!(
        echoes >= connects,
        "each visit sends 3 and waits for each echo"
    );
    let report = std::fs::read_to_string(&html).expect("goose wrote the HTML report");
    for shown in ["/chat/&lt;room&gt;/", "echo", "fan-out", "connect"] {
        assert!(
            report.contains(shown)
                || report.contains(&shown.replace("&lt;", "<").replace("&gt;", ">")),
            "the report shows {shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_shows_in_the_echo_round_trip() {
    let delay = Duration::from_millis(120);
    let server = fault_server::spawn(fault_server::Faults {
        delay,
        ..Default::default()
    })
    .await
    .expect("fault server");
    let dir = tempfile::tempdir().expect("dir");
    let host = format!("http://{}", server.addr);
    let mut args = short(&dir.path().join("report.json"));
    args.extend(["--host".to_owned(), host]);
    let m = journey(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let echo = m.requests.get("WS echo").expect("echoes");
    assert!(echo.success_count > 0);
    assert!(
        echo.raw_data.minimum_time_us >= delay.as_micros() as u64,
        "the fastest echo took {} µs, under the server's {delay:?} delay",
        echo.raw_data.minimum_time_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_socket_is_counted_and_the_run_still_reports() {
    // A server that wants an Origin the journey does not send: every socket gets 403.
    let mut config = reference_server::Config::local();
    config.allowed_origins = vec!["http://elsewhere.example".into()];
    let server = reference_server::spawn(config).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let json = dir.path().join("report.json");
    let mut args = short(&json);
    args.extend(["--host".to_owned(), server.http_url()]);
    let m = journey(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let connect = m.requests.get("WS connect").expect("connects tried");
    assert_eq!(connect.success_count, 0);
    assert!(connect.fail_count > 0);
    assert!(
        connect.status_code_counts.get(&403).copied().unwrap_or(0) > 0,
        "{:?}",
        connect.status_code_counts
    );
    assert_eq!(counts(&m, "WS echo"), (0, 0), "no socket, no message");
    let (pages, _) = counts(&m, "GET /chat/");
    assert!(pages > 0, "the pages are still loaded");
    assert!(json.exists(), "the report is written all the same");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_with_insecure() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = testkit::Pki::create(dir.path(), &["localhost"]).expect("pki");
    let server = reference_server::spawn(reference_server::Config {
        tls_cert: Some(pki.cert.clone()),
        tls_key: Some(pki.key.clone()),
        ..reference_server::Config::local()
    })
    .await
    .expect("server");
    let mut args = short(&dir.path().join("report.json"));
    args.extend([
        "--host".to_owned(),
        format!("https://localhost:{}", server.addr.port()),
        // The pages through goose's client, the socket through ours: neither checks the
        // test CA's certificate.
        "--insecure".to_owned(),
    ]);
    let m = journey(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    for key in ["GET /chat/", "GET /chat/<room>/", "WS connect", "WS echo"] {
        let (ok, failed) = counts(&m, key);
        assert!(ok > 0 && failed == 0, "{key}: {ok} ok, {failed} failed");
    }
    server.stop().await.expect("stops");
}
