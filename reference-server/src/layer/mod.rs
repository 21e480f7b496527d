//! Room layers: what carries a frame from the member who sent it to every member of its room.
//! Sessions see only [`RoomLayer`]: join a room, publish a frame to it, leave it.
//!
//! - [`local`]: one process, a publish is a direct delivery.
//! - [`native`]: rooms across processes over Redis pub/sub (`--layer redis://..`).
//! - [`channels`]: the same in Django's channels_redis format, so Django nodes share the rooms
//!   (`--layer-format channels`).
//! - [`redis_core`]: what both Redis formats share (the layer, outage policy, backoff);
//!   [`marker`]: join markers, so a member gets nothing published before it joined.
//!
//! Each keeps its local members in [`crate::rooms::Rooms`].

pub mod channels;
pub mod echo;
pub mod local;
pub mod marker;
pub mod native;
pub mod pubsub;
pub mod redis_core;
mod resettable;

use std::sync::Arc;

use protocol::RoomName;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, LayerFormat};
use crate::frame::Frame;
use crate::layer::pubsub::Wire;
use crate::metrics::Metrics;
use crate::rooms::{DirectWrite, Member, Membership, Rooms};

/// The interface between WebSocket sessions and whatever carries frames between members.
pub trait RoomLayer: Send + Sync + std::fmt::Debug + 'static {
    /// Adds `member` to `room`, creating the room if needed. It may receive nothing until
    /// [`RoomLayer::ready`] has resolved.
    fn join(&self, room: &RoomName, member: Member) -> Membership;
    /// Removes the member; the room disappears with its last member. Idempotent.
    fn leave(&self, membership: &Membership);
    /// Sends `frame` to every member of the membership's room, the sender included.
    fn publish(&self, from: &Membership, frame: Frame);
    /// Resolves when the member who just joined receives every frame published from any
    /// node from now on, and none that was published before its join (a cross-process layer
    /// subscribes, then waits for a [`marker`]). The handshake waits for it before its 101.
    fn ready(&self, _joined: &Membership) -> ReadyFuture {
        Box::pin(std::future::ready(()))
    }
    /// False while the layer cannot reach other nodes (the health check says so).
    fn healthy(&self) -> bool {
        true
    }
}

/// See [`RoomLayer::ready`].
pub type ReadyFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The layer `config` asks for (`--layer`, `--layer-format`), its tasks on `tracker`.
pub fn start(
    config: &Config,
    metrics: &Arc<Metrics>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Arc<dyn RoomLayer>> {
    let rooms = Rooms::new(
        Arc::clone(metrics),
        DirectWrite {
            below: config.direct_write_below,
            members: config.direct_write_members,
        },
    );
    Ok(match &config.layer {
        None => Arc::new(local::LocalLayer::new(rooms)),
        Some(urls) if urls.starts_with("redis://") => match config.layer_format {
            LayerFormat::Native | LayerFormat::Pubsub if urls.contains(',') => {
                anyhow::bail!("--layer: several Redis hosts need --layer-format channels")
            }
            LayerFormat::Native | LayerFormat::Pubsub => Arc::new(native::start(
                urls,
                match config.layer_format {
                    LayerFormat::Pubsub => Wire::PubSub,
                    _ => Wire::Native(config.redis_prefix.clone()),
                },
                config.outage,
                rooms,
                Arc::clone(metrics),
                tracker,
                shutdown.clone(),
            )?),
            LayerFormat::Channels => Arc::new(channels::start(
                &urls.split(',').map(str::trim).collect::<Vec<_>>(),
                config.outage,
                rooms,
                Arc::clone(metrics),
                tracker,
                shutdown.clone(),
            )?),
        },
        Some(other) => anyhow::bail!("--layer {other}: only redis://host:port is supported"),
    })
}
