//! `--slow-readers SHARE:RATE`: a share of the receiving members read at a set pace with a
//! small receive buffer. Against the reference server with a small per-member queue, they fall
//! behind, are closed with 1013 and miss what came after, all counted in their own part of the
//! result, while the healthy members lose nothing; the parts add up to the run. A run without
//! the flag has no reader breakdown.

mod common;

/// 2 rooms of 10 members, 5 senders each sending 20 messages a second of 8 KiB: each member
/// gets 800 KiB a second, far more than a slow reader's 1 KiB. A reader that does not take
/// what it gets fills the server's socket buffer (the kernel lets it grow to tcp_wmem's
/// largest, 4 MiB here), then its queue: in 8 s it is 6.4 MiB behind, so it is evicted.
const LOAD: &[&str] = &[
    "--rooms",
    "2",
    "--clients",
    "10",
    "--senders",
    "5",
    "--rate",
    "100",
    "--size",
    "8192",
    "--duration",
    "8s",
    "--warmup",
    "0s",
    "--settle",
    "1s",
    "--no-json",
];

/// The most the kernel lets a socket's send buffer grow to, which a slow reader's backlog
/// fills before the server's own queue does.
fn largest_send_buffer() -> u64 {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").expect("tcp_wmem");
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .expect("tcp_wmem's third field")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_are_evicted_and_counted_apart_while_the_healthy_lose_nothing() {
    assert!(
        largest_send_buffer() <= 4 << 20,
        "the load is sized for send buffers of at most 4 MiB (tcp_wmem)"
    );
    let server = reference_server::spawn(reference_server::Config {
        // A member more than 64 KiB behind (past its socket's buffer) is closed with 1013.
        queue_bytes: 64 << 10,
        ..reference_server::Config::local()
    })
    .await
    .expect("server");
    let url = server.http_url();
    let mut args = vec!["--target", url.as_str(), "--slow-readers", "20%:1KiB"];
    args.extend_from_slice(LOAD);
    let r = common::run(&args).await;
    let names: Vec<&str> = r.readers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["healthy", "slow readers at 1.0 KiB/s"], "{r:?}");
    let (healthy, slow) = (&r.readers[0], &r.readers[1]);
    // 10 receivers (5 a room), a fifth of them slow.
    assert_eq!((healthy.members, slow.members), (Some(18), Some(2)));
    assert_eq!(healthy.missing, 0, "{healthy:?}");
    assert!(healthy.delivered > 0, "{healthy:?}");
    assert!(healthy.closes.is_empty(), "{healthy:?}");
    // Both evicted: 1013 if the server's close frame got through, 1006 if it dropped TCP
    // because the frame could not be written (its socket full), as the reference server does
    // after 2 s. The server counts both as 1013.
    let evicted: u64 = ["1013", "1006"]
        .iter()
        .filter_map(|c| slow.closes.get(*c))
        .sum();
    assert_eq!(evicted, 2, "{slow:?}");
    assert_eq!(server.metrics.slow_member_closes(), 2);
    assert!(slow.missing > 0, "{slow:?}");
    // The parts add up to the run.
    assert_eq!(healthy.delivered + slow.delivered, r.summary.delivered);
    assert_eq!(healthy.missing + slow.missing, r.summary.missing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_slow_readers_there_is_no_reader_breakdown() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let url = server.http_url();
    let mut args = vec!["--target", url.as_str()];
    args.extend_from_slice(LOAD);
    let r = common::run(&args).await;
    assert!(r.readers.is_empty(), "{:?}", r.readers);
    assert_eq!(r.summary.missing, 0);
}

#[test]
fn a_bad_share_or_rate_is_refused_by_name() {
    use clap::Parser as _;
    for bad in ["5%", "120%:1KiB", "5%:quick"] {
        let err =
            loadgen::Opts::try_parse_from(["loadgen", "--slow-readers", bad]).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("--slow-readers"), "{text}");
        assert!(text.contains("SHARE:RATE"), "{text}");
    }
}
