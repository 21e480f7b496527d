//! Sends each published frame as Django's `group_send` would: prune, ZRANGE the group, one
//! msgpack payload (with the 12-byte random prefix) per queue, added by channels_redis's Lua
//! script (its score kept after the queue's last, see [`GROUP_SEND_LUA`]) with capacity 100
//! and expiry 60 s. Queues over capacity are skipped by that
//! script, as in Django, and counted in `chat_redis_over_capacity_total`. Join markers go to
//! this node's own queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::RoomName;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::{CAPACITY, EXPIRY, GROUP_EXPIRY, Node, codec, connect, group_key, group_name, now};
use crate::frame::Frame;
use crate::layer::marker;
use crate::layer::redis_core::{Core, Outgoing};

/// channels_redis core.py's `group_send` script, with one change: a message's score is the
/// sender's clock (as there) but never at or before the last entry of the queue it joins (one
/// microsecond after it then). channels_redis scores by the sender's clock alone, and a
/// queue is popped lowest score first, so two sends that cross (from nodes whose clocks or
/// paths differ by more than their gap) can be popped in one order by a node that had both
/// and in the other by a node that popped between them: members of different nodes see the
/// room in different orders. With this score a queue's order is the order Redis ran the
/// sends, the same in every queue. Django nodes still read such a queue as theirs (a score
/// is a float of epoch seconds; pruning by age is unchanged to the microsecond).
const GROUP_SEND_LUA: &str = r#"
local over_capacity = 0
local current_time = tonumber(ARGV[#ARGV - 1])
local expiry = ARGV[#ARGV]
for i=1,#KEYS do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        local score = current_time
        local top = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
        if top[2] ~= nil and tonumber(top[2]) >= score then
            score = tonumber(top[2]) + 0.000001
        end
        redis.call('ZADD', KEYS[i], score, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"#;

/// Adds a join marker to a queue after everything in it (same clock as `group_send`'s scores,
/// but never before the last entry), with the queue's expiry.
const MARKER_LUA: &str = r#"
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local score = tonumber(ARGV[2])
if top[2] ~= nil and tonumber(top[2]) >= score then
    score = tonumber(top[2]) + 0.001
end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"#;

/// The publisher task: one item at a time, in order; what cannot be sent goes to
/// `Core::not_sent`.
pub(super) async fn run(node: Arc<Node>, core: Arc<Core>, mut queue: mpsc::Receiver<Outgoing>) {
    let script = redis::Script::new(GROUP_SEND_LUA);
    let marker_script = redis::Script::new(MARKER_LUA);
    let mut conns: Vec<Option<MultiplexedConnection>> = node.clients.iter().map(|_| None).collect();
    let mut epoch = 0;
    loop {
        let item = tokio::select! {
            () = core.shutdown.cancelled() => return,
            item = queue.recv() => match item { Some(i) => i, None => return },
        };
        // A room's frames go through Redis only while this node's membership is confirmed
        // on the current connection (its deferred frames first); else they are delivered
        // here and deferred.
        let items = core.prepare(vec![item]);
        for (i, item) in items.iter().enumerate() {
            // Connections made before the receiver's latest reconnection may be to a Redis
            // that restarted since: made anew.
            if epoch != core.epoch() {
                epoch = core.epoch();
                conns.iter_mut().for_each(|c| *c = None);
            }
            if core.connected() {
                for (conn, client) in conns.iter_mut().zip(&node.clients) {
                    if conn.is_none() {
                        *conn = connect(client, Duration::from_millis(500)).await;
                    }
                }
            }
            let sent = match item {
                Outgoing::Frame(room, frame) | Outgoing::Deferred(room, frame) => {
                    match group_send(&mut conns, &node, &script, room, frame).await {
                        Ok(over) => {
                            core.metrics.redis_over_capacity.inc_by(over);
                            true
                        }
                        Err(_) => false,
                    }
                }
                Outgoing::Marker(seq) => send_marker(&mut conns, &node, &marker_script, *seq)
                    .await
                    .is_ok(),
                // `prepare` turned flushes into frames.
                Outgoing::Flush(_) => continue,
            };
            if sent {
                core.sent(item);
            } else {
                // This one and the rest are deferred again, in their order: none of them
                // goes out ahead of one that did not.
                core.publish_failed_all(&items[i..]);
                break;
            }
        }
    }
}

/// Adds join marker `seq` to this node's own queue, after everything already in it.
async fn send_marker(
    conns: &mut [Option<MultiplexedConnection>],
    node: &Node,
    script: &redis::Script,
    seq: u64,
) -> Result<(), ()> {
    let shard = node.shard(&node.name);
    let conn = conns[shard].as_mut().ok_or(())?;
    let added: redis::RedisResult<i64> = script
        .key(node.queue())
        .arg(marker::text(seq))
        .arg(format!("{}", now()))
        .arg(EXPIRY)
        .invoke_async(conn)
        .await;
    if added.is_err() {
        conns[shard] = None;
        return Err(());
    }
    Ok(())
}

/// Sends `frame` as channels_redis `group_send` does, over the hosts. A failed host's
/// connection is dropped (reconnected on the next message). `Err(None)`: Redis failed;
/// `Err(Some(e))`: the frame cannot be encoded for Django.
async fn group_send(
    conns: &mut [Option<MultiplexedConnection>],
    node: &Node,
    script: &redis::Script,
    room: &RoomName,
    frame: &Frame,
) -> Result<u64, Option<codec::CodecError>> {
    let now = now();
    let group = group_key(room);
    let group_shard = node.shard(&group_name(room));
    let members: Vec<String> = {
        let conn = conns[group_shard].as_mut().ok_or(None)?;
        let result: redis::RedisResult<((), Vec<String>)> = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&group)
            .arg(0)
            .arg(now as i64 - GROUP_EXPIRY)
            .cmd("ZRANGE")
            .arg(&group)
            .arg(0)
            .arg(-1)
            .query_async(conn)
            .await;
        match result {
            Ok((_, members)) => members,
            Err(_) => {
                conns[group_shard] = None;
                return Err(None);
            }
        }
    };
    // One payload per queue (members sharing a process share its queue), each queue on the
    // host its non-local name hashes to.
    let mut by_shard: BTreeMap<usize, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for m in members {
        let non_local = match m.find('!') {
            Some(i) => m[..=i].to_owned(),
            None => m.clone(),
        };
        by_shard
            .entry(node.shard(&non_local))
            .or_default()
            .entry(format!("asgi{non_local}"))
            .or_default()
            .push(m);
    }
    let mut over = 0;
    for (shard, queues) in by_shard {
        let mut prune = redis::pipe();
        let mut invocation = script.prepare_invoke();
        let mut payloads = Vec::with_capacity(queues.len());
        for (key, names) in &queues {
            prune
                .cmd("ZREMRANGEBYSCORE")
                .arg(key)
                .arg(0)
                .arg(now as i64 - EXPIRY)
                .ignore();
            invocation.key(key);
            payloads.push(codec::encode(frame.as_str(), names).map_err(Some)?);
        }
        for p in &payloads {
            invocation.arg(p.as_slice());
        }
        for _ in &queues {
            invocation.arg(CAPACITY);
        }
        invocation.arg(format!("{now}")).arg(EXPIRY);
        let conn = conns[shard].as_mut().ok_or(None)?;
        let sent: redis::RedisResult<u64> = async {
            prune.query_async::<()>(conn).await?;
            invocation.invoke_async(conn).await
        }
        .await;
        match sent {
            Ok(n) => over += n,
            Err(_) => {
                conns[shard] = None;
                return Err(None);
            }
        }
    }
    Ok(over)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A send whose clock is behind the queue's last entry (a node whose clock runs ahead
    /// sent it) still goes after it: the queue keeps the order Redis ran the sends in.
    #[tokio::test]
    async fn a_send_joins_its_queue_after_the_last_entry() {
        let redis = testkit::Redis::start().await;
        let client = redis::Client::open(redis.url()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis");
        let key = "asgiqueue!";
        let now = now();
        let () = redis::cmd("ZADD")
            .arg(key)
            .arg(now + 10.0)
            .arg("ahead")
            .query_async(&mut conn)
            .await
            .expect("ZADD");
        let over: u64 = redis::Script::new(GROUP_SEND_LUA)
            .key(key)
            .arg("ours")
            .arg(CAPACITY)
            .arg(format!("{now}"))
            .arg(EXPIRY)
            .invoke_async(&mut conn)
            .await
            .expect("group_send's script");
        assert_eq!(over, 0);
        let order: Vec<String> = redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .expect("ZRANGE");
        assert_eq!(order, ["ahead", "ours"]);
    }
}
