//! Keeps this node's group memberships on one Redis host (the rooms whose group hashes to it):
//! ZADD + EXPIRE on join, refreshed every [`REFRESH`] and after every reconnection, ZREM when
//! the room's last local member leaves.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use protocol::RoomName;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};

use super::{Command, GROUP_EXPIRY, Node, connect, group_key, now};
use crate::layer::redis_core::{Backoff, Core};

/// How often memberships are added again, well within [`GROUP_EXPIRY`].
const REFRESH: Duration = Duration::from_secs(600);

async fn add_member(
    conn: &mut MultiplexedConnection,
    node: &Node,
    room: &RoomName,
) -> redis::RedisResult<()> {
    redis::pipe()
        .cmd("ZADD")
        .arg(group_key(room))
        .arg(now())
        .arg(node.member(room))
        .ignore()
        .cmd("EXPIRE")
        .arg(group_key(room))
        .arg(GROUP_EXPIRY)
        .ignore()
        .query_async(conn)
        .await
}

/// Adds every membership in `joined` again, each confirmed to `core` (`layer::echo`);
/// false if Redis failed.
async fn add_all(
    conn: &mut MultiplexedConnection,
    node: &Node,
    core: &Core,
    joined: &HashSet<RoomName>,
) -> bool {
    for room in joined {
        if add_member(conn, node, room).await.is_err() {
            return false;
        }
        core.confirm(room);
    }
    true
}

/// The membership task of host `shard`.
pub(super) async fn run(
    node: Arc<Node>,
    core: Arc<Core>,
    shard: usize,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut joined: HashSet<RoomName> = HashSet::new();
    let mut waiting: HashMap<RoomName, Vec<oneshot::Sender<()>>> = HashMap::new();
    let mut conn: Option<MultiplexedConnection> = None;
    let mut refresh = tokio::time::interval(REFRESH);
    let mut backoff = Backoff::default();
    loop {
        if conn.is_none() {
            conn = connect(&node.clients[shard], Duration::from_secs(2)).await;
            // Memberships may have expired or Redis restarted empty: add them all again.
            if let Some(c) = conn.as_mut() {
                if add_all(c, &node, &core, &joined).await {
                    backoff.reset();
                    for w in waiting.drain().flat_map(|(_, ws)| ws) {
                        let _ = w.send(());
                    }
                } else {
                    conn = None;
                }
            }
        }
        let retry = conn.is_none().then(|| backoff.next_delay());
        tokio::select! {
            () = core.shutdown.cancelled() => return,
            _ = refresh.tick() => {
                if let Some(c) = conn.as_mut()
                    && !add_all(c, &node, &core, &joined).await
                {
                    conn = None;
                }
            }
            () = tokio::time::sleep(retry.unwrap_or_default()), if retry.is_some() => {}
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                let ok = match cmd {
                    Command::Join(room, done) => {
                        let added = match conn.as_mut() {
                            Some(c) if !joined.contains(&room) => {
                                let ok = add_member(c, &node, &room).await.is_ok();
                                if ok {
                                    core.confirm(&room);
                                }
                                ok
                            }
                            Some(_) => true,
                            None => false,
                        };
                        joined.insert(room.clone());
                        match done {
                            Some(done) if added => { let _ = done.send(()); }
                            Some(done) => waiting.entry(room).or_default().push(done),
                            None => {}
                        }
                        added
                    }
                    // Reconnect (and add them all) on the next turn if this fails.
                    Command::Resync => match conn.as_mut() {
                        Some(c) => add_all(c, &node, &core, &joined).await,
                        None => false,
                    },
                    Command::Release(room) => {
                        let gone = core.rooms.member_count(&room) == 0 && joined.remove(&room);
                        if gone {
                            core.unconfirm(&room);
                        }
                        if gone && let Some(c) = conn.as_mut() {
                            redis::cmd("ZREM")
                                .arg(group_key(&room))
                                .arg(node.member(&room))
                                .query_async::<()>(c)
                                .await
                                .is_ok()
                        } else {
                            true
                        }
                    }
                };
                if !ok {
                    conn = None;
                }
            }
        }
    }
}
