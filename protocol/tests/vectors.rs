//! Every vector of docs/protocol.md section 4, byte for byte, and the refusals of section 5.

use protocol::inbound::{DecodeError, Limits, broadcast_frame};
use protocol::pyjson::{JsonError, json_script_string};

fn frame(input: &str) -> Result<String, DecodeError> {
    broadcast_frame(input.as_bytes(), &Limits::default())
}

#[test]
fn section_4_vectors_are_byte_identical() {
    let vectors = protocol::vectors::SECTION_4;
    for (input, want) in vectors {
        assert_eq!(frame(input).as_deref(), Ok(*want), "input {input:?}");
    }
}

#[test]
fn python_details_beyond_the_table() {
    let cases: &[(&str, &str)] = &[
        // An escaped key is the same key.
        (r#"{"m\u0065ssage":"k"}"#, r#"{"message": "k"}"#),
        // Nested duplicate keys: first position, last value, as in a Python dict.
        (
            r#"{"message":{"a":1,"b":2,"a":3}}"#,
            r#"{"message": {"a": 3, "b": 2}}"#,
        ),
        // A lone surrogate survives, as Python keeps it in a str.
        (r#"{"message":"\ud800"}"#, r#"{"message": "\ud800"}"#),
        (
            r#"{"message":"\uD83D\uDE00"}"#,
            r#"{"message": "\ud83d\ude00"}"#,
        ),
        (r#"{"message":"\/\b\f\r"}"#, r#"{"message": "/\b\f\r"}"#),
        (r#"{"message":"\u00e9"}"#, r#"{"message": "\u00e9"}"#),
        (r#"{"message":"é\u007f"}"#, r#"{"message": "\u00e9\u007f"}"#),
        (r#"{"message":-0}"#, r#"{"message": 0}"#),
        (r#"{"message":1e16}"#, r#"{"message": 1e+16}"#),
        (r#"{"message":1e-5}"#, r#"{"message": 1e-05}"#),
        (r#"{"message":0.0001}"#, r#"{"message": 0.0001}"#),
        (r#"{"message":1e-400}"#, r#"{"message": 0.0}"#),
        (r#"{"message":[]}"#, r#"{"message": []}"#),
        (r#"{"message":{}}"#, r#"{"message": {}}"#),
        (
            "{ \"message\" :\t[ 1 , { } ] , \"x\" : [ ] }",
            r#"{"message": [1, {}]}"#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(frame(input).as_deref(), Ok(*want), "input {input:?}");
    }
}

#[test]
fn section_5_refusals_have_the_right_close_codes() {
    let cases: &[(&[u8], &str, u16)] = &[
        (b"", "empty", 1007),
        (b"not json", "not_json", 1007),
        (b"[1,2]", "not_object", 1007),
        (b"\"hi\"", "not_object", 1007),
        (b"{\"user\":1}", "missing_message", 1007),
        (b"{}", "missing_message", 1007),
        (b"{\"message\":1} x", "not_json", 1007),
        (b"{\"message\":1", "not_json", 1007),
        (b"{\"message\":\"a\x01\"}", "not_json", 1007),
        (b"{\"message\":\"\\x\"}", "not_json", 1007),
        (b"{\"message\":01}", "not_json", 1007),
        (b"{\"message\":1.}", "not_json", 1007),
        (b"{\"message\":NaN}", "non_finite", 1007),
        (b"{\"message\":Infinity}", "non_finite", 1007),
        (b"{\"message\":-Infinity}", "non_finite", 1007),
        (b"{\"message\":1e400}", "number_out_of_range", 1007),
        (b"{\"message\":-1e400}", "number_out_of_range", 1007),
        (b"{\"message\":\"\xff\"}", "invalid_utf8", 1007),
        (b"{'message':1}", "not_json", 1007),
    ];
    for (input, kind, code) in cases {
        let err = broadcast_frame(input, &Limits::default()).expect_err("must be refused");
        assert_eq!(
            (err.kind(), err.close_code()),
            (*kind, *code),
            "input {:?}: {err}",
            String::from_utf8_lossy(input)
        );
        assert!(!err.to_string().contains('\n'));
    }
}

#[test]
fn huge_integers_follow_pythons_digit_limit() {
    let ok = format!("{{\"message\":{}}}", "9".repeat(4300));
    assert!(frame(&ok).is_ok());
    let too_many = format!("{{\"message\":{}}}", "9".repeat(4301));
    assert_eq!(
        frame(&too_many).map_err(|e| e.kind()),
        Err("number_out_of_range")
    );
}

#[test]
fn nesting_limit_counts_the_envelope() {
    let limits = Limits::default();
    let nest = |levels: usize| {
        format!(
            "{{\"message\":{}{}}}",
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    assert!(frame(&nest(limits.max_depth - 1)).is_ok());
    assert_eq!(
        frame(&nest(limits.max_depth)),
        Err(DecodeError::Json(JsonError::TooDeep {
            limit: limits.max_depth
        }))
    );
    // Depth in a value that is not forwarded counts too: Python parses it all.
    let other = format!(
        "{{\"message\":1,\"x\":{}{}}}",
        "{\"a\":".repeat(200),
        "}".repeat(200)
    );
    assert_eq!(frame(&other).map_err(|e| e.kind()), Err("too_deep"));
    // Far deeper input must not overflow the stack.
    assert!(frame(&nest(1_000_000)).is_err());
}

#[test]
fn size_limits_in_and_out() {
    let limits = Limits {
        max_message_bytes: 64,
        ..Limits::default()
    };
    let big_in = format!("{{\"message\":\"{}\"}}", "a".repeat(60));
    let err = broadcast_frame(big_in.as_bytes(), &limits).expect_err("over the limit");
    assert_eq!((err.kind(), err.close_code()), ("too_large", 1009));

    // 30 bytes of Korean in, 6x as many bytes of escapes out.
    let grows = format!("{{\"message\":\"{}\"}}", "한".repeat(10));
    assert!(grows.len() <= 64);
    let err = broadcast_frame(grows.as_bytes(), &limits).expect_err("grows past the limit");
    assert_eq!((err.kind(), err.close_code()), ("outgoing_too_large", 1009));
}

#[test]
fn json_script_matches_django() {
    assert_eq!(json_script_string("lobby"), r#""lobby""#);
    assert_eq!(json_script_string("<b>&\"'"), r#""\u003Cb\u003E\u0026\"'""#);
    assert_eq!(json_script_string("한"), r#""\ud55c""#);
}
