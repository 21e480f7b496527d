//! `--header` and `--cookie` reach the backend: a reference server that requires an Origin is
//! graded as conforming with the header, and refuses every join without it.

mod common;

use clap::Parser as _;
use conformance::cli::{Opts, run};

async fn grade(target: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--case", "broadcast", "--case", "life"];
    args.extend_from_slice(extra);
    grade_cases(target, &args).await
}

/// Grades only the cases of `section`.
async fn grade_only(target: &str, section: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--case", section];
    args.extend_from_slice(extra);
    grade_cases(target, &args).await
}

async fn grade_cases(target: &str, extra: &[&str]) -> serde_json::Value {
    common::grade_cli(target, extra).await
}

fn verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_owned(),
                c["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_cookies_go_with_every_handshake() {
    let mut config = reference_server::Config::local();
    config.allowed_origins = vec!["http://chat.example".into()];
    let server = reference_server::spawn(config).await.expect("server");
    let target = server.http_url();

    let with = grade(
        &target,
        &[
            "--header",
            "Origin: http://chat.example",
            "--cookie",
            "sessionid=abc",
        ],
    )
    .await;
    let graded = verdicts(&with);
    assert!(graded.len() >= 6, "{graded:?}");
    assert!(graded.iter().all(|(_, v)| v == "PASS"), "{graded:?}");

    let without = grade(&target, &["--cookie", "sessionid=abc"]).await;
    let graded = verdicts(&without);
    assert!(graded.iter().all(|(_, v)| v == "FAIL"), "{graded:?}");
    assert!(
        without.to_string().contains("403"),
        "the refusals say why: {without}"
    );
    server.stop().await.expect("stops");
}

#[test]
fn bad_headers_are_refused_with_a_reason() {
    let err = Opts::try_parse_from(["conformance", "--header", "no colon"])
        .expect_err("refused")
        .to_string();
    assert!(err.contains("write 'Name: value'"), "{err}");
    let err = Opts::try_parse_from(["conformance", "--header", "Bad Name: v"])
        .expect_err("refused")
        .to_string();
    assert!(err.contains("not a header name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_path_places_every_socket() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let target = server.http_url();

    // The reference server ignores the query: the template with one still conforms.
    let with_query = grade(&target, &["--ws-path", "/ws/chat/{room}/?token=abc"]).await;
    let graded = verdicts(&with_query);
    assert!(graded.len() >= 6, "{graded:?}");
    assert!(graded.iter().all(|(_, v)| v == "PASS"), "{graded:?}");

    // A path the backend does not serve: every join goes there, and is refused.
    let elsewhere = grade(&target, &["--ws-path", "/socket/{room}/"]).await;
    let graded = verdicts(&elsewhere);
    assert!(graded.iter().all(|(_, v)| v == "FAIL"), "{graded:?}");
    assert!(
        elsewhere.to_string().contains("/socket/"),
        "the evidence names the path: {elsewhere}"
    );
    server.stop().await.expect("stops");
}

#[test]
fn a_bad_ws_path_is_refused_with_a_reason() {
    for (path, why) in [
        ("ws/{room}/", "starts with '/'"),
        ("/ws/chat/", "exactly once"),
        ("/a b/{room}", "no spaces"),
    ] {
        let err = Opts::try_parse_from(["conformance", "--ws-path", path])
            .expect_err("refused")
            .to_string();
        assert!(err.contains(why), "{path}: {err}");
    }
}

#[tokio::test]
async fn rooms_cases_need_the_tutorials_path() {
    let opts = Opts::try_parse_from([
        "conformance",
        "--target",
        "http://127.0.0.1:9",
        "--case",
        "rooms",
        "--ws-path",
        "/socket/{room}/",
    ])
    .expect("valid flags");
    let err = run(opts).await.expect_err("nothing left to run");
    assert!(
        err.to_string()
            .contains("every selected case is one of rooms.*"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_rooms_pass_where_they_are_served_and_fail_where_refused() {
    // The fault server with no fault but any path accepted as a room.
    let faults = fault_server::Faults {
        accept_any_path: true,
        ..Default::default()
    };
    let open = fault_server::spawn(faults).await.expect("fault server");
    let report = grade(&format!("http://{}", open.addr), &["--room-style", "uuid"]).await;
    let graded = verdicts(&report);
    assert!(graded.len() >= 6, "{graded:?}");
    assert!(graded.iter().all(|(_, v)| v == "PASS"), "{graded:?}");

    // The rooms.* cases grade UUID rooms too: a backend that takes any path as a room
    // accepts UUIDs (valid-names passes) but also what a UUID route refuses (refused fails),
    // and the raw path is its room (percent-decoded fails);
    // case sensitivity, which a UUID route cannot have, is not run.
    let report = grade_only(
        &format!("http://{}", open.addr),
        "rooms",
        &["--room-style", "uuid"],
    )
    .await;
    let graded = verdicts(&report);
    let verdict = |id: &str| {
        graded
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(verdict("rooms.valid-names"), Some("PASS"), "{graded:?}");
    assert_eq!(verdict("rooms.query-ignored"), Some("PASS"), "{graded:?}");
    // Its room is the raw path, not decoded: %xx is another room.
    assert_eq!(verdict("rooms.percent-decoded"), Some("FAIL"), "{graded:?}");
    assert_eq!(verdict("rooms.refused"), Some("FAIL"), "{graded:?}");
    assert_eq!(verdict("rooms.case-sensitive"), None, "{graded:?}");

    // The reference server keeps the tutorial's \w rule: UUID rooms are refused.
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let report = grade(&server.http_url(), &["--room-style", "uuid"]).await;
    let graded = verdicts(&report);
    assert!(graded.iter().all(|(_, v)| v == "FAIL"), "{graded:?}");
    assert!(report.to_string().contains("404"), "{report}");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_leaves_cases_and_sections_out() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let report = grade_cases(
        &server.http_url(),
        &[
            "--profile",
            "all",
            "--case",
            "life",
            "--case",
            "slow",
            "--skip",
            "slow",
            "--skip",
            "life.no-compression",
        ],
    )
    .await;
    let ids: Vec<String> = verdicts(&report).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        ["life.ping-pong", "life.client-close", "life.no-subprotocol"],
        "{report}"
    );
    let opts = Opts::try_parse_from(["conformance", "--skip", "nonesuch"]).expect("flags");
    let err = run(opts).await.expect_err("an unknown case");
    assert!(
        err.to_string()
            .contains("no case or section named \"nonesuch\""),
        "{err}"
    );
}
