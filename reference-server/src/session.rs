//! One WebSocket member, from its first frame to its close.
//!
//! One task per connection: a `select!` over the socket's incoming frames, the member's
//! outgoing queue, eviction, shutdown and the keepalive timer. Whatever ends the loop, the
//! member leaves its room first (in [`Leave`]'s `Drop`), then the close frame is sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::RoomName;
use protocol::close;
use protocol::inbound::{Limits, broadcast_frame};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::fanout::{ChannelLayer, FrameReceiver, Member, Membership};
use crate::metrics::Metrics;

/// How long the server waits for its close frame to be written and answered.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Frames written per flush at most, so one busy member cannot starve its own reads.
const MAX_BATCH: usize = 64;

/// What a session needs from the server.
#[derive(Debug, Clone)]
pub(crate) struct SessionContext {
    pub(crate) layer: Arc<dyn ChannelLayer>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
    pub(crate) queue_len: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) shutdown: CancellationToken,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The server closes with this code and reason.
    Close(u16, String),
    /// The client sent a close frame with this code (tungstenite answers it).
    PeerClosed(u16),
    /// The connection is gone without a close handshake.
    Gone,
}

/// A member of a room, joined when the handshake is accepted (before the 101 is written, as
/// Django joins the group before it accepts): a message sent once a client holds its 101
/// reaches it. Leaves the room when dropped, however the session ends, panics included.
#[derive(Debug)]
pub(crate) struct Joined {
    layer: Arc<dyn ChannelLayer>,
    metrics: Arc<Metrics>,
    membership: Membership,
    queue: FrameReceiver,
    evicted: CancellationToken,
}

impl Joined {
    pub(crate) fn new(ctx: &SessionContext, room: &RoomName) -> Self {
        let (member, queue, evicted) = Member::new(ctx.queue_len);
        let membership = ctx.layer.join(room, member);
        ctx.metrics.open_connections.inc();
        Self {
            layer: Arc::clone(&ctx.layer),
            metrics: Arc::clone(&ctx.metrics),
            membership,
            queue,
            evicted,
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
    peer: SocketAddr,
    ctx: SessionContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let room = joined.membership.room().clone();
    tracing::debug!(%room, %peer, "joined");

    let (mut sink, mut stream) = ws.split();
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

    let end = loop {
        tokio::select! {
            biased;
            () = &mut shutdown => {
                break End::Close(close::GOING_AWAY, "server shutting down".into());
            }
            () = &mut evicted => {
                break End::Close(
                    close::TRY_AGAIN_LATER,
                    format!("too slow: {} frames queued unsent", ctx.queue_len),
                );
            }
            incoming = stream.next() => {
                keepalive.as_mut().reset(Instant::now() + ctx.ping_interval);
                awaiting_pong = false;
                match incoming {
                    Some(Ok(message)) => {
                        if let Some(end) = on_message(message, &ctx, &joined.membership) {
                            break end;
                        }
                    }
                    Some(Err(error)) => break on_error(error, &ctx.limits),
                    None => break End::Gone,
                }
            }
            frame = joined.queue.recv() => {
                let Some(frame) = frame else {
                    // The room dropped this member: only an eviction does that.
                    break End::Close(close::TRY_AGAIN_LATER, "too slow".into());
                };
                if write_batch(&mut sink, &mut joined.queue, frame, &ctx.metrics).await.is_err() {
                    break End::Gone;
                }
            }
            () = &mut keepalive => {
                if awaiting_pong {
                    break End::Close(close::INTERNAL_ERROR, "keepalive ping timeout".into());
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break End::Gone;
                }
                awaiting_pong = true;
                keepalive.as_mut().reset(Instant::now() + ctx.ping_timeout);
            }
        }
    };
    // Out of the room before anything else: nothing more is queued for a closing socket.
    drop(joined);

    match end {
        End::Close(code, reason) => {
            tracing::debug!(%room, %peer, code, %reason, "closing");
            ctx.metrics.closed(code);
            let frame = CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from(close::truncate_reason(&reason).to_owned()),
            };
            let _ = timeout(CLOSE_WAIT, async {
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
            let _ = timeout(CLOSE_WAIT, sink.close()).await;
        }
        End::Gone => tracing::debug!(%room, %peer, "connection ended without a close"),
    }
}

/// Handles one frame from the client; `Some` ends the session.
fn on_message(message: Message, ctx: &SessionContext, membership: &Membership) -> Option<End> {
    match message {
        Message::Text(text) => match broadcast_frame(text.as_bytes(), &ctx.limits) {
            Ok(frame) => {
                ctx.metrics.messages_received.inc();
                tracing::trace!(room = %membership.room(), bytes = frame.len(), "broadcast");
                ctx.layer.publish(membership, Utf8Bytes::from(frame));
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
        // tungstenite answers pings itself; any frame already counted as activity.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
    }
}

fn on_error(error: WsError, limits: &Limits) -> End {
    match error {
        WsError::Capacity(_) => End::Close(
            close::MESSAGE_TOO_BIG,
            format!("message over the {}-byte limit", limits.max_message_bytes),
        ),
        WsError::Utf8(_) => End::Close(close::INVALID_PAYLOAD, "text is not valid UTF-8".into()),
        WsError::Protocol(e) => End::Close(1002, e.to_string()),
        _ => End::Gone,
    }
}

/// Writes `first` and whatever else is already queued (up to [`MAX_BATCH`]), then flushes once.
async fn write_batch<Si>(
    sink: &mut Si,
    queue: &mut crate::fanout::FrameReceiver,
    first: Utf8Bytes,
    metrics: &Metrics,
) -> Result<(), WsError>
where
    Si: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    sink.feed(Message::Text(first)).await?;
    let mut written = 1;
    while written < MAX_BATCH {
        let Ok(frame) = queue.try_recv() else { break };
        sink.feed(Message::Text(frame)).await?;
        written += 1;
    }
    sink.flush().await?;
    metrics.frames_delivered.inc_by(written as u64);
    Ok(())
}
