//! Properties over arbitrary input, and a differential test against CPython's own `json`.

use std::io::Write as _;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use protocol::inbound::{Limits, broadcast_frame};
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text written the many ways a client may write it: odd whitespace, escapes where
/// plain characters would do, surrogate pairs and lone surrogates, duplicate keys, every
/// number form.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", "", " ", "\n", "\t ", "\r\n"]);
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{15,40}",
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:?}")),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:e}")),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,2})?",
    ];
    let char_piece = prop_oneof![
        "[ -~&&[^\"\\\\]]{1,4}",
        any::<char>()
            .prop_filter("unescaped", |c| *c >= ' ' && *c != '"' && *c != '\\')
            .prop_map(|c| c.to_string()),
        prop::sample::select(vec![
            "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"
        ])
        .prop_map(str::to_owned),
        any::<u16>().prop_map(|u| format!("\\u{u:04x}")),
        any::<u16>().prop_map(|u| format!("\\u{u:04X}")),
    ];
    let string =
        prop::collection::vec(char_piece, 0..6).prop_map(|p| format!("\"{}\"", p.concat()));
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number,
        string.clone(),
    ];
    let value = leaf.prop_recursive(5, 48, 6, move |inner| {
        let key = prop_oneof![
            prop::sample::select(vec!["\"a\"", "\"b\"", "\"\\u0061\"", "\"message\""])
                .prop_map(str::to_owned),
            string.clone()
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key, inner), 0..5).prop_map(|m| {
                let members: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    });
    (ws.clone(), value, ws.clone(), ws)
        .prop_map(|(a, v, b, c)| format!("{a}{{{b}\"message\"{c}:{v}}}"))
}

proptest! {
    #![proptest_config(Config::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = broadcast_frame(&bytes, &Limits::default());
    }

    #[test]
    fn never_panics_on_json_like_bytes(text in "[{}\\[\\]\":,0-9a-z\\\\. eE+-]{0,64}") {
        let _ = broadcast_frame(text.as_bytes(), &Limits::default());
    }

    #[test]
    fn output_is_ascii_and_parses_back_equal(v in json_value()) {
        let input = serde_json::to_string(&serde_json::json!({ "message": v })).expect("serialise");
        let out = broadcast_frame(input.as_bytes(), &Limits::default()).expect("valid input");
        prop_assert!(out.is_ascii());
        let back: Value = serde_json::from_str(&out).expect("output is JSON");
        prop_assert_eq!(back, serde_json::json!({ "message": v }));
    }
}

/// Runs CPython on a batch of generated inputs and requires byte-identical output.
#[test]
fn byte_identical_to_cpython_json_dumps() {
    let mut runner = TestRunner::new(Config::default());
    let strategy = json_text();
    let inputs: Vec<String> = (0..3000)
        .map(|_| strategy.new_tree(&mut runner).expect("generate").current())
        .collect();

    // One input per line, as a JSON string so newlines inside survive.
    let mut batch = String::new();
    for input in &inputs {
        batch.push_str(&serde_json::to_string(input).expect("encode"));
        batch.push('\n');
    }
    let script = r#"
import json, sys
for line in sys.stdin:
    text = json.loads(line)
    try:
        print(json.dumps({"message": json.loads(text)["message"]}))
    except Exception as e:
        print("ERROR " + type(e).__name__)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (the README's setup installs it)");
    // Write from another thread: python's output would fill the pipe while we still write.
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(batch.as_bytes()));
    let output = child.wait_with_output().expect("python runs");
    writer
        .join()
        .expect("writer thread")
        .expect("write to python");
    assert!(output.status.success());
    let expected = String::from_utf8(output.stdout).expect("python prints ASCII");
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), inputs.len());

    let mut compared = 0;
    for (input, want) in inputs.iter().zip(expected) {
        let got = broadcast_frame(input.as_bytes(), &Limits::default());
        if want.starts_with("ERROR") {
            // Python refuses (e.g. a number it reads as infinity: it would print `Infinity`);
            // the reference server must refuse too.
            assert!(
                got.is_err(),
                "python refused {input:?} but we accepted: {got:?}"
            );
            continue;
        }
        match got {
            Ok(out) => {
                assert_eq!(out, want, "input {input:?}");
                compared += 1;
            }
            // Python prints Infinity for 1e400; the reference server refuses it on purpose.
            Err(e) if want.contains("Infinity") || want.contains("NaN") => {
                assert_eq!(e.kind(), "number_out_of_range", "input {input:?}");
            }
            Err(e) => panic!("python accepted {input:?} as {want} but we refused: {e}"),
        }
    }
    assert!(
        compared > inputs.len() / 2,
        "only {compared} inputs compared"
    );
}
