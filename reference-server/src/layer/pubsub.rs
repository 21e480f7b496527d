//! The two pub/sub formats a node speaks over Redis pub/sub (`layer::native` carries both):
//! how a room's channel is named and how a frame travels in it.
//!
//! - `native` (this server's own): channel `<prefix>:room:<room>`, the frame's exact bytes.
//! - `pubsub` (channels_redis's `RedisPubSubChannelLayer`, docs/channels-redis.md section 2):
//!   channel `asgi__group__chat_<room>` (the tutorial's group `chat_<room>`), the payload the
//!   plain msgpack map `{"type": "chat.message", "message": V}` with no prefix and no channel
//!   list; a payload from Django decodes to the exact bytes its consumer would write
//!   (`channels::codec`), so a node's own frames are recognised when they come back.

use protocol::RoomName;

use crate::frame::Frame;
use crate::layer::channels::codec::{self, CodecError};

/// A pub/sub format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// This server's own, under this channel prefix (`--redis-prefix`).
    Native(String),
    /// channels_redis's pub/sub layer, with its default prefix `asgi`.
    PubSub,
}

/// channels_redis's default channel prefix.
const ASGI: &str = "asgi";

impl Wire {
    /// Where `room`'s frames travel.
    pub fn room_channel(&self, room: &RoomName) -> String {
        format!("{}{room}", self.rooms_prefix())
    }

    /// The room a channel name is for, if it is a room's.
    pub fn room_of(&self, channel: &str) -> Option<RoomName> {
        channel
            .strip_prefix(&self.rooms_prefix())
            .and_then(|r| RoomName::parse(r).ok())
    }

    /// What every room channel's name starts with.
    fn rooms_prefix(&self) -> String {
        match self {
            Self::Native(prefix) => format!("{prefix}:room:"),
            Self::PubSub => format!("{ASGI}__group__chat_"),
        }
    }

    /// A new node's own channel, where its join markers travel: a name no Django process
    /// subscribes to in the pub/sub format (theirs are `asgispecific.<hex>`).
    pub fn node_channel(&self) -> String {
        let id = rand::random::<u64>();
        match self {
            Self::Native(prefix) => format!("{prefix}:node:{id:016x}"),
            Self::PubSub => format!("{ASGI}rustnode.{id:016x}"),
        }
    }

    /// The payload that carries `frame`.
    pub fn payload(&self, frame: &Frame) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Native(_) => Ok(frame.as_str().as_bytes().to_vec()),
            Self::PubSub => codec::encode_plain(frame.as_str()),
        }
    }

    /// The frame a payload carries; `None` if it carries none (counted as malformed).
    pub fn frame(&self, payload: &[u8]) -> Option<Frame> {
        match self {
            Self::Native(_) => std::str::from_utf8(payload).ok().map(Frame::from),
            Self::PubSub => codec::decode_plain(payload).ok().map(Frame::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pubsub_format_is_djangos() {
        let wire = Wire::PubSub;
        let room = RoomName::parse("lobby").expect("room");
        assert_eq!(wire.room_channel(&room), "asgi__group__chat_lobby");
        assert_eq!(wire.room_of("asgi__group__chat_lobby"), Some(room));
        assert_eq!(wire.room_of("asgispecific.0a1b"), None);
        assert!(wire.node_channel().starts_with("asgirustnode."));
        // Captured from Django (channels_redis 4.3.0, the tutorial's consumer): PUBLISH
        // asgi__group__chat_lobby with this payload; its frame is what Django writes.
        let django = b"\x82\xa4type\xacchat_message\xa7message\xaah\xc3\xa9llo \"x\"";
        let frame = wire.frame(django).expect("a frame");
        assert_eq!(frame.as_str(), r#"{"message": "h\u00e9llo \"x\""}"#);
        // Ours: the same map with chat.message, which Django's consumer takes alike.
        let ours = wire.payload(&frame).expect("encodes");
        assert_eq!(
            ours,
            b"\x82\xa4type\xacchat.message\xa7message\xaah\xc3\xa9llo \"x\"".to_vec()
        );
        let text = |f: Option<Frame>| f.map(|f| f.as_str().to_owned());
        assert_eq!(text(wire.frame(&ours)), Some(frame.as_str().to_owned()));
        assert_eq!(text(wire.frame(b"\xa2hi")), None, "not a map");
    }

    #[test]
    fn the_native_format_carries_the_frame_itself() {
        let wire = Wire::Native("chatharness".into());
        let room = RoomName::parse("lobby").expect("room");
        assert_eq!(wire.room_channel(&room), "chatharness:room:lobby");
        assert_eq!(wire.room_of("chatharness:room:lobby"), Some(room));
        let frame = Frame::from(r#"{"message": "hi"}"#);
        assert_eq!(
            wire.payload(&frame).expect("bytes"),
            br#"{"message": "hi"}"#
        );
        let text = |f: Option<Frame>| f.map(|f| f.as_str().to_owned());
        assert_eq!(
            text(wire.frame(br#"{"message": "hi"}"#)),
            Some(frame.as_str().to_owned())
        );
        assert_eq!(text(wire.frame(b"\xff")), None);
    }
}
