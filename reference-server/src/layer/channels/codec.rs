//! The payload of Django's `RedisChannelLayer` (channels_redis 4.x, `docs/channels-redis.md`):
//! 12 random bytes, then a msgpack map `{"type": "chat.message", "message": V,
//! "__asgi_channel__": [member names]}`, strings as msgpack str. Decoding turns V back into the
//! exact bytes Django's consumer would write: `json.dumps({"message": V})`.

use std::collections::HashMap;
use std::fmt::Write as _;

use protocol::pyjson;
use rmpv::Value;

/// channels_redis's `random_prefix_length` default.
pub const RANDOM_PREFIX: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("shorter than the random prefix")]
    Short,
    #[error("not msgpack: {0}")]
    Msgpack(String),
    #[error("not a map")]
    NotMap,
    #[error("type {0:?} is not chat.message")]
    Type(String),
    #[error("no message")]
    NoMessage,
    #[error("the message holds a value JSON cannot: {0}")]
    NotJson(&'static str),
    #[error("the frame is not {{\"message\": ...}} JSON")]
    Frame,
    #[error("{0} bytes after the msgpack value")]
    ExtraData(usize),
    #[error("nested deeper than {MAX_FRAME_DEPTH} levels")]
    TooDeep,
}

/// The deepest frame [`encode`] takes, twice what the inbound path lets a client send (its
/// depth limit, 128 with the frame's own object): the bound keeps the recursive parse well
/// inside a thread's stack. A payload from another node may nest deeper (msgpack decoding
/// allows 1,024 levels); such a frame is delivered here but never encoded again.
pub const MAX_FRAME_DEPTH: usize = 2 * protocol::inbound::DEFAULT_MAX_DEPTH;

/// A decoded group message: the frame for the members, and which member names it is for.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub frame: String,
    pub channels: Vec<String>,
}

/// Encodes a `group_send` payload for the members in `channels`, from a broadcast frame.
pub fn encode(frame: &str, channels: &[String]) -> Result<Vec<u8>, CodecError> {
    let mut map = message_map(frame)?;
    map.push((
        Value::from("__asgi_channel__"),
        Value::Array(channels.iter().map(|c| Value::from(c.as_str())).collect()),
    ));
    let mut out: Vec<u8> = (0..RANDOM_PREFIX).map(|_| rand::random::<u8>()).collect();
    rmpv::encode::write_value(&mut out, &Value::Map(map))
        .map_err(|e| CodecError::Msgpack(e.to_string()))?;
    Ok(out)
}

/// Encodes the payload of the pub/sub layer (`RedisPubSubChannelLayer`): the message map
/// alone, with no random prefix and no channel list.
pub fn encode_plain(frame: &str) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &Value::Map(message_map(frame)?))
        .map_err(|e| CodecError::Msgpack(e.to_string()))?;
    Ok(out)
}

/// `{"type": "chat.message", "message": V}` for a broadcast frame `{"message": V}`.
fn message_map(frame: &str) -> Result<Vec<(Value, Value)>, CodecError> {
    if depth(frame) > MAX_FRAME_DEPTH {
        return Err(CodecError::TooDeep);
    }
    // serde_json's own limit (128 levels) is below a client's deepest frame; ours holds.
    let mut reader = serde_json::Deserializer::from_str(frame);
    reader.disable_recursion_limit();
    let parsed = serde::Deserialize::deserialize(&mut reader)
        .and_then(|v: serde_json::Value| reader.end().map(|()| v))
        .map_err(|_| CodecError::Frame)?;
    let message = parsed.get("message").ok_or(CodecError::Frame)?;
    Ok(vec![
        (Value::from("type"), Value::from("chat.message")),
        (Value::from("message"), from_json(message)),
    ])
}

/// How deeply arrays and objects nest in the JSON text `s` (brackets inside strings aside).
fn depth(s: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in s.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                // Integers beyond 64 bits arrive here as floats: msgpack cannot carry them.
                Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// Decodes a payload popped from a channel queue.
pub fn decode(payload: &[u8]) -> Result<Decoded, CodecError> {
    decode_body(payload.get(RANDOM_PREFIX..).ok_or(CodecError::Short)?)
}

/// Decodes a payload of the pub/sub layer (no prefix): the frame.
pub fn decode_plain(payload: &[u8]) -> Result<String, CodecError> {
    decode_body(payload).map(|d| d.frame)
}

/// The msgpack map after any prefix.
fn decode_body(mut body: &[u8]) -> Result<Decoded, CodecError> {
    let value =
        rmpv::decode::read_value(&mut body).map_err(|e| CodecError::Msgpack(e.to_string()))?;
    if !body.is_empty() {
        return Err(CodecError::ExtraData(body.len()));
    }
    let Value::Map(entries) = value else {
        return Err(CodecError::NotMap);
    };
    let entries = python_dict(&entries)?;
    let get = |key: &str| entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    match get("type").and_then(Value::as_str) {
        Some("chat.message" | "chat_message") => {}
        other => return Err(CodecError::Type(other.unwrap_or("").into())),
    }
    let message = get("message").ok_or(CodecError::NoMessage)?;
    let mut frame = String::from("{\"message\": ");
    write_python_json(message, &mut frame)?;
    frame.push('}');
    let channels = match get("__asgi_channel__") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s.as_str().map(|s| vec![s.to_owned()]).unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(Decoded { frame, channels })
}

/// Writes `v` as Python's `json.dumps` would (what Django's consumer sends).
fn write_python_json(v: &Value, out: &mut String) -> Result<(), CodecError> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::F32(x) => write_finite(f64::from(*x), out)?,
        Value::F64(x) => write_finite(*x, out)?,
        Value::String(s) => match s.as_str() {
            Some(s) => pyjson::write_str(s, out),
            None => return Err(CodecError::NotJson("a string that is not UTF-8")),
        },
        Value::Binary(_) => return Err(CodecError::NotJson("bytes")),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out)?;
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (key, item)) in python_dict(entries)?.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                pyjson::write_str(key, out);
                out.push_str(": ");
                write_python_json(item, out)?;
            }
            out.push('}');
        }
        Value::Ext(..) => return Err(CodecError::NotJson("a msgpack extension")),
    }
    Ok(())
}

/// A msgpack map as Python's `msgpack.unpackb(raw=False, strict_map_key=True)` makes it a
/// dict: keys are strings, and of a repeated key the last value counts, at the first key's
/// place. Linear in the entries (a hostile map may have many).
fn python_dict(entries: &[(Value, Value)]) -> Result<Vec<(&str, &Value)>, CodecError> {
    let mut dict: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for (k, v) in entries {
        let key = k
            .as_str()
            .ok_or(CodecError::NotJson("a map key that is not a string"))?;
        match at.get(key) {
            Some(&i) => dict[i].1 = v,
            None => {
                at.insert(key, dict.len());
                dict.push((key, v));
            }
        }
    }
    Ok(dict)
}

fn write_finite(x: f64, out: &mut String) -> Result<(), CodecError> {
    if !x.is_finite() {
        return Err(CodecError::NotJson("NaN or Infinity"));
    }
    pyjson::write_float(x, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// The payload docs/channels-redis.md captured from Django's group_send of "hi".
    #[test]
    fn decodes_the_captured_django_payload() {
        let payload = hex(
            "9a775a689c65341f400be4fe 83 a4 74797065 ac 636861742e6d657373616765 \
             a7 6d657373616765 a2 6869 b0 5f5f617367695f6368616e6e656c5f5f 91 \
             bf 727573746e6f64652e30313233343536373839616263646566216c6f626279",
        );
        assert_eq!(
            decode(&payload),
            Ok(Decoded {
                frame: r#"{"message": "hi"}"#.into(),
                channels: vec!["rustnode.0123456789abcdef!lobby".into()],
            })
        );
    }

    #[test]
    fn encodes_what_django_sends_after_the_prefix() {
        let member = format!("specific.{}!{}", "a".repeat(32), "b".repeat(32));
        let payload =
            encode(r#"{"message": "hi"}"#, std::slice::from_ref(&member)).expect("encode");
        let mut want = hex(
            "83 a4 74797065 ac 636861742e6d657373616765 a7 6d657373616765 a2 6869 \
             b0 5f5f617367695f6368616e6e656c5f5f 91 d9 4a",
        );
        want.extend_from_slice(member.as_bytes());
        assert_eq!(&payload[RANDOM_PREFIX..], want.as_slice());
    }

    #[test]
    fn values_round_trip_to_pythons_bytes() {
        for frame in [
            r#"{"message": {"a": 1, "b": [1.5, null, true, "\ud55c"]}}"#,
            // Key order is kept, as a Python dict keeps it.
            r#"{"message": {"z": 1, "a": 2}}"#,
            r#"{"message": -0.0}"#,
            r#"{"message": 1e+16}"#,
            r#"{"message": 18446744073709551615}"#,
        ] {
            let payload = encode(frame, &["x.y!z".into()]).expect("encode");
            assert_eq!(decode(&payload).expect("decode").frame, frame);
        }
    }

    #[test]
    fn the_deepest_message_a_client_may_send_encodes_and_decodes() {
        let limits = protocol::Limits::default();
        let deepest = (1..)
            .map(|depth| {
                format!(
                    "{{\"message\": {}1{}}}",
                    "[".repeat(depth),
                    "]".repeat(depth)
                )
            })
            .take_while(|m| protocol::broadcast_frame(m.as_bytes(), &limits).is_ok())
            .last()
            .expect("a flat message is accepted");
        let frame = protocol::broadcast_frame(deepest.as_bytes(), &limits).expect("accepted");
        let payload = encode(&frame, &["x.y!z".into()]).expect("encode");
        assert_eq!(decode(&payload).expect("decode").frame, frame.as_str());
        assert!(depth(&frame) <= MAX_FRAME_DEPTH);
        // Deeper (a payload from another node may be): refused as such, brackets in strings
        // aside.
        let too_deep = format!(
            "{{\"message\": [\"[{{\", {}1{}]}}",
            "[".repeat(MAX_FRAME_DEPTH - 1),
            "]".repeat(MAX_FRAME_DEPTH - 1)
        );
        assert_eq!(depth(&too_deep), MAX_FRAME_DEPTH + 1);
        assert_eq!(encode(&too_deep, &[]), Err(CodecError::TooDeep));
    }

    #[test]
    fn refuses_what_django_would_choke_on() {
        assert_eq!(decode(b"short"), Err(CodecError::Short));
        let mut wrong_type = vec![0u8; RANDOM_PREFIX];
        rmpv::encode::write_value(
            &mut wrong_type,
            &Value::Map(vec![
                (Value::from("type"), Value::from("other")),
                (Value::from("message"), Value::from("x")),
            ]),
        )
        .expect("encode");
        assert_eq!(decode(&wrong_type), Err(CodecError::Type("other".into())));
    }
    fn payload(map: Vec<(Value, Value)>, trailing: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; RANDOM_PREFIX];
        rmpv::encode::write_value(&mut out, &Value::Map(map)).expect("encode");
        out.extend_from_slice(trailing);
        out
    }

    fn entry(k: &str, v: Value) -> (Value, Value) {
        (Value::from(k), v)
    }

    /// Python's msgpack builds a dict: of a repeated key, the last value counts, at the first
    /// key's place; json.dumps then writes each key once.
    #[test]
    fn a_repeated_key_keeps_its_last_value_as_a_python_dict_does() {
        let nested = Value::Map(vec![
            entry("type", Value::from("x")),
            entry("message", Value::from(101)),
            entry("k", Value::Nil),
            entry("message", Value::from(2.5)),
        ]);
        let decoded = decode(&payload(
            vec![
                entry("type", Value::from("other")),
                entry("message", Value::from("first")),
                entry("type", Value::from("chat.message")),
                entry("message", nested),
            ],
            b"",
        ))
        .expect("decode");
        assert_eq!(
            decoded.frame,
            r#"{"message": {"type": "x", "message": 2.5, "k": null}}"#
        );
    }

    /// msgpack.unpackb raises ExtraData on bytes after the value (a payload without its
    /// prefix, for one): Django's consumer fails on it, so it is refused here too.
    #[test]
    fn bytes_after_the_map_are_refused() {
        let map = vec![
            entry("type", Value::from("chat.message")),
            entry("message", Value::from("x")),
        ];
        assert!(decode(&payload(map.clone(), b"")).is_ok());
        assert_eq!(
            decode(&payload(map, b"\x00")),
            Err(CodecError::ExtraData(1))
        );
    }
}
