//! The tutorial's two pages, `/chat/` and `/chat/<room>/`, with Django's routing quirks:
//! any non-empty segment gets a room page (even a name the WebSocket will refuse), a missing
//! trailing slash is a 301, anything else is a 404.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::percent_decode_str;
use protocol::pyjson::json_script_string;

const INDEX_HTML: &str = include_str!("pages/index.html");
const ROOM_HTML: &str = include_str!("pages/room.html");
const ROOM_NAME_SLOT: &str = "{{ROOM_NAME_JSON}}";

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
        Page::Room(name) => {
            Html(ROOM_HTML.replace(ROOM_NAME_SLOT, &json_script_string(&name))).into_response()
        }
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
