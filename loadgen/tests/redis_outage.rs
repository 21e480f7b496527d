//! A Redis killed and restarted under traffic loses nothing silently, in both layer formats:
//! two reference nodes on one real `redis-server`, loadgen across both with --reconnect (a
//! sender on each node in every room);
//! Redis is killed about 2 s into the measured run and restarted 1.5 s later. Members stay
//! connected (the nodes keep serving, and publish what was sent meanwhile once their rooms
//! are subscribed again), so every member gets every message sent while it was connected,
//! but for what Redis was fanning out at the instant it died. Each node accounts for every
//! frame its members sent: it came back from Redis (echoed) or reached its own members only
//! (local-only), none in between.

mod common;

use std::time::Duration;

use reference_server::{Config, LayerFormat, RunningServer};
use testkit::Redis;

async fn node(redis: &Redis, format: LayerFormat, prefix: &str) -> RunningServer {
    let mut config = Config::local();
    config.layer = Some(redis.url());
    config.layer_format = format;
    config.redis_prefix = prefix.to_owned();
    let node = reference_server::spawn(config).await.expect("node starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while node.metrics.redis_connects() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node reaches Redis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node
}

async fn outage_under_traffic(format: LayerFormat) {
    let mut redis = Redis::start().await;
    let prefix = format!("outage{}", std::process::id());
    let (a, b) = (
        node(&redis, format, &prefix).await,
        node(&redis, format, &prefix).await,
    );
    let (ta, tb) = (a.http_url(), b.http_url());
    let args = [
        "--target",
        &ta,
        "--target",
        &tb,
        "--rooms",
        "10",
        "--clients",
        "6",
        "--senders",
        "2",
        "--rate",
        "20",
        "--warmup",
        "500ms",
        "--duration",
        "5s",
        "--settle",
        "3s",
        "--reconnect",
        "--no-json",
    ];
    let run = tokio::spawn({
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::run(&args).await
        }
    });
    // The fault schedule, on the wall clock: connecting takes well under a second, so the
    // outage falls inside the measured 5 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart().await;
    let r = run.await.expect("loadgen");
    let s = &r.summary;
    assert!(s.sent > 0 && s.delivered > 0, "{s:?}");
    // What Redis was fanning out when it was killed reached some nodes and not others, and
    // no node can tell (pub/sub and a restarted, empty Redis acknowledge nothing): at most
    // one message per sender (2 per room, one on each node), to the 3 members of its room on
    // the other node. Everything else, sent during the outage and while the subscriptions
    // came back, arrives.
    let nodes = |n: &RunningServer| {
        let m = &n.metrics;
        format!(
            "frames {} published {} echoed {} local-only {} received {} connects {}",
            m.redis_frames(),
            m.redis_published(),
            m.redis_echoed(),
            m.redis_local_only(),
            m.redis_received(),
            m.redis_connects()
        )
    };
    let by_second: Vec<_> = r.series.iter().map(|x| (x.second, x.missing)).collect();
    assert!(
        s.missing <= 10 * 2 * 3,
        "{format:?}: missing {} by second {by_second:?}; a: {}; b: {}",
        s.missing,
        nodes(&a),
        nodes(&b)
    );
    let lossy: Vec<_> = r.series.iter().filter(|x| x.missing > 0).collect();
    assert!(
        lossy.len() <= 1,
        "{format:?}: only the kill's second may lose: {lossy:?}"
    );
    assert_eq!(s.duplicates, 0, "{format:?}: {s:?}");
    for (name, n) in [("a", &a), ("b", &b)] {
        let m = &n.metrics;
        let frames = m.redis_frames();
        assert!(
            frames > 0,
            "{format:?} node {name}: no frames ({} received)",
            m.redis_received()
        );
        assert!(m.redis_connects() >= 2, "node {name}: the outage was seen");
        assert_eq!(
            frames,
            m.redis_echoed() + m.redis_local_only(),
            "{format:?} node {name}: {frames} frames, {} echoed, {} local-only",
            m.redis_echoed(),
            m.redis_local_only()
        );
    }
    a.stop().await.expect("a stops");
    b.stop().await.expect("b stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_format() {
    outage_under_traffic(LayerFormat::Native).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_format() {
    outage_under_traffic(LayerFormat::Channels).await;
}
