//! The Redis layer with a real `redis-server` (installed by scripts/setup) on a free port:
//! rooms across two server processes' worth of nodes, one order (also through an outage),
//! outage and recovery, and malformed payloads.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{RawWs, room};
use reference_server::{Config, Outage, RunningServer};
use testkit::Redis;

async fn node(redis: &Redis) -> RunningServer {
    node_with(redis, Outage::Hold).await
}

async fn node_with(redis: &Redis, outage: Outage) -> RunningServer {
    let mut config = Config::local();
    config.layer = Some(redis.url());
    config.outage = outage;
    config.redis_prefix = format!("test{}", std::process::id());
    common::connected_node(config).await
}

fn addr(n: &RunningServer) -> SocketAddr {
    n.addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_spans_two_nodes() {
    let redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let name = room("span");
    let mut on_a = RawWs::join(addr(&a), &name).await;
    let mut on_b = RawWs::join(addr(&b), &name).await;
    on_a.send_text(r#"{"message":"from a"}"#).await;
    assert_eq!(on_b.recv_text().await, r#"{"message": "from a"}"#);
    assert_eq!(on_a.recv_text().await, r#"{"message": "from a"}"#);
    on_b.send_text(r#"{"message":"from b"}"#).await;
    assert_eq!(on_a.recv_text().await, r#"{"message": "from b"}"#);
    assert_eq!(on_b.recv_text().await, r#"{"message": "from b"}"#);
    // Another room on the same nodes hears nothing of it.
    let mut other = RawWs::join(addr(&b), &room("other")).await;
    other.send_text(r#"{"message":"mine"}"#).await;
    assert_eq!(other.recv_text().await, r#"{"message": "mine"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_on_every_node_sees_one_order() {
    let redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let name = room("order");
    let mut members = Vec::new();
    for i in 0..4 {
        let n = if i % 2 == 0 { &a } else { &b };
        members.push(RawWs::join(addr(n), &name).await);
    }
    const EACH: usize = 25;
    for i in 0..EACH {
        for (m, ws) in members.iter_mut().enumerate() {
            ws.send_text(&format!(r#"{{"message":"{m}-{i}"}}"#)).await;
        }
    }
    let mut orders = Vec::new();
    for ws in &mut members {
        let mut seen = Vec::new();
        for _ in 0..EACH * 4 {
            seen.push(ws.recv_text().await);
        }
        orders.push(seen);
    }
    for other in &orders[1..] {
        assert_eq!(&orders[0], other);
    }
}

/// The default (`--outage hold`): what members of two nodes send while Redis is away goes
/// through Redis once it is back, and every member gets the same order (with `--outage local`
/// each member would get its own node's frame first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_an_outage_every_member_gets_one_order() {
    let mut redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let name = room("held");
    let mut on_a = RawWs::join(addr(&a), &name).await;
    let mut on_b = RawWs::join(addr(&b), &name).await;
    redis.stop();
    for n in [&a, &b] {
        common::eventually_async("the node reports degraded", || async {
            common::get(n.addr, "/healthz").await.status == 503
        })
        .await;
    }
    on_a.send_text(r#"{"message":"from a"}"#).await;
    on_b.send_text(r#"{"message":"from b"}"#).await;
    for n in [&a, &b] {
        let metrics = n.metrics.clone();
        common::eventually("the node took its member's frame", || {
            metrics.redis_frames() == 1
        })
        .await;
    }
    redis.restart().await;
    let mut orders = Vec::new();
    for ws in [&mut on_a, &mut on_b] {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let got = tokio::time::timeout(Duration::from_secs(10), ws.recv_text()).await;
            seen.push(got.expect("both frames arrive once Redis is back"));
        }
        orders.push(seen);
    }
    assert_eq!(orders[0], orders[1], "members of a and b");
    for n in [&a, &b] {
        let metrics = n.metrics.clone();
        common::eventually("both frames went through Redis", || {
            metrics.redis_echoed() == 1
        })
        .await;
        assert_eq!(n.metrics.redis_local_only(), 0);
    }
}

/// `--outage local`: a node's members go on talking while Redis is away; the other nodes get
/// it once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_reported_counted_and_recovered() {
    let mut redis = Redis::start().await;
    let (a, b) = (
        node_with(&redis, Outage::Local).await,
        node_with(&redis, Outage::Local).await,
    );
    let name = room("outage");
    let mut on_a = RawWs::join(addr(&a), &name).await;
    let mut on_b = RawWs::join(addr(&b), &name).await;
    // A second room, quiet through the outage.
    let quiet = room("quiet");
    let mut quiet_a = RawWs::join(addr(&a), &quiet).await;
    let mut quiet_b = RawWs::join(addr(&b), &quiet).await;

    redis.stop();
    common::eventually_async("node a reports degraded", || async {
        common::get(a.addr, "/healthz").await.status == 503
    })
    .await;
    // During the outage: local members get it at once; it is deferred, to be published once
    // Redis is back.
    on_a.send_text(r#"{"message":"during"}"#).await;
    assert_eq!(on_a.recv_text().await, r#"{"message": "during"}"#);
    assert_eq!(a.metrics.redis_echoed(), 0);
    let health = common::get(a.addr, "/healthz").await;
    assert!(health.body.contains("degraded"), "{}", health.body);

    redis.restart().await;
    let metrics = a.metrics.clone();
    common::eventually("node a reconnects", || metrics.redis_connects() >= 2).await;
    let metrics = b.metrics.clone();
    common::eventually("node b reconnects", || metrics.redis_connects() >= 2).await;
    // One message in the quiet room right after the reconnection (within the rejoin grace,
    // and no other after it) still reaches the other node.
    quiet_a.send_text(r#"{"message":"one"}"#).await;
    assert_eq!(quiet_a.recv_text().await, r#"{"message": "one"}"#);
    assert_eq!(common::get(a.addr, "/healthz").await.status, 200);
    // Rooms were subscribed again: what was sent during the outage reaches the other node
    // (after the rejoin grace), then cross-node delivery goes on; node a's member is not
    // given "during" twice.
    on_a.send_text(r#"{"message":"after"}"#).await;
    let during = tokio::time::timeout(Duration::from_secs(5), on_b.recv_text()).await;
    assert_eq!(during.ok().as_deref(), Some(r#"{"message": "during"}"#));
    assert_eq!(on_a.recv_text().await, r#"{"message": "after"}"#);
    let got = tokio::time::timeout(Duration::from_secs(3), on_b.recv_text()).await;
    if got.is_err() {
        eprintln!(
            "A:\n{}\nB:\n{}",
            common::get(a.addr, "/metrics").await.body,
            common::get(b.addr, "/metrics").await.body
        );
    }
    assert_eq!(got.ok().as_deref(), Some(r#"{"message": "after"}"#));
    let one = tokio::time::timeout(Duration::from_secs(5), quiet_b.recv_text()).await;
    assert_eq!(one.ok().as_deref(), Some(r#"{"message": "one"}"#));
    let metrics = a.metrics.clone();
    common::eventually("every frame of node a is accounted for", || {
        metrics.redis_frames() == metrics.redis_echoed() + metrics.redis_local_only()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_payload_is_counted_and_skipped() {
    let redis = Redis::start().await;
    let a = node(&redis).await;
    let name = room("junk");
    let mut ws = RawWs::join(addr(&a), &name).await;
    let channel = format!("test{}:room:{name}", std::process::id());
    // Invalid UTF-8 as the payload.
    let mut raw = format!(
        "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{channel}\r\n$2\r\n",
        channel.len()
    )
    .into_bytes();
    raw.extend_from_slice(b"\xff\xfe\r\n");
    let reply = redis.command(&raw).await.expect("PUBLISH answered");
    assert_eq!(reply, b":1\r\n", "one subscriber got it");
    let metrics = a.metrics.clone();
    common::eventually("the payload is counted", || metrics.redis_malformed() == 1).await;
    ws.send_text(r#"{"message":"fine"}"#).await;
    assert_eq!(ws.recv_text().await, r#"{"message": "fine"}"#);
}

/// A member who joins while frames published before its join are still on their way from
/// Redis to its node gets none of them (the join marker, `layer::marker`): the node is kept
/// busy delivering a burst to many members when the new member's handshake runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_gets_nothing_published_before_it_joined() {
    const SILENT: usize = 200;
    const BURST: usize = 2_000;
    let redis = Redis::start().await;
    let node = node(&redis).await;
    let name = room("late");
    // Members that never read: their kernel buffers and queues take the burst.
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(RawWs::join(addr(&node), &name).await);
    }
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    let channel = format!("test{}:room:{name}", std::process::id());
    let mut burst = redis::pipe();
    for i in 0..BURST {
        burst
            .publish(&channel, format!(r#"{{"message": "before {i}"}}"#))
            .ignore();
    }
    // When this returns, Redis has taken every frame of the burst: all were published before
    // the join below began.
    let () = burst.query_async(&mut conn).await.expect("burst published");
    let mut late = RawWs::join(addr(&node), &name).await;
    let delivered = node.metrics.redis_received();
    late.send_text(r#"{"message":"after"}"#).await;
    assert_eq!(
        late.recv_text().await,
        r#"{"message": "after"}"#,
        "the late member's first frame (the node had taken {delivered} of {BURST} from Redis \
         when the 101 was read)"
    );
    drop(silent);
}
