//! Proof that the figures are right: loadgen against servers with a known injected delay,
//! drop rate and duplication rate must report them; against the reference server, no loss.

mod common;

use std::time::Duration;

use fault_server::Faults;
use run_result::RunResult;

/// A small plan: rooms x clients (one sender each) at `rate` per room.
struct Load {
    rooms: u32,
    clients: u32,
    rate: u32,
    duration: &'static str,
    warmup: &'static str,
    settle: &'static str,
}

/// Small rooms at a moderate rate: thousands of deliveries for the rates below.
const TEN_BY_TEN: Load = Load {
    rooms: 10,
    clients: 10,
    rate: 100,
    duration: "3s",
    warmup: "200ms",
    settle: "500ms",
};

/// Four rooms of five: every member's latency readable one by one.
const FOUR_BY_FIVE: Load = Load {
    rooms: 4,
    clients: 5,
    rate: 20,
    duration: "2s",
    warmup: "300ms",
    settle: "1s",
};

/// Runs `load` against a fault server with `faults`.
async fn measure(faults: Faults, load: Load) -> RunResult {
    let server = fault_server::spawn(faults).await.expect("fault server");
    let (rooms, clients, rate) = (
        load.rooms.to_string(),
        load.clients.to_string(),
        load.rate.to_string(),
    );
    common::run(&[
        "--target",
        &server.url(),
        "--rooms",
        &rooms,
        "--clients",
        &clients,
        "--rate",
        &rate,
        "--duration",
        load.duration,
        "--warmup",
        load.warmup,
        "--settle",
        load.settle,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20ms_delay_gives_a_median_near_20ms() {
    let faults = Faults {
        delay: Duration::from_millis(20),
        ..Faults::default()
    };
    let r = measure(faults, FOUR_BY_FIVE).await;
    let s = &r.summary;
    assert_eq!(s.missing, 0, "{s:?}");
    assert_eq!(s.expected, s.sent * 5);
    let p50_ms = s.latency_us.p50 as f64 / 1000.0;
    // 20 ms held by the server, plus the timer's millisecond and loopback: never less than 20.
    assert!((20.0..26.0).contains(&p50_ms), "median {p50_ms} ms");
    assert!(s.latency_us.max >= 20_000);
    assert!(s.completion_us.p50 >= s.latency_us.p50);
}

/// A serial fan-out 10 ms a member: the first member has each message at once, the fifth
/// 40 ms later; the whole room waits for the fifth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staggered_fan_out_separates_the_first_member_from_the_whole_room() {
    let faults = Faults {
        stagger: Duration::from_millis(10),
        ..Faults::default()
    };
    let load = Load {
        rate: 10,
        ..FOUR_BY_FIVE
    };
    let r = measure(faults, load).await;
    let s = &r.summary;
    assert_eq!(s.missing, 0, "{s:?}");
    assert_eq!(s.first_us.count, s.sent, "one first delivery per message");
    let ms = |us: u64| us as f64 / 1000.0;
    assert!(ms(s.first_us.p50) < 6.0, "first member {:?}", s.first_us);
    assert!(
        (40.0..46.0).contains(&ms(s.completion_us.p50)),
        "whole room {:?}",
        s.completion_us
    );
    assert!(
        (20.0..26.0).contains(&ms(s.latency_us.p50)),
        "median member {:?}",
        s.latency_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_percent_drop_gives_loss_near_1_percent() {
    let faults = Faults {
        drop_rate: 0.01,
        seed: 7,
        ..Faults::default()
    };
    let r = measure(faults, TEN_BY_TEN).await;
    let s = &r.summary;
    // About 30,000 expected deliveries; 1 % is 300 +- 17 (one standard deviation).
    assert!(s.expected > 25_000, "{s:?}");
    assert!((0.007..0.013).contains(&s.loss), "loss {}", s.loss);
    assert_eq!(s.missing, s.expected - s.delivered);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.cross_room, 0);
    // A message someone missed never completes.
    assert!(s.completed_messages < s.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_percent_duplication_is_counted_and_is_not_loss() {
    let faults = Faults {
        dup_rate: 0.02,
        seed: 11,
        ..Faults::default()
    };
    let r = measure(faults, TEN_BY_TEN).await;
    let s = &r.summary;
    assert_eq!(s.missing, 0, "{s:?}");
    let rate = s.duplicates as f64 / s.delivered as f64;
    assert!((0.014..0.026).contains(&rate), "duplication {rate}");
    assert_eq!(s.reordered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_loses_nothing() {
    let r = common::run(&[
        "--rooms",
        "20",
        "--clients",
        "10",
        "--senders",
        "3",
        "--rate",
        "60",
        "--duration",
        "2s",
        "--warmup",
        "300ms",
        "--arrival",
        "poisson",
        "--threshold",
        "loss=0",
        "--threshold",
        "duplicates=0",
        "--threshold",
        "p50<1us",
    ])
    .await;
    let s = &r.summary;
    assert!(r.config.embedded_server);
    assert_eq!(s.connections.established, 200);
    assert!(s.sent > 100, "{s:?}");
    assert_eq!(
        (s.missing, s.duplicates, s.cross_room, s.reordered),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.delivered, s.sent * 10);
    assert_eq!(s.completed_messages, s.sent);
    // The first two hold, the impossible third does not; the core contract's defaults for
    // the metrics not named follow, and hold.
    let given: Vec<(&str, bool)> = r
        .thresholds
        .iter()
        .filter(|t| !t.default)
        .map(|t| (t.threshold.as_str(), t.passed))
        .collect();
    assert_eq!(
        given,
        [("loss=0", true), ("duplicates=0", true), ("p50<1us", false)]
    );
    let defaults: Vec<&str> = r
        .thresholds
        .iter()
        .filter(|t| t.default && t.passed)
        .map(|t| t.threshold.as_str())
        .collect();
    assert_eq!(
        defaults,
        [
            "reordered=0",
            "cross_room=0",
            "foreign=0",
            "outside=0",
            "causal_violations=0",
            "errors=0"
        ]
    );
    // The series covers the measured seconds and adds up.
    let series_deliveries: u64 = r.series.iter().map(|s| s.deliveries).sum();
    assert_eq!(series_deliveries, s.delivered);
    let series_sends: u64 = r.series.iter().map(|s| s.sends).sum();
    assert_eq!(series_sends, s.sent);
}
