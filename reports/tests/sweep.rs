//! Capacity searches through `reports`: a real sweep (loadgen --sweep against the fault
//! server with a known capacity) rendered as a curve and tables, compared on capacity (the
//! same sweep passes, one whose capacity fell fails), and clear errors for a mix of sweeps and
//! single runs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{reports, text};

use clap::Parser as _;

/// A three-step sweep against a fault server carrying 100 broadcasts a second, written to
/// `path`; returns its JSON.
async fn sweep_to(path: &Path) -> serde_json::Value {
    let server = fault_server::spawn(fault_server::Faults {
        max_broadcasts_per_s: Some(100.0),
        ..fault_server::Faults::default()
    })
    .await
    .expect("fault server");
    let url = server.url();
    let opts = loadgen::Opts::try_parse_from([
        "loadgen",
        "--target",
        &url,
        "--sweep",
        "--rate",
        "20",
        "--sweep-steps",
        "3",
        "--until",
        "p99<100ms",
        "--rooms",
        "2",
        "--clients",
        "3",
        "--duration",
        "1500ms",
        "--warmup",
        "500ms",
        "--settle",
        "1s",
        "--quiet",
    ])
    .expect("valid flags");
    let sweep = tokio::time::timeout(Duration::from_secs(60), loadgen::sweep::sweep(opts, |_| {}))
        .await
        .expect("in time")
        .expect("the sweep runs");
    let json = serde_json::to_value(&sweep).expect("serialise");
    std::fs::write(path, json.to_string()).expect("write");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_is_drawn_and_gated_on_its_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let base = sweep_to(Path::new(&p("base.json"))).await;
    let steps = base["steps"].as_array().expect("steps").len();
    assert_eq!(steps, 3, "{base}");
    // 20, 40 (80 broadcasts/s) hold; 80 (160/s) cannot.
    assert_eq!(base["capacity"]["rate"], 40.0, "{base}");

    let out = p("out");
    let run = reports(&["render", &p("base.json"), "--out", &out]);
    assert!(run.status.success(), "{}", text(&run));
    let md = std::fs::read_to_string(dir.path().join("out/capacity.md")).expect("capacity.md");
    assert!(
        md.contains("Capacity under p99<100ms and the core contract: **240 deliveries/s"),
        "{md}"
    );
    assert!(md.contains("broke: p99<100ms (was "), "{md}");
    let html = std::fs::read_to_string(dir.path().join("out/capacity.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("base p99") && html.contains("base p50"));
    assert!(!html.contains("<script"));

    // The same sweep against itself: no regression.
    let same = reports(&["compare", &p("base.json"), &p("base.json")]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("| capacity (deliveries/s) | 240 | 240 | +0.0 %"));
    // A sweep whose capacity fell to half: a regression.
    let mut worse = base.clone();
    worse["capacity"]["offered_per_s"] = 120.0.into();
    std::fs::write(p("worse.json"), worse.to_string()).unwrap();
    let fell = reports(&["compare", &p("base.json"), &p("worse.json")]);
    assert_eq!(fell.status.code(), Some(1), "{}", text(&fell));
    assert!(text(&fell).contains("-50.0 %") && text(&fell).contains("REGRESSION"));
    // ... allowed with a looser bound.
    let loose = reports(&[
        "compare",
        &p("base.json"),
        &p("worse.json"),
        "--max-capacity-drop",
        "60%",
    ]);
    assert_eq!(loose.status.code(), Some(0), "{}", text(&loose));

    // A single run where a sweep is expected, and the other way round.
    let single = serde_json::to_string(&base["steps"][0]["result"]).unwrap();
    std::fs::write(p("single.json"), single).unwrap();
    let mixed = reports(&["compare", &p("base.json"), &p("single.json")]);
    assert_ne!(mixed.status.code(), Some(0));
    assert!(
        text(&mixed).contains("single.json is a single run, not a capacity search"),
        "{}",
        text(&mixed)
    );
    let mixed = reports(&["compare", &p("single.json"), &p("base.json")]);
    assert_ne!(mixed.status.code(), Some(0));
    assert!(
        text(&mixed).contains("base.json is a capacity search (loadgen --sweep)"),
        "{}",
        text(&mixed)
    );
    // render takes both at once: the run's report and the sweep's.
    let both = reports(&[
        "render",
        &p("single.json"),
        &p("base.json"),
        "--out",
        &p("both"),
    ]);
    assert!(both.status.success(), "{}", text(&both));
    assert!(dir.path().join("both/report.html").exists());
    assert!(dir.path().join("both/capacity.html").exists());
}
