//! A client's text message -> the broadcast frame or the close code (`protocol::inbound`).
//! Never a panic; a frame is ASCII, within the limit, re-reads as itself, and holds the
//! input's `message` value; whatever serde_json accepts is accepted unless a limit refuses it.
#![no_main]

use chat_fuzz::json_equal;
use libfuzzer_sys::fuzz_target;
use protocol::inbound::DEFAULT_MAX_DEPTH;
use protocol::pyjson::JsonError;
use protocol::{DecodeError, Limits, broadcast_frame};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let result = broadcast_frame(data, &limits);
    // Small limits reach the size and depth refusals with small inputs.
    let small = Limits {
        max_message_bytes: 64,
        max_depth: 4,
    };
    if let Ok(frame) = broadcast_frame(data, &small) {
        assert!(frame.len() <= 64);
        assert_eq!(result.as_ref(), Ok(&frame));
    }
    let parsed: Result<Value, _> = serde_json::from_slice(data);
    // Where serde_json is narrower than Python's json: a lone surrogate escape, an integer
    // beyond a double's range (Python's int has up to 4,300 digits), its own depth count.
    let narrower = parsed.as_ref().err().is_some_and(|e| {
        let e = e.to_string();
        e.contains("surrogate")
            || e.contains("hex escape")
            || e.contains("number out of range")
            || e.contains("recursion")
    });
    let reference = parsed.ok();
    match &result {
        Ok(frame) => {
            assert!(frame.is_ascii());
            assert!(frame.len() <= limits.max_message_bytes);
            assert!(frame.starts_with("{\"message\": ") && frame.ends_with('}'));
            assert_eq!(
                broadcast_frame(frame.as_bytes(), &limits).as_ref(),
                Ok(frame)
            );
            match &reference {
                Some(input) => {
                    let out: Value = serde_json::from_str(frame).expect("the frame is JSON");
                    let message = input.get("message").expect("accepted without a message");
                    assert!(json_equal(message, &out["message"]), "{message} vs {frame}");
                }
                None => assert!(narrower, "accepted: {}", String::from_utf8_lossy(data)),
            }
        }
        Err(e) => {
            assert!(matches!(e.close_code(), 1007 | 1009));
            if let Some(Value::Object(map)) = &reference {
                if map.contains_key("message") {
                    assert!(
                        matches!(
                            e,
                            DecodeError::Json(
                                JsonError::NumberOutOfRange { .. }
                                    | JsonError::NonFinite { .. }
                                    | JsonError::TooDeep { .. }
                            ) | DecodeError::TooLarge { .. }
                                | DecodeError::OutgoingTooLarge { .. }
                        ),
                        "serde_json reads {data:?} but it is refused: {e}"
                    );
                    if matches!(e, DecodeError::Json(JsonError::TooDeep { .. })) {
                        assert!(depth(&Value::Object(map.clone())) > DEFAULT_MAX_DEPTH);
                    }
                }
            }
        }
    }
});

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
