//! One WebSocket member, from its first frame to its close.
//!
//! One task per connection: a `select!` over the socket's incoming frames, the member's
//! outgoing queue (a plain TCP member's drained by [`outlet::poll_drain_turn`], a TLS
//! member's fed to the codec by [`crate::outbox`], which also writes pings and pongs),
//! eviction, shutdown and the keepalive timer.
//! Whatever ends the loop, the member leaves its room first (in [`Joined`]'s `Drop`), then the
//! close frame is sent, within `close_wait`; after it the TCP connection is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::RoomName;
use protocol::close;
use protocol::inbound::{Limits, broadcast_frame};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::budget::{InboundMeter, MemoryBudget};
use crate::deflate::InflateError;
use crate::frame::Frame;
use crate::layer::RoomLayer;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::outlet::{self, WriteError};
use crate::queue::Refused;
use crate::rooms::{FrameReceiver, Member, Membership};

/// Close code for a connection that ended without a close frame (RFC 6455 7.1.5); counted,
/// never sent.
const ABNORMAL: u16 = 1006;

/// What a session needs from the server.
#[derive(Debug, Clone)]
pub(crate) struct SessionContext {
    pub(crate) layer: Arc<dyn RoomLayer>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) budget: Arc<MemoryBudget>,
    pub(crate) limits: Limits,
    pub(crate) queue_bytes: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    /// How long the server waits for its close frame to be written and answered; then the
    /// TCP connection is dropped.
    pub(crate) close_wait: Duration,
    pub(crate) shutdown: CancellationToken,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The server closes with this code and reason.
    Close(u16, String),
    /// The client sent a close frame with this code (tungstenite answers it).
    PeerClosed(u16),
    /// The connection is gone without a close handshake (counted as 1006).
    Gone,
}

/// A member of a room, joined when the handshake is accepted (before the 101 is written, as
/// Django joins the group before it accepts): a message sent once a client holds its 101
/// reaches it. Holds the connection's slot (`--max-connections`); leaves the room, frees its
/// queue and gives the slot back when dropped, however the session ends, panics included.
#[derive(Debug)]
pub(crate) struct Joined {
    layer: Arc<dyn RoomLayer>,
    metrics: Arc<Metrics>,
    membership: Membership,
    queue: FrameReceiver,
    evicted: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

impl Joined {
    /// `deflate`: the member agreed to permessage-deflate and gets compressed frames.
    pub(crate) fn new(
        ctx: &SessionContext,
        room: &RoomName,
        slot: OwnedSemaphorePermit,
        deflate: bool,
    ) -> Self {
        let (mut member, queue, evicted) = Member::new(ctx.queue_bytes, Arc::clone(&ctx.budget));
        member.set_deflate(deflate);
        let membership = ctx.layer.join(room, member);
        ctx.metrics.open_connections.inc();
        Self {
            layer: Arc::clone(&ctx.layer),
            metrics: Arc::clone(&ctx.metrics),
            membership,
            queue,
            evicted,
            _slot: slot,
        }
    }

    pub(crate) fn membership(&self) -> &Membership {
        &self.membership
    }

    pub(crate) fn queue(&self) -> &FrameReceiver {
        &self.queue
    }

    fn eviction(&self) -> End {
        match self.queue.refused() {
            Some(Refused::Budget) => End::Close(
                close::TRY_AGAIN_LATER,
                "server memory budget exhausted".into(),
            ),
            _ => End::Close(
                close::TRY_AGAIN_LATER,
                format!("too slow: over {} bytes queued unsent", self.queue.limit()),
            ),
        }
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.layer.leave(&self.membership);
        self.metrics.open_connections.dec();
    }
}

pub(crate) async fn run<S>(
    ws: WebSocketStream<S>,
    mut joined: Joined,
    meter: Arc<InboundMeter>,
    peer: SocketAddr,
    ctx: SessionContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let room = joined.membership.room().clone();
    tracing::debug!(%room, %peer, "joined");

    let (mut sink, mut stream) = ws.split();
    let mut outbox = Outbox::default();
    let keepalive = sleep(ctx.ping_interval);
    tokio::pin!(keepalive);
    let mut awaiting_pong = false;
    // Polling a token takes its node's lock, so each session watches a child of the shared
    // shutdown token (its own, uncontended lock), and the futures are made once, not per frame.
    let shutdown_token = ctx.shutdown.child_token();
    let shutdown = shutdown_token.cancelled();
    let evicted = joined.evicted.clone();
    let evicted = evicted.cancelled();
    tokio::pin!(shutdown, evicted);
    // A plain TCP member's frames are written by the drain below, not by the codec.
    let direct = joined.queue.attached().map(Arc::clone);

    // Not biased: reading and writing take turns, so a member that receives a flood of
    // messages from its client still writes its own queue (and the other way round).
    let end = loop {
        tokio::select! {
            () = &mut shutdown => {
                break End::Close(close::GOING_AWAY, "server shutting down".into());
            }
            () = &mut evicted => break joined.eviction(),
            incoming = stream.next(), if !outbox.reads_paused() => {
                keepalive.as_mut().reset(Instant::now() + ctx.ping_interval);
                awaiting_pong = false;
                match incoming {
                    Some(Ok(message)) => {
                        meter.message_done();
                        if let Message::Ping(_) = message {
                            outbox.owe_pong();
                        }
                        if let Some(end) = on_message(message, &ctx, &joined.membership) {
                            break end;
                        }
                    }
                    Some(Err(error)) => break on_error(error, &ctx, &meter),
                    None => break End::Gone,
                }
            }
            drained = std::future::poll_fn(|cx| match &direct {
                Some(queue) => outlet::poll_drain_turn(queue, cx, |n| {
                    ctx.metrics.frames_delivered.inc_by(n);
                }),
                None => std::task::Poll::Pending,
            }), if direct.is_some() => {
                if let Some(end) = on_written(drained, &joined, &ctx, &room, peer) {
                    break end;
                }
            }
            written = std::future::poll_fn(|cx| outbox.poll_write(cx, &mut sink, &mut joined.queue)) => {
                if let Some(end) = on_written(written, &joined, &ctx, &room, peer) {
                    break end;
                }
            }
            () = &mut keepalive => {
                if awaiting_pong {
                    break End::Close(close::INTERNAL_ERROR, "keepalive ping timeout".into());
                }
                outbox.send_ping();
                awaiting_pong = true;
                keepalive.as_mut().reset(Instant::now() + ctx.ping_timeout);
            }
        }
    };
    // Out of the room before anything else: nothing more is queued for a closing socket, the
    // queue is freed and the slot is given back now, not after the close handshake.
    drop(joined);

    match end {
        End::Close(code, reason) => {
            tracing::debug!(%room, %peer, code, %reason, "closing");
            ctx.metrics.closed(code);
            let frame = CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from(close::truncate_reason(&reason).to_owned()),
            };
            // A socket that cannot take the close frame (it never reads) is dropped when this
            // times out.
            let _ = timeout(ctx.close_wait, async {
                sink.send(Message::Close(Some(frame))).await?;
                // Read until the client answers the close (or goes away).
                while let Some(Ok(_)) = stream.next().await {}
                Ok::<(), WsError>(())
            })
            .await;
        }
        End::PeerClosed(code) => {
            tracing::debug!(%room, %peer, code, "client closed");
            ctx.metrics.closed(code);
            // tungstenite has queued the answer; this writes it.
            let _ = timeout(ctx.close_wait, sink.close()).await;
        }
        End::Gone => {
            tracing::debug!(%room, %peer, "connection ended without a close");
            ctx.metrics.closed(ABNORMAL);
        }
    }
}

/// Counts what a write delivered; `Some` ends the session (evicted, or the socket failed).
fn on_written(
    written: Result<u64, WriteError>,
    joined: &Joined,
    ctx: &SessionContext,
    room: &RoomName,
    peer: SocketAddr,
) -> Option<End> {
    match written {
        Ok(frames) => {
            ctx.metrics.frames_delivered.inc_by(frames);
            None
        }
        Err(WriteError::Evicted) => Some(joined.eviction()),
        Err(WriteError::Socket(error)) => {
            tracing::debug!(%room, %peer, %error, "write failed");
            Some(End::Gone)
        }
    }
}

/// Handles one frame from the client; `Some` ends the session.
fn on_message(message: Message, ctx: &SessionContext, membership: &Membership) -> Option<End> {
    match message {
        Message::Text(text) => match broadcast_frame(text.as_bytes(), &ctx.limits) {
            Ok(frame) => {
                ctx.metrics.messages_received.inc();
                tracing::trace!(room = %membership.room(), bytes = frame.len(), "broadcast");
                ctx.layer.publish(membership, Frame::from(frame));
                None
            }
            Err(error) => Some(End::Close(error.close_code(), error.to_string())),
        },
        Message::Binary(_) => Some(End::Close(
            close::UNSUPPORTED_DATA,
            "binary frames are not supported: send JSON text".into(),
        )),
        Message::Close(frame) => Some(End::PeerClosed(
            frame.map_or(close::NORMAL, |f| u16::from(f.code)),
        )),
        // tungstenite answers pings itself (the outbox writes the pong); any frame already
        // counted as activity.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
    }
}

fn on_error(error: WsError, ctx: &SessionContext, meter: &InboundMeter) -> End {
    // A compressed message the read side refused (`crate::deflate`), passed on by the codec.
    if let WsError::Io(e) = &error
        && !meter.over_budget()
        && let Some(why) = InflateError::of(e)
    {
        return match why {
            InflateError::TooLong(limit) => End::Close(
                close::MESSAGE_TOO_BIG,
                format!("compressed message over the {limit}-byte limit"),
            ),
            InflateError::Invalid(_) => End::Close(close::PROTOCOL_ERROR, why.to_string()),
        };
    }
    match error {
        WsError::Io(_) if meter.over_budget() => {
            ctx.metrics.memory_budget_closes.inc();
            End::Close(
                close::TRY_AGAIN_LATER,
                "server memory budget exhausted".into(),
            )
        }
        WsError::Capacity(_) => End::Close(
            close::MESSAGE_TOO_BIG,
            format!(
                "message over the {}-byte limit",
                ctx.limits.max_message_bytes
            ),
        ),
        WsError::Utf8(_) => End::Close(close::INVALID_PAYLOAD, "text is not valid UTF-8".into()),
        // TCP ended (FIN) without a close frame: abnormal, not a protocol error.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::Gone,
        WsError::Protocol(e) => End::Close(close::PROTOCOL_ERROR, e.to_string()),
        _ => End::Gone,
    }
}
