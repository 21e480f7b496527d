//! Bytes from a "server" -> an HTTP response head (`rawws::head_end`, `rawws::parse_head`):
//! never a panic; a head ends within the bound at its empty line; a status is three digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawws::{MAX_HEAD, head_end, parse_head};

fuzz_target!(|data: &[u8]| {
    let Ok(Some(end)) = head_end(data) else {
        return;
    };
    assert!(end <= data.len() && end <= MAX_HEAD);
    assert!(data[..end].ends_with(b"\r\n\r\n"));
    let head = String::from_utf8_lossy(&data[..end]);
    if let Ok(response) = parse_head(&head) {
        assert!((100..=999).contains(&response.status));
        for (name, value) in &response.headers {
            assert!(!name.contains("\r\n") && !value.contains("\r\n"));
            assert_eq!(name.trim(), name);
            assert_eq!(value.trim(), value);
        }
    }
});
