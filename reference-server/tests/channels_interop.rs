//! Interop with the real channels_redis package (pinned, in the Django tutorial's virtual
//! environment that scripts/setup builds) through a real redis-server, both ways: a Python
//! `group_send` reaches a reference-server client, and a reference-server client's message
//! reaches a Python channel in the group.

mod common;

use common::interop::{Layer, python_received, python_receiver, python_send};
use common::{RawWs, room};
use reference_server::{Config, LayerFormat, RunningServer};
use testkit::Redis;

async fn channels_node(redis: &Redis) -> RunningServer {
    channels_node_on(&[redis]).await
}

/// A channels-format node on these hosts, in this order.
async fn channels_node_on(hosts: &[&Redis]) -> RunningServer {
    let mut config = Config::local();
    config.layer = Some(hosts.iter().map(|r| r.url()).collect::<Vec<_>>().join(","));
    config.layer_format = LayerFormat::Channels;
    common::connected_node(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_redis_group_send_reaches_a_reference_client() {
    let redis = Redis::start().await;
    let node = channels_node(&redis).await;
    let name = room("fromdjango");
    let mut ws = RawWs::join(node.addr, &name).await;
    python_send(
        Layer::Core,
        &redis.port.to_string(),
        &name,
        "hi from channels_redis 한",
    )
    .await;
    // Django's consumer would write exactly these bytes.
    assert_eq!(
        ws.recv_text().await,
        r#"{"message": "hi from channels_redis \ud55c"}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_client_reaches_a_channels_redis_channel() {
    let redis = Redis::start().await;
    let node = channels_node(&redis).await;
    let name = room("todjango");
    let mut ws = RawWs::join(node.addr, &name).await;
    let (mut child, rx) = python_receiver(Layer::Core, &redis.port.to_string(), &name);
    ws.send_text(r#"{"message":{"text":"hi from rust","n":[1,2.5,null]}}"#)
        .await;
    // Our own copy comes back through our queue...
    assert_eq!(
        ws.recv_text().await,
        r#"{"message": {"text": "hi from rust", "n": [1, 2.5, null]}}"#
    );
    // ...and Python's channel got the group message Django's consumer expects.
    let got = python_received(&rx);
    assert_eq!(got["type"], "chat.message");
    assert_eq!(
        got["message"],
        serde_json::json!({"text": "hi from rust", "n": [1, 2.5, null]})
    );
    assert!(child.wait().expect("python ends").success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_the_node_rejoins_its_groups() {
    let mut redis = Redis::start().await;
    let node = channels_node(&redis).await;
    let name = room("restart");
    let mut ws = RawWs::join(node.addr, &name).await;

    redis.stop();
    common::eventually_async("the node reports degraded", || async {
        common::get(node.addr, "/healthz").await.status == 503
    })
    .await;
    // During the outage: the frame is held (`--outage hold`), published once the membership
    // is back, and delivered here on its way back from Redis, once.
    ws.send_text(r#"{"message":"during"}"#).await;
    let metrics = node.metrics.clone();
    common::eventually("the node took the frame", || metrics.redis_frames() == 1).await;
    assert_eq!(node.metrics.redis_echoed(), 0);

    // Redis comes back empty: the node must add its group membership again.
    redis.restart().await;
    let metrics = node.metrics.clone();
    common::eventually("the node reconnects", || metrics.redis_connects() >= 2).await;
    let group = format!("asgi:group:chat_{name}");
    let zcard = format!("*2\r\n$5\r\nZCARD\r\n${}\r\n{group}\r\n", group.len());
    common::eventually_async("the membership is back", || async {
        redis.command(zcard.as_bytes()).await.as_deref() == Some(&b":1\r\n"[..])
    })
    .await;
    let metrics = node.metrics.clone();
    common::eventually("the deferred frame went through Redis", || {
        metrics.redis_echoed() == 1
    })
    .await;
    assert_eq!(ws.recv_text().await, r#"{"message": "during"}"#);
    python_send(Layer::Core, &redis.port.to_string(), &name, "back").await;
    assert_eq!(ws.recv_text().await, r#"{"message": "back"}"#);
    assert_eq!(
        node.metrics.redis_frames(),
        node.metrics.redis_echoed() + node.metrics.redis_local_only()
    );
}

/// Python's view of the two hosts and ours agree: groups and queues land on the same shards,
/// so messages cross both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_over_two_hosts_like_channels_redis() {
    let (a, b) = (Redis::start().await, Redis::start().await);
    let node = channels_node_on(&[&a, &b]).await;
    let ports = format!("{},{}", a.port, b.port);
    for tag in ["shard_x", "shard_y", "shard_z"] {
        let name = room(tag);
        let mut ws = RawWs::join(node.addr, &name).await;
        // The group lives on the host channels_redis would pick, and only there.
        let group = format!("asgi:group:chat_{name}");
        let zcard = format!("*2\r\n$5\r\nZCARD\r\n${}\r\n{group}\r\n", group.len());
        let shard = reference_server::layer::channels::consistent_hash(&format!("chat_{name}"), 2);
        let (home, other) = if shard == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(
            home.command(zcard.as_bytes()).await.as_deref(),
            Some(&b":1\r\n"[..])
        );
        assert_eq!(
            other.command(zcard.as_bytes()).await.as_deref(),
            Some(&b":0\r\n"[..])
        );
        python_send(Layer::Core, &ports, &name, "sharded").await;
        assert_eq!(
            ws.recv_text().await,
            r#"{"message": "sharded"}"#,
            "room {name}"
        );

        let (mut child, rx) = python_receiver(Layer::Core, &ports, &name);
        ws.send_text(r#"{"message":"back"}"#).await;
        assert_eq!(ws.recv_text().await, r#"{"message": "back"}"#);
        assert_eq!(python_received(&rx)["message"], "back", "room {name}");
        assert!(child.wait().expect("python ends").success());
    }
}

/// As `redis.rs`'s test of the same name, in this format: a burst already in the node's queue
/// when a member joins is not delivered to that member (the join marker goes after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_gets_nothing_published_before_it_joined() {
    use reference_server::layer::channels::codec as channels_codec;
    const SILENT: usize = 200;
    const BURST: usize = 2_000;
    let redis = Redis::start().await;
    let node = channels_node(&redis).await;
    let name = room("late");
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(RawWs::join(node.addr, &name).await);
    }
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("asgi:group:chat_{name}"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("group members");
    let [member] = members.as_slice() else {
        panic!("one group member for the node: {members:?}")
    };
    let node_name = &member[..=member.find('!').expect("a process-local name")];
    let queue = format!("asgi{node_name}");
    // The burst goes straight into the node's queue (past channels_redis's capacity of 100,
    // which only senders enforce), scored before now as a sender's would be.
    let mut burst = redis::pipe();
    for i in 0..BURST {
        let text = format!(r#"{{"message": "before {i}"}}"#);
        let payload = channels_codec::encode(&text, std::slice::from_ref(member)).expect("encode");
        burst.zadd(&queue, payload, i as f64).ignore();
    }
    let () = burst.query_async(&mut conn).await.expect("burst queued");
    let mut late = RawWs::join(node.addr, &name).await;
    let taken = node.metrics.redis_received();
    late.send_text(r#"{"message":"after"}"#).await;
    assert_eq!(
        late.recv_text().await,
        r#"{"message": "after"}"#,
        "the late member's first frame (the node had taken {taken} of {BURST} from Redis when \
         the 101 was read)"
    );
    drop(silent);
}
