//! Deployment options against a real reference server: extra headers reach the backend (an
//! Origin it requires), refusals are reported by status and reason, `--ws-path` places the
//! socket, and `--room-style uuid` names rooms the tutorial's rule refuses.

mod common;

use reference_server::{Config, RunningServer};

async fn server_requiring_origin() -> RunningServer {
    let mut config = Config::local();
    config.allowed_origins = vec!["http://chat.example".into()];
    reference_server::spawn(config)
        .await
        .expect("server starts")
}

async fn run_with(target: &str, extra: &[&str]) -> loadgen::RunResult {
    common::run(&common::small_plan(target, extra)).await
}

/// A run in which no connection opens: loadgen's error, as the user reads it.
async fn refused_with(target: &str, extra: &[&str]) -> String {
    common::run_err(&common::small_plan(target, extra)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_reaches_the_backend_and_a_refusal_says_why() {
    let server = server_requiring_origin().await;
    let target = format!("http://{}", server.addr);

    let allowed = run_with(&target, &["--header", "Origin: http://chat.example"]).await;
    let s = &allowed.summary;
    assert_eq!(s.connections.established, 6, "{:?}", s.errors);
    assert!(s.delivered > 0 && s.missing == 0, "{s:?}");
    assert_eq!(
        allowed.config.headers,
        ["origin"],
        "names only, never values"
    );

    let refused = refused_with(&target, &["--header", "Origin: http://evil.example"]).await;
    assert!(
        refused.ends_with(": 6 x handshake: HTTP 403 (Origin not allowed)"),
        "{refused}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_path_and_room_style_shape_the_handshake() {
    let server = reference_server::spawn(Config::local())
        .await
        .expect("server starts");
    let target = format!("http://{}", server.addr);

    // The reference server ignores the query: the template's query goes along and works.
    let query = run_with(&target, &["--ws-path", "/ws/chat/{room}/?token=abc"]).await;
    assert_eq!(query.summary.connections.established, 6);
    assert_eq!(query.config.ws_path, "/ws/chat/{room}/?token=abc");

    // A path the backend does not serve: every handshake refused, and counted as such.
    let elsewhere = refused_with(&target, &["--ws-path", "/socket/{room}"]).await;
    assert!(
        elsewhere.contains(": 6 x handshake: HTTP 404"),
        "{elsewhere}"
    );

    // UUID rooms: the reference server keeps the tutorial's \w rule, so it refuses them.
    let uuid = refused_with(&target, &["--room-style", "uuid"]).await;
    assert!(
        uuid.ends_with(
            ": 6 x handshake: HTTP 404 (the room name contains '-'; only A-Z, a-z, 0-9 and _ \
             are allowed)"
        ),
        "{uuid}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_rooms_work_where_the_backend_accepts_them() {
    // The fault server with no fault but any path accepted as a room.
    let faults = fault_server::Faults {
        accept_any_path: true,
        ..Default::default()
    };
    let server = fault_server::spawn(faults)
        .await
        .expect("fault server starts");
    let target = format!("http://{}", server.addr);
    let r = run_with(&target, &["--room-style", "uuid"]).await;
    assert_eq!(
        r.summary.connections.established, 6,
        "{:?}",
        r.summary.errors
    );
    assert!(r.summary.delivered > 0 && r.summary.missing == 0);
    assert_eq!(r.summary.cross_room, 0);
    assert_eq!(r.config.room_style, "uuid");
}
