//! docs/protocol.md section 1: the tutorial's pages, as Django serves them.

use super::{case, holds};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::HttpResponse;

pub(super) const CASES: &[Case] = &[
    case!("pages.index", Django, "GET /chat/ is the index page", index),
    case!(
        "pages.room",
        Django,
        "GET /chat/<room>/ is the room page with the name as json_script",
        room
    ),
    case!(
        "pages.room-escaping",
        Django,
        "a room named <b>&\"' is embedded as \\u003Cb\\u003E\\u0026\\\"'",
        room_escaping
    ),
    case!(
        "pages.add-slash",
        Django,
        "GET /chat/<room> is a 301 to /chat/<room>/",
        add_slash
    ),
    case!(
        "pages.not-found",
        Django,
        "/, /chat/a/b/ and a plain GET of /ws/chat/<room>/ are 404",
        not_found
    ),
    case!(
        "pages.security-headers",
        Django,
        "Django's four security headers are sent",
        security_headers
    ),
];

fn html(r: &HttpResponse, what: &str) -> Result<String, String> {
    if r.status != 200 {
        return Err(format!("{what}: HTTP {}", r.status));
    }
    let ct = r.header("content-type").unwrap_or_default();
    if ct != "text/html; charset=utf-8" {
        return Err(format!("{what}: Content-Type {ct:?}"));
    }
    Ok(r.body_text())
}

fn has_ids(body: &str, ids: &[&str], what: &str) -> Result<(), String> {
    for id in ids {
        if !body.contains(&format!("id=\"{id}\"")) {
            return Err(format!("{what}: no element #{id}"));
        }
    }
    Ok(())
}

async fn index(ctx: Ctx) -> CaseResult {
    let body = html(&ctx.get("/chat/").await?, "/chat/")?;
    has_ids(&body, &["room-name-input", "room-name-submit"], "/chat/")?;
    holds("index page with #room-name-input and #room-name-submit")
}

async fn room(ctx: Ctx) -> CaseResult {
    let name = ctx.room("page");
    let body = html(&ctx.get(&format!("/chat/{name}/")).await?, "room page")?;
    has_ids(
        &body,
        &["chat-log", "chat-message-input", "chat-message-submit"],
        "room page",
    )?;
    let script = format!(r#"<script id="room-name" type="application/json">"{name}"</script>"#);
    if !body.contains(&script) {
        return Err(format!("no {script}"));
    }
    holds("room page with the name embedded as json_script")
}

async fn room_escaping(ctx: Ctx) -> CaseResult {
    let body = html(&ctx.get("/chat/%3Cb%3E%26%22'/").await?, "room page")?;
    let script =
        r#"<script id="room-name" type="application/json">"\u003Cb\u003E\u0026\"'"</script>"#;
    if !body.contains(script) {
        return Err(format!("no {script}"));
    }
    holds("escaped as Django's json_script does")
}

async fn add_slash(ctx: Ctx) -> CaseResult {
    let name = ctx.room("slash");
    let r = ctx.get(&format!("/chat/{name}")).await?;
    let want = format!("/chat/{name}/");
    match (r.status, r.header("location")) {
        (301, Some(l)) if l == want || l.ends_with(&want) => holds(format!("301 to {l}")),
        (status, location) => Err(format!("HTTP {status}, Location {location:?}")),
    }
}

async fn not_found(ctx: Ctx) -> CaseResult {
    let ws_path = ctx.ws_target(&ctx.room("plain"));
    for target in ["/", "/chat/a/b/", ws_path.as_str()] {
        let r = ctx.get(target).await?;
        if r.status != 404 {
            return Err(format!("{target}: HTTP {}", r.status));
        }
    }
    holds("all 404")
}

async fn security_headers(ctx: Ctx) -> CaseResult {
    let r = ctx.get("/chat/").await?;
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        if r.header(name) != Some(value) {
            return Err(format!("{name}: {:?} (Django: {value})", r.header(name)));
        }
    }
    holds("X-Frame-Options, X-Content-Type-Options, Referrer-Policy, Cross-Origin-Opener-Policy")
}
