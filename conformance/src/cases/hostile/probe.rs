//! The healthy probe room a hostile case is graded by: two members, one sending a message
//! every [`EVERY`], each of which both must get within [`BOUND`], during the attack and after
//! it. A backend that one hostile client can stall fails here, whatever the attack itself saw.
//! Before the attack the room must be served once, which a backend still busy with the case
//! before gets [`RECOVERY`] to do.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::super::{expect_message, say};
use crate::case::Ctx;
use crate::wire::Ws;

/// How often the probe sends.
const EVERY: Duration = Duration::from_millis(200);
/// How long a probe message may take to reach both members.
pub(super) const BOUND: Duration = Duration::from_secs(2);
/// Probe messages after the attack has stopped.
const AFTER: usize = 3;
/// How long the probe room may take to be served before the attack starts: a backend still
/// busy with the case before it gets this long to recover, so that each case grades its own
/// attack.
const RECOVERY: Duration = Duration::from_secs(10);
/// The pause between two tries to open the probe room before the attack.
const RETRY: Duration = Duration::from_millis(250);

/// The probe room, running.
pub(super) struct Probe {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<Rounds, String>>,
    /// How long the room took to be served before the attack, when the first try failed.
    recovered_after: Option<Duration>,
}

/// What the probe saw in one phase.
#[derive(Debug, Default)]
struct Rounds {
    messages: usize,
    slowest: Duration,
}

impl Probe {
    /// Opens the probe room, waiting up to [`RECOVERY`] until one message of it reaches
    /// both members within [`BOUND`], and starts sending.
    pub(super) async fn start(ctx: &Ctx) -> Result<Self, String> {
        let started = Instant::now();
        let mut tries = 0;
        let mut members = loop {
            tries += 1;
            match ready(ctx).await {
                Ok(members) => break members,
                Err(_) if started.elapsed() < RECOVERY => tokio::time::sleep(RETRY).await,
                Err(e) => {
                    return Err(format!(
                        "before the attack, the probe room was not served for {} s (the \
                         backend had not recovered from what came before): {e}",
                        RECOVERY.as_secs()
                    ));
                }
            }
        };
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut rounds = Rounds::default();
            while !*stopped.borrow() {
                round(&mut members, &mut rounds, "during the attack").await?;
                let _ = tokio::time::timeout(EVERY, stopped.changed()).await;
            }
            // Handed back through the rounds' evidence: the members stay open for the rest.
            let mut after = Rounds::default();
            for _ in 0..AFTER {
                round(&mut members, &mut after, "after the attack").await?;
            }
            Ok(Rounds {
                messages: rounds.messages,
                slowest: rounds.slowest.max(after.slowest),
            })
        });
        Ok(Self {
            stop,
            task,
            recovered_after: (tries > 1).then(|| started.elapsed()),
        })
    }

    /// Stops the attack phase, runs the rounds after it and says what the probe saw.
    pub(super) async fn finish(self) -> Result<String, String> {
        let _ = self.stop.send(true);
        let rounds = self
            .task
            .await
            .map_err(|e| format!("the probe room's task failed: {e}"))??;
        let waited = self.recovered_after.map_or_else(String::new, |d| {
            format!(
                " (before the attack it was served only after {} ms: the backend was still \
                 busy)",
                d.as_millis()
            )
        });
        Ok(format!(
            "the probe room got all {} of its messages during the attack and {AFTER} after, \
             the slowest in {} ms (bound {} ms){waited}",
            rounds.messages,
            rounds.slowest.as_millis(),
            BOUND.as_millis()
        ))
    }
}

/// The probe room's two members, once a message of it has reached both.
async fn ready(ctx: &Ctx) -> Result<(Ws, Ws), String> {
    let room = ctx.room("probe");
    let mut members = (ctx.join(&room).await?, ctx.join(&room).await?);
    round(&mut members, &mut Rounds::default(), "before the attack").await?;
    Ok(members)
}

/// One probe message, sent by the first member, which both must get within [`BOUND`].
async fn round(members: &mut (Ws, Ws), rounds: &mut Rounds, phase: &str) -> Result<(), String> {
    let text = format!("probe {} {phase}", rounds.messages);
    let started = Instant::now();
    say(&mut members.0, &text)
        .await
        .map_err(|e| format!("the probe room's sender, {phase}: {e}"))?;
    let want = serde_json::json!(text);
    for (who, ws) in [("sender", &mut members.0), ("listener", &mut members.1)] {
        let left = BOUND.saturating_sub(started.elapsed());
        expect_message(ws, &format!("the probe room's {who}, {phase}"), &want, left)
            .await
            .map_err(|e| format!("{e} (message {:?}, bound {} ms)", text, BOUND.as_millis()))?;
    }
    rounds.messages += 1;
    rounds.slowest = rounds.slowest.max(started.elapsed());
    Ok(())
}
