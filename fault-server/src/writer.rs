//! A member's writer: its frames when their time is up, the style's pings and the kick.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::{Outgoing, State, style};

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// The member's writer: its broadcasts, each when its delay is up (in order, or with
/// `reorder` each on its own so a later, less delayed frame overtakes it), the style's
/// pings, and the kick (`kick_after`, sparing members that spoke with `kick_silent_only`).
pub(crate) async fn write(
    mut sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    state: Arc<State>,
    spoke: Arc<AtomicBool>,
) {
    let faults = &state.faults;
    let (ordered_tx, mut ordered) = mpsc::unbounded_channel::<String>();
    let reorder = faults.reorder;
    // With `interleave` or `causal_skew`, the late lane: in order among itself, overtaken by the other lane.
    let (late_tx, late_lane) = match faults.interleave.or(faults.causal_skew) {
        Some(_) => {
            let (tx, rx) = mpsc::unbounded_channel::<(Instant, String)>();
            let lane = tokio::spawn(in_order(rx, ordered_tx.clone()));
            (Some(tx), Some(lane))
        }
        None => (None, None),
    };
    let scheduler = tokio::spawn(async move {
        while let Some((at, frame, on_late_lane, _)) = rx.recv().await {
            if let (true, Some(late)) = (on_late_lane, &late_tx) {
                if late.send((at, frame)).is_err() {
                    break;
                }
            } else if reorder {
                let tx = ordered_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    let _ = tx.send(frame);
                });
            } else {
                tokio::time::sleep_until(at).await;
                if ordered_tx.send(frame).is_err() {
                    break;
                }
            }
        }
    });
    let mut pings = faults.style.ping_every.map(tokio::time::interval);
    let kick = async {
        match faults.kick_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
        if faults.kick_silent_only && spoke.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(kick);
    loop {
        let ping = async {
            match pings.as_mut() {
                Some(every) => every.tick().await,
                None => std::future::pending().await,
            }
        };
        let sent = tokio::select! {
            frame = ordered.recv() => match frame {
                Some(frame) => {
                    let _one_at_a_time = match faults.one_writer {
                        true => Some(state.write_lock.lock().await),
                        false => None,
                    };
                    style::send(&mut sink, frame, &faults.style).await
                }
                None => break,
            },
            _ = ping => sink.send(Message::Ping("server".into())).await,
            () = &mut kick => {
                let close = CloseFrame {
                    code: CloseCode::Restart,
                    reason: "service restart".into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                break;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    scheduler.abort();
    if let Some(lane) = late_lane {
        lane.abort();
    }
}

/// Writes each frame of `rx` to `out` when its time is up, in the order they came.
async fn in_order(
    mut rx: mpsc::UnboundedReceiver<(Instant, String)>,
    out: mpsc::UnboundedSender<String>,
) {
    while let Some((at, frame)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if out.send(frame).is_err() {
            break;
        }
    }
}
