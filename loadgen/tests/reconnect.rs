//! `--reconnect`: members whose connections a server closes come back, and each is held to
//! what was sent while it was connected. Against the fault server closing every connection
//! with 1012 after 700 ms (a node rolled), loss-free otherwise: nothing is missing while
//! connected, the losses are counted by cause and in their second, what was sent while
//! members were away is reported apart, and the time back to the first delivery is
//! measured. Without --reconnect, listeners closed while their senders go on are lost for
//! good: what was sent after is missing and the run fails; with it, a server that also drops
//! deliveries while members are connected fails too.

mod common;

use std::time::Duration;

use fault_server::Faults;

const PLAN: &[&str] = &[
    "--rooms",
    "3",
    "--clients",
    "4",
    "--rate",
    "50",
    "--duration",
    "3s",
    "--warmup",
    "200ms",
    "--settle",
    "1s",
    "--no-json",
];

async fn kicking() -> fault_server::FaultServer {
    fault_server::spawn(Faults {
        kick_after: Some(Duration::from_millis(700)),
        ..Faults::default()
    })
    .await
    .expect("fault server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_come_back_and_are_held_to_their_stays() {
    let server = kicking().await;
    let url = server.url();
    let mut args = vec!["--target", url.as_str()];
    args.extend_from_slice(PLAN);
    args.extend_from_slice(&[
        "--reconnect",
        "--reconnect-min",
        "20ms",
        "--reconnect-max",
        "200ms",
    ]);
    let r = common::run(&args).await;
    let s = &r.summary;
    let lost: u64 = s.reconnects.values().sum();
    // 12 members, each closed every 0.7 s of its stays over about 4.4 s.
    assert!(lost >= 24, "{:?}", s.reconnects);
    assert_eq!(
        s.reconnects.keys().collect::<Vec<_>>(),
        ["close 1012"],
        "{:?}",
        s.reconnects
    );
    assert_eq!(s.missing, 0, "{s:?}");
    assert!(s.delivered > 0 && s.expected == s.delivered, "{s:?}");
    assert!(s.away > 0, "{s:?}");
    assert!(s.reconnect_us.count > 0, "{s:?}");
    assert!(s.reconnect_us.p50 < 1_000_000, "{:?}", s.reconnect_us);
    assert_eq!(s.connections.established, 12);
    let series_reconnects: u64 = r.series.iter().map(|x| x.reconnects).sum();
    assert!(series_reconnects > 0 && series_reconnects <= lost);
    assert!(r.series.iter().all(|x| x.missing == 0));
    assert!(r.series.iter().any(|x| x.connected > 0));
    // The core contract but errors: lost connections are the point of --reconnect.
    assert!(
        r.thresholds.iter().all(|t| t.passed && t.default) && r.thresholds.len() == 7,
        "{:?}",
        r.thresholds
    );
    assert!(!r.thresholds.iter().any(|t| t.threshold == "errors=0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reconnect_the_lost_members_are_missing() {
    // Only the listeners are closed: were the senders closed too, whoever went first would
    // decide whether anything was sent after a listener left.
    let server = fault_server::spawn(Faults {
        kick_after: Some(Duration::from_millis(700)),
        kick_silent_only: true,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let mut args = vec!["--target", url.as_str()];
    args.extend_from_slice(PLAN);
    let r = common::run(&args).await;
    let s = &r.summary;
    // 9 listeners closed about 0.5 s into 3 s of 50 messages/s per room.
    assert!(s.missing >= 9 * 50, "{s:?}");
    assert_eq!(s.closes.get("1012"), Some(&9), "{s:?}");
    assert!(s.reconnects.is_empty());
    assert!(r.series.iter().any(|x| x.missing > 0), "{:?}", r.series);
    // Still expected of, but not connected: the timeline shows the three senders.
    assert_eq!(
        r.series.last().map(|x| x.connected),
        Some(3),
        "{:?}",
        r.series
    );
    assert!(r.thresholds.iter().any(|t| !t.passed));
}

/// The accounting still sees loss: a server that also drops 2 % of deliveries while members
/// are connected fails the run with --reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_while_connected_is_still_missing() {
    let server = fault_server::spawn(Faults {
        kick_after: Some(Duration::from_millis(700)),
        drop_rate: 0.02,
        seed: 9,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let mut args = vec!["--target", url.as_str()];
    args.extend_from_slice(PLAN);
    args.extend_from_slice(&[
        "--reconnect",
        "--reconnect-min",
        "20ms",
        "--reconnect-max",
        "200ms",
    ]);
    let r = common::run(&args).await;
    let s = &r.summary;
    assert!(!s.reconnects.is_empty());
    assert!(s.missing > 0, "{s:?}");
    assert!(r.thresholds.iter().any(|t| !t.passed));
}

/// The same run as a workload file whose `[reconnect]` table asks for it: the members come
/// back as with the flags, and the result records the file's bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_file_can_ask_members_to_come_back() {
    let server = kicking().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kicked.toml");
    std::fs::write(
        &path,
        r#"
            warmup = "200ms"
            settle = "1s"
            duration = "3s"
            [reconnect]
            min = "20ms"
            max = "200ms"
            [[group]]
            rooms = 3
            members = 4
            rate = 50
        "#,
    )
    .expect("write the workload");
    let (url, path) = (server.url(), path.display().to_string());
    let r = common::run(&["--target", &url, "--workload", &path, "--no-json"]).await;
    let s = &r.summary;
    let lost: u64 = s.reconnects.values().sum();
    assert!(lost >= 24, "{:?}", s.reconnects);
    assert_eq!(s.missing, 0, "{s:?}");
    assert!(s.reconnect_us.count > 0, "{s:?}");
    assert_eq!(r.config.reconnect_s, Some([0.02, 0.2]));
    assert!(r.thresholds.iter().all(|t| t.passed), "{:?}", r.thresholds);
    assert!(!r.thresholds.iter().any(|t| t.threshold == "errors=0"));
}
