//! What a client may send (docs/protocol.md section 3), the limits the reference server puts on it,
//! and the close code for every refusal (section 5).
//!
//! [`broadcast_frame`] is the whole inbound path: it validates a text frame as Python's
//! `json.loads` would, keeps the last `message` value, and returns the exact bytes of
//! `json.dumps({"message": value})` that every member of the room receives.

use crate::close;
use crate::pyjson::{JsonError, Transcoder};

/// The reference server's default size limit for one message, in and out (daphne's is 1 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The deepest nesting accepted, counting the `{"message": ...}` envelope as level 1.
/// Django manages 493 levels (memory layer) or 983 (Redis layer) before it fails with 1011;
/// 128 leaves the message value 127 levels, far beyond any chat payload, and keeps the
/// recursive reader's stack use small.
pub const DEFAULT_MAX_DEPTH: usize = 128;

const ENVELOPE_PREFIX: &str = "{\"message\": ";
const MESSAGE_KEY: &str = "\"message\"";

/// Limits applied to every inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest incoming text, and the largest outgoing frame, in bytes.
    pub max_message_bytes: usize,
    /// See [`DEFAULT_MAX_DEPTH`].
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why an inbound text frame is refused. `Display` is the close reason (one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty text frame")]
    Empty,
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    #[error("{0}")]
    Json(#[from] JsonError),
    #[error("the JSON is {found}, not an object")]
    NotObject { found: &'static str },
    #[error("the JSON object has no \"message\" key")]
    MissingMessage,
    #[error("message of {size} bytes is over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("the broadcast frame would be {size} bytes, over the {limit}-byte limit")]
    OutgoingTooLarge { size: usize, limit: usize },
}

impl DecodeError {
    /// The close code the reference server sends for this refusal.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooLarge { .. } | Self::OutgoingTooLarge { .. } => close::MESSAGE_TOO_BIG,
            _ => close::INVALID_PAYLOAD,
        }
    }

    /// A stable short name, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::Json(JsonError::Syntax { .. }) => "not_json",
            Self::Json(JsonError::NonFinite { .. }) => "non_finite",
            Self::Json(JsonError::NumberOutOfRange { .. }) => "number_out_of_range",
            Self::Json(JsonError::TooDeep { .. }) => "too_deep",
            Self::NotObject { .. } => "not_object",
            Self::MissingMessage => "missing_message",
            Self::TooLarge { .. } => "too_large",
            Self::OutgoingTooLarge { .. } => "outgoing_too_large",
        }
    }
}

/// Turns a client's text frame into the frame broadcast to the room.
///
/// Never panics, whatever the bytes. The result is ASCII and at most
/// `limits.max_message_bytes` long.
pub fn broadcast_frame(input: &[u8], limits: &Limits) -> Result<String, DecodeError> {
    if input.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge {
            size: input.len(),
            limit: limits.max_message_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| DecodeError::InvalidUtf8)?;
    if text.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut reader = Transcoder::new(text, limits.max_depth);
    let first = reader.peek_non_ws();
    if first != Some(b'{') {
        return Err(not_an_object(text, limits));
    }
    let mut out = String::with_capacity(input.len() + ENVELOPE_PREFIX.len() + 2);
    out.push_str(ENVELOPE_PREFIX);
    let found = envelope(&mut reader, &mut out)?;
    if !reader.at_end() {
        return Err(JsonError::Syntax {
            offset: reader.offset(),
            problem: "extra data after the JSON value",
        }
        .into());
    }
    if !found {
        return Err(DecodeError::MissingMessage);
    }
    out.push('}');
    if out.len() > limits.max_message_bytes {
        return Err(DecodeError::OutgoingTooLarge {
            size: out.len(),
            limit: limits.max_message_bytes,
        });
    }
    Ok(out)
}

/// Reads the top-level object. Only the value of the last `message` key is kept in `out`
/// (after the envelope prefix); every other value is read, checked, and dropped.
fn envelope(reader: &mut Transcoder<'_>, out: &mut String) -> Result<bool, DecodeError> {
    reader.expect(b'{', "expected an object")?;
    reader.enter()?;
    let mut key = String::new();
    let mut found = false;
    if reader.peek_non_ws() == Some(b'}') {
        reader.expect(b'}', "expected '}'")?;
        return Ok(false);
    }
    loop {
        if reader.peek_non_ws() != Some(b'"') {
            reader.expect(b'"', "expected a string key")?;
        }
        key.clear();
        reader.string(&mut key)?;
        reader.expect(b':', "expected ':'")?;
        if key == MESSAGE_KEY {
            // A later `message` replaces an earlier one, as in a Python dict.
            out.truncate(ENVELOPE_PREFIX.len());
            reader.value(out)?;
            found = true;
        } else {
            let mark = out.len();
            reader.value(out)?;
            out.truncate(mark);
        }
        match reader.peek_non_ws() {
            Some(b',') => reader.expect(b',', "expected ','")?,
            Some(b'}') => {
                reader.expect(b'}', "expected '}'")?;
                break;
            }
            _ => reader.expect(b'}', "expected ',' or '}'")?,
        }
    }
    reader.leave();
    Ok(found)
}

/// Names what a non-object input is, or why it is not JSON at all.
fn not_an_object(text: &str, limits: &Limits) -> DecodeError {
    let mut reader = Transcoder::new(text, limits.max_depth);
    let found = match reader.peek_non_ws() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "",
    };
    let mut scratch = String::new();
    match reader.value(&mut scratch) {
        Err(e) => e.into(),
        Ok(()) if !reader.at_end() => JsonError::Syntax {
            offset: reader.offset(),
            problem: "extra data after the JSON value",
        }
        .into(),
        Ok(()) => DecodeError::NotObject { found },
    }
}
