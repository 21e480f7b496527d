//! The WebSocket path -> its room (`protocol::room`): never a panic, and the same verdict and
//! room as the route written out plainly (`chat_fuzz::room_of`); a room's own path gives it back.
#![no_main]

use chat_fuzz::room_of;
use libfuzzer_sys::fuzz_target;
use protocol::parse_ws_path;

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let got = parse_ws_path(target).ok().map(|r| r.as_str().to_owned());
    assert_eq!(got, room_of(target), "for {target:?}");
    if let Some(room) = got {
        let again = parse_ws_path(&format!("/ws/chat/{room}/")).expect("a room's own path");
        assert_eq!(again.as_str(), room);
    }
});
