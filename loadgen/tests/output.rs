//! The JSON result matches the committed schema; histograms decode and merge exactly; bad
//! plans are refused with a reason.

mod common;

use base64::Engine as _;
use clap::Parser as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use loadgen::Opts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_matches_the_schema_and_its_histograms_decode() {
    let r = common::run(&[
        "--rooms",
        "3",
        "--clients",
        "4",
        "--rate",
        "20",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--threshold",
        "p99<1s",
        // Lengths drawn per message, padded with words: recorded, and every delivery found.
        "--size",
        "lognormal:median=200,sigma=1,min=48,max=8000",
        "--text",
        "words",
    ])
    .await;
    assert_eq!(
        r.config.sizes.as_deref(),
        Some("lognormal:median=200,sigma=1,min=48,max=8000")
    );
    assert_eq!(
        (r.config.size, r.config.text.as_deref()),
        (48, Some("words"))
    );
    assert!(
        r.summary.sent > 0 && r.summary.missing == 0,
        "{:?}",
        r.summary
    );
    assert_eq!(r.summary.delivered, r.summary.sent * 4);
    assert!(r.thresholds.iter().all(|t| t.passed), "{:?}", r.thresholds);
    let json = serde_json::to_value(&r).expect("serialise");
    let errors = testkit::result_schema_errors(&json);
    assert!(errors.is_empty(), "{errors:#?}");

    let encoded = json["histograms"]["latency_us"]
        .as_str()
        .expect("histogram");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .expect("V2 histogram");
    assert_eq!(h.len(), r.summary.delivered);
    assert_eq!(h.value_at_quantile(0.99), r.summary.latency_us.p99);
}

#[test]
fn the_schema_rejects_a_broken_result() {
    let broken = serde_json::json!({ "schema_version": 1 });
    assert!(!testkit::result_schema_errors(&broken).is_empty());
}

async fn refused(args: &[&str]) -> String {
    let mut full = vec!["loadgen", "--quiet"];
    full.extend_from_slice(args);
    let opts = Opts::try_parse_from(full).expect("flags parse");
    loadgen::run(opts).await.expect_err("refused").to_string()
}

#[tokio::test]
async fn impossible_plans_are_refused_before_anything_starts() {
    assert!(
        refused(&["--clients", "2", "--senders", "3"])
            .await
            .contains("--senders 3")
    );
    assert!(refused(&["--size", "10"]).await.contains("too small"));
    let small = refused(&["--size", "uniform:10..40"]).await;
    assert!(
        small.contains("--size uniform:10..40 is too small"),
        "{small}"
    );
    let large = refused(&["--size", "weighted:64*1,100000000*1"]).await;
    assert!(large.contains("reaches 100000000 bytes"), "{large}");
    let too_many = refused(&["--rooms", "100000", "--clients", "100"]).await;
    assert!(too_many.contains("open files"), "{too_many}");
    let nobody = refused(&[
        "--target",
        "http://127.0.0.1:9",
        "--rooms",
        "1",
        "--clients",
        "2",
    ])
    .await;
    assert!(nobody.contains("no connection could be opened"), "{nobody}");
    let scheme = refused(&["--target", "ftp://127.0.0.1:9"]).await;
    assert!(scheme.contains("write http://host:port"), "{scheme}");
    let path = refused(&["--target", "http://127.0.0.1:9/ws/chat/"]).await;
    assert!(path.contains("no path please"), "{path}");
}

#[test]
fn bad_flags_are_refused_by_the_parser() {
    for args in [
        &["loadgen", "--shard", "2/2"][..],
        &["loadgen", "--threshold", "p99<25"],
        &["loadgen", "--rate", "0"],
        &["loadgen", "--duration", "soon"],
        &["loadgen", "--source-ip", "10.0.0.1"],
        &["loadgen", "--size", "lognormal:median=80"],
        &["loadgen", "--text", "lorem"],
    ] {
        let err = Opts::try_parse_from(args).expect_err("refused");
        assert!(!err.to_string().is_empty());
    }
}
