//! Which permessage-deflate offer the server accepts (RFC 7692 5, 7.1).
//!
//! A client's `Sec-WebSocket-Extensions` lists offers in its order of preference, over one
//! or several header lines. The server takes the first permessage-deflate offer it can keep
//! to and answers it with [`super::ANSWER`]: every offer can be answered with no context
//! takeover on both sides (RFC 7692 7.1.1.1, 7.1.1.2). An offer is declined (and the next
//! one tried) when it is invalid (an unknown parameter, one given twice, a value where none
//! is allowed or a window size outside 8 to 15) or asks for `server_max_window_bits` below 15:
//! the server compresses a broadcast once for every member, with one window.

use axum::http::{HeaderMap, header};

/// True when some offer in `headers` is accepted.
pub(crate) fn accept(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(acceptable)
}

/// One offer, `permessage-deflate` and its parameters.
fn acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return false;
    }
    let mut seen: Vec<&str> = Vec::new();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (part, None),
        };
        if seen.contains(&name) {
            return false;
        }
        seen.push(name);
        let ok = match (name, value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
            ("client_max_window_bits", None) => true,
            ("client_max_window_bits", Some(bits)) => window(bits).is_some(),
            ("server_max_window_bits", Some(bits)) => window(bits) == Some(15),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A window size as RFC 7692 7.1.2 allows it: 8 to 15, no leading zero.
fn window(value: &str) -> Option<u8> {
    if value.starts_with('0') {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn offers(lines: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_str(line).expect("a header value"),
            );
        }
        accept(&headers)
    }

    #[test]
    fn browsers_offers_are_accepted() {
        // Chromium, Firefox, and what Python's websockets offers.
        assert!(offers(&["permessage-deflate; client_max_window_bits"]));
        assert!(offers(&["permessage-deflate"]));
        assert!(offers(&[
            "permessage-deflate; server_max_window_bits=15; client_max_window_bits=\"12\""
        ]));
        assert!(offers(&[
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        ]));
    }

    #[test]
    fn invalid_or_unkeepable_offers_are_declined_and_the_next_is_tried() {
        assert!(!offers(&[]));
        assert!(!offers(&["x-webkit-deflate-frame"]));
        for bad in [
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=09",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; x_unknown",
        ] {
            assert!(!offers(&[bad]), "{bad}");
            assert!(
                offers(&[bad, "permessage-deflate"]),
                "{bad} then a plain offer"
            );
            assert!(
                offers(&[&format!("{bad}, permessage-deflate")]),
                "{bad}, then a plain offer on one line"
            );
        }
    }
}
