//! Differential: any JSON value (any finite double, any Unicode string, nesting), sent as
//! `{"message": V}`, must come back byte for byte as a plain transcription of Python's
//! `json.dumps` rules writes it (`chat_fuzz::python_dumps`).
#![no_main]

use arbitrary::Unstructured;
use chat_fuzz::{arbitrary_json, python_dumps};
use libfuzzer_sys::fuzz_target;
use protocol::{Limits, broadcast_frame};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(value) = arbitrary_json(&mut u, 1) else {
        return;
    };
    let input = serde_json::json!({ "message": value }).to_string();
    let mut want = String::from("{\"message\": ");
    python_dumps(&value, &mut want);
    want.push('}');
    let limits = Limits {
        max_message_bytes: usize::MAX,
        ..Limits::default()
    };
    let got = broadcast_frame(input.as_bytes(), &limits).expect("valid JSON within the limits");
    assert_eq!(got, want, "for input {input}");
});
