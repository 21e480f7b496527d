//! The tutorial's two pages, `/chat/` and `/chat/<room>/`, with Django's routing quirks:
//! any non-empty segment gets a room page (even a name the WebSocket will refuse), a missing
//! trailing slash is a 301, anything else is a 404.
//!
//! The pages are the tutorial's own templates, the very files the Django app in
//! `examples/django-tutorial` serves, with two changes made when first used: Django's
//! `{{ room_name|json_script:"room-name" }}` becomes the same `<script>` element, and the
//! seed's hard-coded `'ws://'` becomes `wss://` on a page served over https.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::percent_decode_str;
use protocol::pyjson::json_script_string;

const INDEX_HTML: &str =
    include_str!("../../examples/django-tutorial/app/chat/templates/chat/index.html");
const ROOM_TEMPLATE: &str =
    include_str!("../../examples/django-tutorial/app/chat/templates/chat/room.html");
const ROOM_NAME_TAG: &str = r#"{{ room_name|json_script:"room-name" }}"#;
const SEED_SCHEME: &str = "'ws://'";
const SCHEME: &str = "(window.location.protocol === 'https:' ? 'wss://' : 'ws://')";

/// The room page around its room name: before and after Django's `json_script` tag.
static ROOM_PAGE: LazyLock<(String, String)> = LazyLock::new(|| {
    let page = ROOM_TEMPLATE.replacen(SEED_SCHEME, SCHEME, 1);
    let (before, after) = page.split_once(ROOM_NAME_TAG).unwrap_or((&page, ""));
    (
        format!(r#"{before}<script id="room-name" type="application/json">"#),
        format!("</script>{after}"),
    )
});

fn room_page(name: &str) -> String {
    let (before, after) = &*ROOM_PAGE;
    format!("{before}{}{after}", json_script_string(name))
}

/// What a `/chat...` path resolves to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Page {
    Index,
    Room(String),
    /// Django's `APPEND_SLASH`: the path with a slash added resolves, so redirect there.
    AddSlash,
    NotFound,
}

/// Resolves a raw (still percent-encoded) path the way Django's URL resolver sees it.
pub(crate) fn resolve(raw_path: &str) -> Page {
    let Ok(path) = percent_decode_str(raw_path).decode_utf8() else {
        return Page::NotFound;
    };
    if path == "/chat" {
        return Page::AddSlash;
    }
    let Some(rest) = path.strip_prefix("/chat/") else {
        return Page::NotFound;
    };
    match rest.split_once('/') {
        None if rest.is_empty() => Page::Index,
        None => Page::AddSlash,
        Some((name, "")) if !name.is_empty() => Page::Room(name.to_owned()),
        Some(_) => Page::NotFound,
    }
}

pub(crate) fn respond(page: Page, raw_path: &str, query: Option<&str>) -> Response {
    match page {
        Page::Index => Html(INDEX_HTML).into_response(),
        Page::Room(name) => Html(room_page(&name)).into_response(),
        Page::AddSlash => {
            let location = match query {
                Some(q) => format!("{raw_path}/?{q}"),
                None => format!("{raw_path}/"),
            };
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Page::NotFound => not_found("Not Found"),
    }
}

/// A 404 with a one-line plain-text reason.
pub(crate) fn not_found(reason: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{reason}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_page_is_the_tutorial_template_with_its_two_changes() {
        let page = room_page("<b>");
        assert!(!page.contains("{{") && !page.contains("{%"), "{page}");
        assert!(page.contains(
            r#"<script id="room-name" type="application/json">"\u003Cb\u003E"</script>"#
        ));
        // SCHEME itself holds 'ws://' once, for http pages.
        assert!(page.contains(SCHEME) && page.matches(SEED_SCHEME).count() == 1);
        assert_eq!(
            page.len(),
            ROOM_TEMPLATE.len() - ROOM_NAME_TAG.len() - SEED_SCHEME.len()
                + SCHEME.len()
                + r#"<script id="room-name" type="application/json"></script>"#.len()
                + json_script_string("<b>").len()
        );
    }

    #[test]
    fn resolves_like_django() {
        assert_eq!(resolve("/chat/"), Page::Index);
        assert_eq!(resolve("/chat/lobby/"), Page::Room("lobby".into()));
        assert_eq!(resolve("/chat/a-b.c/"), Page::Room("a-b.c".into()));
        assert_eq!(resolve("/chat/%3Cb%3E/"), Page::Room("<b>".into()));
        assert_eq!(resolve("/chat/lobby"), Page::AddSlash);
        assert_eq!(resolve("/chat"), Page::AddSlash);
        assert_eq!(resolve("/chat/a/b/"), Page::NotFound);
        assert_eq!(resolve("/chat/a%2Fb/"), Page::NotFound);
        assert_eq!(resolve("/chat//"), Page::NotFound);
        assert_eq!(resolve("/"), Page::NotFound);
        assert_eq!(resolve("/chatroom/"), Page::NotFound);
    }
}
