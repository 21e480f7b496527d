//! Whether the backend gives back what an attack took (`--server-metrics`): its open
//! descriptors (`process_open_fds`) and resident memory (`process_resident_memory_bytes`),
//! read once the probe room is served and before the attack, then polled after the case's
//! last connection has closed until both are back within their slack or [`WAIT`] has passed.
//! A figure the backend does not export is not checked; [`check`], before anything runs,
//! refuses an endpoint that does not answer or exports neither.

use std::time::{Duration, Instant};

use endpoint::metrics::{MetricsUrl, Scrape};

use crate::case::Ctx;

/// How long the figures may take to come back after the attack.
const WAIT: Duration = Duration::from_secs(10);
/// The pause between two scrapes while waiting.
const EVERY: Duration = Duration::from_millis(250);
/// How long one scrape may take.
const SCRAPE: Duration = Duration::from_secs(2);
/// How long the scrape before any case runs may take.
const FIRST_SCRAPE: Duration = Duration::from_secs(5);
/// Descriptors above the count before the attack that still count as back: a backend's own
/// housekeeping (a log file rotated, a connection to Redis reopened) is not a leak.
pub(crate) const FD_SLACK: f64 = 16.0;
/// Resident memory above the figure before the attack that still counts as back. An
/// allocator keeps some of what a burst took (glibc's arenas, a grown buffer pool: the
/// reference server keeps up to 5.5 MiB after the 500 idle connections); the floods send
/// 16 to 32 MiB each, so growth past this is most of a flood's bytes kept.
pub(crate) const MEMORY_SLACK: f64 = 16.0 * 1024.0 * 1024.0;

/// Before anything runs: the endpoint answers and exports at least one of the two figures.
pub(crate) async fn check(url: &MetricsUrl) -> Result<(), String> {
    let scrape = endpoint::metrics::scrape(url, FIRST_SCRAPE)
        .await
        .map_err(|e| format!("--server-metrics: {e}"))?;
    if scrape.open_fds.is_none() && scrape.resident_bytes.is_none() {
        return Err(format!(
            "--server-metrics: {} exports neither process_open_fds nor \
             process_resident_memory_bytes",
            url.url
        ));
    }
    Ok(())
}

/// The figures before the attack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Before(Scrape);

/// The figures before the attack, or `None` without `--server-metrics`.
pub(super) async fn before(ctx: &Ctx) -> Result<Option<Before>, String> {
    let Some(url) = &ctx.metrics else {
        return Ok(None);
    };
    let scrape = endpoint::metrics::scrape(url, SCRAPE)
        .await
        .map_err(|e| format!("--server-metrics before the attack: {e}"))?;
    Ok(Some(Before(scrape)))
}

/// Waits until the figures are back near `before`; says how they moved, or how far they
/// stayed from it.
pub(super) async fn back(ctx: &Ctx, before: &Before) -> Result<String, String> {
    let url = ctx
        .metrics
        .as_ref()
        .expect("figures before means an endpoint");
    let started = Instant::now();
    loop {
        let now = scrape_after(url).await?;
        let kept = kept(&before.0, &now);
        if kept.is_empty() {
            return Ok(format!(
                "{} back within {} ms",
                moved(&before.0, &now),
                started.elapsed().as_millis()
            ));
        }
        if started.elapsed() >= WAIT {
            return Err(format!(
                "{} {} s after the attack ({}; slack {FD_SLACK} descriptors, {} of memory)",
                kept.join(" and "),
                WAIT.as_secs(),
                moved(&before.0, &now),
                mib(MEMORY_SLACK)
            ));
        }
        tokio::time::sleep(EVERY).await;
    }
}

async fn scrape_after(url: &MetricsUrl) -> Result<Scrape, String> {
    endpoint::metrics::scrape(url, SCRAPE)
        .await
        .map_err(|e| format!("--server-metrics after the attack: {e}"))
}

/// What is still above its slack: the descriptors, the memory, or both.
fn kept(before: &Scrape, now: &Scrape) -> Vec<String> {
    let mut kept = Vec::new();
    if let (Some(b), Some(n)) = (before.open_fds, now.open_fds)
        && n > b + FD_SLACK
    {
        kept.push(format!("{} descriptors still open", n - b));
    }
    if let (Some(b), Some(n)) = (before.resident_bytes, now.resident_bytes)
        && n > b + MEMORY_SLACK
    {
        kept.push(format!("{} of memory still held", mib(n - b)));
    }
    kept
}

/// `descriptors 40 -> 41, memory 12.0 -> 13.1 MiB`, for what the backend exports.
fn moved(before: &Scrape, now: &Scrape) -> String {
    let mut parts = Vec::new();
    if let (Some(b), Some(n)) = (before.open_fds, now.open_fds) {
        parts.push(format!("descriptors {b} -> {n}"));
    }
    if let (Some(b), Some(n)) = (before.resident_bytes, now.resident_bytes) {
        parts.push(format!(
            "memory {:.1} -> {}",
            b / f64::from(1 << 20),
            mib(n)
        ));
    }
    parts.join(", ")
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / f64::from(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(fds: f64, mib: f64) -> Scrape {
        Scrape {
            open_fds: Some(fds),
            resident_bytes: Some(mib * f64::from(1 << 20)),
            ..Scrape::default()
        }
    }

    #[test]
    fn back_within_the_slack_and_kept_past_it() {
        let before = at(40.0, 20.0);
        assert!(kept(&before, &at(40.0 + FD_SLACK, 30.0)).is_empty());
        assert_eq!(
            kept(&before, &at(540.0, 20.0)),
            vec!["500 descriptors still open"]
        );
        assert_eq!(
            kept(&before, &at(30.0, 100.0)),
            vec!["80.0 MiB of memory still held"]
        );
        // A figure the backend does not export is not checked.
        let no_fds = Scrape {
            open_fds: None,
            ..at(0.0, 20.0)
        };
        assert!(kept(&no_fds, &at(9999.0, 20.0)).is_empty());
        assert_eq!(
            moved(&before, &at(41.0, 21.5)),
            "descriptors 40 -> 41, memory 20.0 -> 21.5 MiB"
        );
    }
}
