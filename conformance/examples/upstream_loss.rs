//! Reproduces, on purpose, the message loss of a mixed cluster (the Django tutorial and a
//! reference node on one Redis) and shows whose it is.
//!
//! ```sh
//! upstream_loss --django http://127.0.0.1:8000 --reference http://127.0.0.1:8001 \
//!     --redis 127.0.0.1:6379 --trials 100
//! ```
//!
//! Each trial, in a fresh room: A and B join on Django (one daphne process), C joins on the
//! reference node; A closes, and C sends at once. B should get C's message. Django loses it
//! in some trials: when a consumer disconnects, its `receive()` task may be blocked in
//! `BZPOPMIN` on the process queue; the task is cancelled, Redis still pops the next message
//! and hands it to a connection nobody reads (django/channels#1683, channels_redis#366).
//!
//! The reference node's side is checked, not assumed: C gets its own copy every time, and
//! Redis `MONITOR` shows every message handed to Django's process queue (the EVAL of
//! `group_send` naming an `asgispecific.` key with the message in its payload). Exit status 1
//! if the reference node lost anything; Django's loss is reported, not failed (it is upstream).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use conformance::target::Target;
use rawws::{Handshake, Ws};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Opts {
    /// The Django tutorial (Redis channel layer).
    #[arg(long)]
    django: String,
    /// A reference node in the channels_redis format on the same Redis.
    #[arg(long)]
    reference: String,
    /// The Redis both use, host:port.
    #[arg(long)]
    redis: String,
    #[arg(long, default_value_t = 100)]
    trials: usize,
}

const WAIT: Duration = Duration::from_secs(3);
/// How long B is given for C's message: the reference node publishes within milliseconds.
const DELIVERY_WAIT: Duration = Duration::from_secs(1);
/// How long the MONITOR connection gets to report the last commands.
const MONITOR_WAIT: Duration = Duration::from_secs(3);

async fn join(target: &Target, room: &str) -> anyhow::Result<Ws> {
    match Ws::handshake(
        target.addr,
        &target.authority,
        &format!("/ws/chat/{room}/"),
        "",
        WAIT,
    )
    .await?
    {
        Handshake::Accepted(ws) => Ok(ws),
        Handshake::Refused(r) => bail!("{room}: handshake refused with {}", r.status),
    }
}

/// The EVAL and EVALSHA lines Redis MONITOR prints, kept for the check at the end.
async fn monitor(redis: &str) -> anyhow::Result<Arc<Mutex<Vec<String>>>> {
    let mut stream = TcpStream::connect(redis)
        .await
        .with_context(|| format!("connect to Redis at {redis}"))?;
    stream.write_all(b"MONITOR\r\n").await?;
    let mut lines = BufReader::new(stream).lines();
    let first = lines
        .next_line()
        .await?
        .context("MONITOR answered nothing")?;
    if first != "+OK" {
        bail!("MONITOR refused: {first}");
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            // The redis crate runs scripts with EVALSHA (EVAL only on NOSCRIPT).
            if line.contains("\"EVALSHA\"") || line.contains("\"EVAL\"") {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        }
    });
    Ok(seen)
}

/// Messages of `texts` that a script call handed to a Django (`asgispecific.`) queue.
fn handed_to_django(lines: &[String], texts: &[String]) -> usize {
    texts
        .iter()
        .filter(|text| {
            lines
                .iter()
                .any(|l| l.contains("asgispecific.") && l.contains(text.as_str()))
        })
        .count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let django = Target::parse(&opts.django)?;
    let reference = Target::parse(&opts.reference)?;
    let monitor_lines = monitor(&opts.redis).await?;
    let tag: u32 = rand::random();

    let mut django_lost = Vec::new();
    let mut own_copies = 0;
    let mut texts = Vec::new();
    for trial in 0..opts.trials {
        let room = format!("upstream_{tag:08x}_{trial}");
        let mut a = join(&django, &room).await?;
        let mut c = join(&reference, &room).await?;
        let mut b = join(&django, &room).await?;
        let text = format!("trial {tag:08x} {trial}");
        let expected = format!(r#"{{"message": "{text}"}}"#);
        // A leaves, and C sends the moment Django has answered A's close: Django is then
        // cancelling A's receive task, whose BZPOPMIN may still be waiting in Redis.
        a.send_close(1000).await?;
        let _ = a.next(WAIT).await;
        c.send_text(&expected).await?;
        if c.recv_text(WAIT).await.as_deref() == Ok(expected.as_str()) {
            own_copies += 1;
        }
        if b.recv_text(DELIVERY_WAIT).await.as_deref() != Ok(expected.as_str()) {
            django_lost.push(trial);
        }
        texts.push(text);
        let _ = b.send_close(1000).await;
        let _ = c.send_close(1000).await;
    }
    // MONITOR lines trail the commands: wait until every message shows, or the bound.
    let deadline = tokio::time::Instant::now() + MONITOR_WAIT;
    let handed = loop {
        let handed = {
            let lines = monitor_lines.lock().unwrap_or_else(|p| p.into_inner());
            handed_to_django(&lines, &texts)
        };
        if handed == texts.len() || tokio::time::Instant::now() >= deadline {
            break handed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let n = opts.trials;
    println!(
        "upstream loss: Django lost {} of {n} messages ({:.1} %), trials {:?}",
        django_lost.len(),
        100.0 * django_lost.len() as f64 / n as f64,
        django_lost
    );
    println!(
        "reference node: its member got its own copy {own_copies} of {n}; \
         MONITOR shows {handed} of {n} handed to Django's process queue"
    );
    println!(
        "upstream: https://github.com/django/channels/issues/1683, \
         https://github.com/django/channels_redis/issues/366"
    );
    if own_copies != n || handed != n {
        bail!("the reference node lost messages: that is ours, not upstream's");
    }
    Ok(())
}
