//! Pops this node's queue and delivers to local members: frames to the room named after the
//! `!` of each member name (`chat.message` and `chat_message` both accepted), join markers to
//! `layer::marker`. A payload that does not decode is counted in `chat_redis_malformed_total`
//! and skipped.

use std::sync::Arc;
use std::time::Duration;

use crate::frame::Frame;
use protocol::RoomName;
use redis::aio::MultiplexedConnection;

use super::{CAPACITY, Commands, Node, codec, connect};
use crate::layer::redis_core::{Backoff, Core};

/// BZPOPMIN's own timeout, short so shutdown is prompt.
const POP_WAIT_SECS: u64 = 1;
/// Messages taken per ZPOPMIN once a blocking pop returned: the queue's whole capacity.
const DRAIN_BATCH: usize = CAPACITY as usize;

/// The receiver task: its connection is the node's health (`Core::set_connected`); on every
/// (re)connection the membership tasks add their memberships again.
pub(super) async fn run(node: Arc<Node>, core: Arc<Core>, commands: Arc<Commands>) {
    let queue = node.queue();
    let mut backoff = Backoff::default();
    loop {
        let client = &node.clients[node.shard(&node.name)];
        let Some(mut conn) = connect(client, Duration::from_secs(POP_WAIT_SECS + 4)).await else {
            core.set_connected(false);
            if !backoff.wait(&core.shutdown).await {
                return;
            }
            continue;
        };
        backoff.reset();
        core.set_connected(true);
        tracing::info!(node = %node.name, "connected to Redis (channels_redis format)");
        commands.resync();
        let mut pop = redis::cmd("BZPOPMIN");
        pop.arg(&queue).arg(POP_WAIT_SECS);
        // After a blocking pop, whatever else waits is drained in batches: the queue is shared
        // by every room of this node and a sender skips it once it holds CAPACITY messages, so
        // one round trip per message would let a burst fill it (docs/channels-redis.md 3A (a) 2).
        let mut drain = redis::cmd("ZPOPMIN");
        drain.arg(&queue).arg(DRAIN_BATCH);
        loop {
            let popped = tokio::select! {
                () = core.shutdown.cancelled() => return,
                r = pop.query_async::<Option<(String, Vec<u8>, f64)>>(&mut conn) => r,
            };
            let result = match popped {
                Ok(None) => Ok(()),
                Ok(Some((_, payload, _))) => {
                    on_payload(&node, &core, &payload);
                    drain_queue(&node, &core, &drain, &mut conn).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "Redis error while popping");
                break;
            }
        }
        core.set_connected(false);
    }
}

/// Pops and delivers what is queued, [`DRAIN_BATCH`] at a time, until the queue is empty.
async fn drain_queue(
    node: &Node,
    core: &Core,
    drain: &redis::Cmd,
    conn: &mut MultiplexedConnection,
) -> redis::RedisResult<()> {
    loop {
        let batch: Vec<(Vec<u8>, f64)> = drain.query_async(conn).await?;
        for (payload, _) in &batch {
            on_payload(node, core, payload);
        }
        if batch.len() < DRAIN_BATCH {
            return Ok(());
        }
    }
}

fn on_payload(node: &Node, core: &Core, payload: &[u8]) {
    if core.markers.on_payload(payload) {
        return;
    }
    let decoded = match codec::decode(payload) {
        Ok(d) => d,
        Err(e) => {
            core.metrics.redis_malformed.inc();
            tracing::debug!(error = %e, "malformed channel-layer message skipped");
            return;
        }
    };
    core.metrics.redis_received.inc();
    let frame = Frame::from(decoded.frame);
    for name in &decoded.channels {
        if let Some(room) = name
            .strip_prefix(&node.name)
            .and_then(|r| RoomName::parse(r).ok())
        {
            core.received(&room, &frame);
        }
    }
}
