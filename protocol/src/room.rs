//! Room names and the WebSocket path rule (docs/protocol.md section 2).
//!
//! The tutorial routes `^ws/chat/(\w+)/$` on the percent-decoded path and ignores the query
//! string; Django's real limit is 94 characters because the group name `chat_<room>` must stay
//! under 100. `\w` there also matches non-ASCII letters, which Django then fails on, so the
//! rule here is the one that works end to end: 1 to 94 of `[A-Za-z0-9_]`, case-sensitive.

use std::fmt;

use percent_encoding::percent_decode_str;

/// The longest room name Django's channel layer accepts.
pub const MAX_ROOM_LEN: usize = 94;

const PREFIX: &str = "/ws/chat/";

/// A valid room name: 1 to [`MAX_ROOM_LEN`] ASCII letters, digits or underscores.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

/// Why a path or name does not name a room. `Display` is the one-line reason the reference
/// server puts in its 404 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("the path must start with /ws/chat/")]
    NotChatPath,
    #[error("the path is not valid percent-encoded UTF-8")]
    BadEncoding,
    #[error("the room name is empty")]
    Empty,
    #[error("the path must end with a slash after the room name")]
    MissingTrailingSlash,
    #[error("the path has segments after the room name")]
    ExtraSegments,
    #[error("the room name has {len} characters; the limit is {MAX_ROOM_LEN}")]
    TooLong { len: usize },
    #[error("the room name contains {ch:?}; only A-Z, a-z, 0-9 and _ are allowed")]
    InvalidChar { ch: char },
}

impl RoomName {
    /// Checks `name` (already percent-decoded) against the room-name rule.
    pub fn parse(name: &str) -> Result<Self, RoomError> {
        if name.is_empty() {
            return Err(RoomError::Empty);
        }
        if let Some(ch) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(RoomError::InvalidChar { ch });
        }
        // All ASCII from here, so bytes are characters.
        if name.len() > MAX_ROOM_LEN {
            return Err(RoomError::TooLong { len: name.len() });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Parses a request target such as `/ws/chat/lobby/?x=1` into its room.
///
/// The query string is ignored and the path is percent-decoded before the rule is applied, so
/// `/ws/chat/%6Cobby/` is the room `lobby`.
pub fn parse_ws_path(target: &str) -> Result<RoomName, RoomError> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| RoomError::BadEncoding)?;
    let rest = decoded.strip_prefix(PREFIX).ok_or(RoomError::NotChatPath)?;
    let name = match rest.split_once('/') {
        Some((name, "")) => name,
        Some((_, _)) => return Err(RoomError::ExtraSegments),
        None if rest.is_empty() => return Err(RoomError::Empty),
        None => return Err(RoomError::MissingTrailingSlash),
    };
    RoomName::parse(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(target: &str) -> Result<String, RoomError> {
        parse_ws_path(target).map(|r| r.as_str().to_owned())
    }

    #[test]
    fn accepts_valid_names() {
        assert_eq!(room("/ws/chat/lobby/").as_deref(), Ok("lobby"));
        assert_eq!(room("/ws/chat/A_z09/").as_deref(), Ok("A_z09"));
        assert_eq!(room("/ws/chat/_/").as_deref(), Ok("_"));
        let max = "a".repeat(MAX_ROOM_LEN);
        assert_eq!(room(&format!("/ws/chat/{max}/")), Ok(max));
    }

    #[test]
    fn ignores_the_query_and_decodes_percent_escapes() {
        assert_eq!(room("/ws/chat/R/?q=1").as_deref(), Ok("R"));
        assert_eq!(room("/ws/chat/%6Cobby/").as_deref(), Ok("lobby"));
        assert_eq!(room("/ws/chat/lobby/?").as_deref(), Ok("lobby"));
    }

    #[test]
    fn names_are_case_sensitive() {
        assert_ne!(room("/ws/chat/Lobby/"), room("/ws/chat/lobby/"));
    }

    #[test]
    fn refuses_what_django_refuses() {
        assert_eq!(room("/ws/chat/lobby"), Err(RoomError::MissingTrailingSlash));
        assert_eq!(room("/ws/chat//"), Err(RoomError::Empty));
        assert_eq!(room("/ws/chat/"), Err(RoomError::Empty));
        assert_eq!(
            room("/ws/chat/a-b/"),
            Err(RoomError::InvalidChar { ch: '-' })
        );
        assert_eq!(
            room("/ws/chat/a.b/"),
            Err(RoomError::InvalidChar { ch: '.' })
        );
        assert_eq!(
            room("/ws/chat/한글/"),
            Err(RoomError::InvalidChar { ch: '한' })
        );
        assert_eq!(
            room("/ws/chat/%ED%95%9C/"),
            Err(RoomError::InvalidChar { ch: '한' })
        );
        let long = "a".repeat(MAX_ROOM_LEN + 1);
        assert_eq!(
            room(&format!("/ws/chat/{long}/")),
            Err(RoomError::TooLong { len: 95 })
        );
        assert_eq!(room("/ws/chat/a/b/"), Err(RoomError::ExtraSegments));
        assert_eq!(room("/ws/chat/a%2Fb/"), Err(RoomError::ExtraSegments));
        assert_eq!(room("/x/ws/chat/a/"), Err(RoomError::NotChatPath));
        assert_eq!(room("/ws/chat/%FF/"), Err(RoomError::BadEncoding));
        assert_eq!(room("/WS/chat/a/"), Err(RoomError::NotChatPath));
    }

    #[test]
    fn reasons_are_one_line() {
        for err in [
            RoomError::NotChatPath,
            RoomError::TooLong { len: 95 },
            RoomError::InvalidChar { ch: '\n' },
        ] {
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }
}
