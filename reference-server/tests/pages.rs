//! docs/protocol.md section 1: the two pages, redirects, 404s and security headers.

mod common;

use common::{get, server};

fn assert_security_headers(r: &common::HttpResponse) {
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
}

#[tokio::test]
async fn index_page_has_the_tutorial_elements() {
    let s = server().await;
    let r = get(s.addr, "/chat/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    for id in ["room-name-input", "room-name-submit"] {
        assert!(r.body.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    assert!(r.body.contains("'/chat/' + roomName + '/'"));
    assert_security_headers(&r);
}

#[tokio::test]
async fn room_page_embeds_the_name_like_json_script() {
    let s = server().await;
    let r = get(s.addr, "/chat/lobby/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        r.body
            .contains(r#"<script id="room-name" type="application/json">"lobby"</script>"#)
    );
    for id in ["chat-log", "chat-message-input", "chat-message-submit"] {
        assert!(r.body.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    assert!(r.body.contains("'wss://' : 'ws://'"));
    assert_security_headers(&r);

    // Any segment gets a page, even one the WebSocket refuses; markup is escaped as Django does.
    let r = get(s.addr, "/chat/%3Cb%3E%26%22'/").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(
        r#"<script id="room-name" type="application/json">"\u003Cb\u003E\u0026\"'"</script>"#
    ));
    let r = get(s.addr, "/chat/%ED%95%9C/").await;
    assert!(r.body.contains(r#">"\ud55c"</script>"#));
}

#[tokio::test]
async fn missing_slash_redirects_permanently() {
    let s = server().await;
    let r = get(s.addr, "/chat/lobby").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/chat/lobby/"));
    let r = get(s.addr, "/chat/lobby?x=1").await;
    assert_eq!(r.header("location"), Some("/chat/lobby/?x=1"));
    let r = get(s.addr, "/chat").await;
    assert_eq!((r.status, r.header("location")), (301, Some("/chat/")));
}

#[tokio::test]
async fn everything_else_is_404() {
    let s = server().await;
    for target in [
        "/",
        "/chat/a/b/",
        "/chat/a/b",
        "/ws/chat/lobby/",
        "/favicon.ico",
    ] {
        let r = get(s.addr, target).await;
        assert_eq!(r.status, 404, "{target}");
        assert_security_headers(&r);
    }
}

#[tokio::test]
async fn health_and_metrics() {
    let s = server().await;
    let r = get(s.addr, "/healthz").await;
    assert_eq!(r.status, 200);
    let health: serde_json::Value = serde_json::from_str(&r.body).expect("JSON health");
    assert_eq!(health["status"], "ok");

    let r = get(s.addr, "/metrics").await;
    assert_eq!(r.status, 200);
    for name in [
        "chat_open_connections",
        "chat_rooms",
        "chat_messages_received_total",
        "chat_frames_delivered_total",
        "chat_slow_member_closes_total",
    ] {
        assert!(r.body.contains(name), "missing {name} in\n{}", r.body);
    }
}
