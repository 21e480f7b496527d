//! `--layer-format pubsub` against the real channels_redis `RedisPubSubChannelLayer` (pinned, in
//! the Django tutorial's virtual environment) through a real redis-server, both ways: a
//! Python `group_send` reaches a reference-server client with the bytes Django's consumer
//! would write, and a reference-server client's message reaches a Python channel in the group
//! as the map Django's consumer expects (and comes back to its sender through Redis, once).

mod common;

use common::interop::{Layer, python_received, python_receiver, python_send};
use common::{RawWs, room};
use reference_server::{Config, LayerFormat, RunningServer};
use testkit::Redis;

async fn pubsub_node(redis: &Redis) -> RunningServer {
    let mut config = Config::local();
    config.layer = Some(redis.url());
    config.layer_format = LayerFormat::Pubsub;
    common::connected_node(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pubsub_group_send_reaches_a_reference_client() {
    let redis = Redis::start().await;
    let node = pubsub_node(&redis).await;
    let name = room("frompubsub");
    let mut ws = RawWs::join(node.addr, &name).await;
    python_send(
        Layer::PubSub,
        &redis.port.to_string(),
        &name,
        "hi from pubsub 한",
    )
    .await;
    assert_eq!(
        ws.recv_text().await,
        r#"{"message": "hi from pubsub \ud55c"}"#
    );
    assert_eq!(node.metrics.redis_malformed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_client_reaches_a_pubsub_channel_and_itself_once() {
    let redis = Redis::start().await;
    let node = pubsub_node(&redis).await;
    let name = room("topubsub");
    let (mut child, rx) = python_receiver(Layer::PubSub, &redis.port.to_string(), &name);
    let mut ws = RawWs::join(node.addr, &name).await;
    ws.send_text(r#"{"message":{"text":"hi from rust","n":[1,2.5,null]}}"#)
        .await;
    assert_eq!(
        ws.recv_text().await,
        r#"{"message": {"text": "hi from rust", "n": [1, 2.5, null]}}"#
    );
    let got = python_received(&rx);
    assert_eq!(got["type"], "chat.message");
    assert_eq!(
        got["message"],
        serde_json::json!({"text": "hi from rust", "n": [1, 2.5, null]})
    );
    assert!(child.wait().expect("python ends").success());
    // It went out once and came back once: recognised as the node's own.
    let metrics = node.metrics.clone();
    common::eventually("the frame came back", || metrics.redis_echoed() == 1).await;
    assert_eq!(node.metrics.redis_frames(), 1);
    assert_eq!(node.metrics.redis_local_only(), 0);
}
