// docs/protocol.md section 4: what a client sends, and the exact bytes every member receives
// (Python's `json.dumps`, as Django sends them). Data, not code: `protocol` and the
// conformance suite both `include!` it, so the suite shares the specification's vectors with
// the server's crates but none of their code.
[
    (r#"{"message":"hi"}"#, r#"{"message": "hi"}"#),
    (r#"{"message":"x","user":"y"}"#, r#"{"message": "x"}"#),
    (r#"{"message":"a","message":"b"}"#, r#"{"message": "b"}"#),
    (r#"{"message":5}"#, r#"{"message": 5}"#),
    (r#"{"message":1.50}"#, r#"{"message": 1.5}"#),
    (r#"{"message":1E2}"#, r#"{"message": 100.0}"#),
    (r#"{"message":-0.0}"#, r#"{"message": -0.0}"#),
    (
        r#"{"message":18446744073709551616}"#,
        r#"{"message": 18446744073709551616}"#,
    ),
    (r#"{"message":null}"#, r#"{"message": null}"#),
    (r#"{"message":true}"#, r#"{"message": true}"#),
    (r#"{"message":false}"#, r#"{"message": false}"#),
    (
        r#"{"message":{"a":1,"b":[1,2]}}"#,
        r#"{"message": {"a": 1, "b": [1, 2]}}"#,
    ),
    (
        r#"{"message":[1,"two",null]}"#,
        r#"{"message": [1, "two", null]}"#,
    ),
    (r#"{"message":""}"#, r#"{"message": ""}"#),
    (r#"{"message":"한글"}"#, r#"{"message": "\ud55c\uae00"}"#),
    (r#"{"message":"😀"}"#, r#"{"message": "\ud83d\ude00"}"#),
    (
        r#"{"message":"say \"hi\" \\ bye"}"#,
        r#"{"message": "say \"hi\" \\ bye"}"#,
    ),
    (
        r#"{"message":"</script>/"}"#,
        r#"{"message": "</script>/"}"#,
    ),
    (r#"{"message":"a\nb\tc"}"#, r#"{"message": "a\nb\tc"}"#),
    (
        r#"{"message":"\u0001\u001f\u007f"}"#,
        r#"{"message": "\u0001\u001f\u007f"}"#,
    ),
    ("  {\"message\":\"w\"}\n", r#"{"message": "w"}"#),
]
