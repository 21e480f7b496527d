//! A channels_redis payload popped from a shared Redis (12 bytes, then msgpack) -> the frame
//! for the members: never a panic; a frame is ASCII, re-reads as itself through the inbound
//! path, and encoding it again for the same members decodes to the same frame and members
//! (or, nested deeper than the encoder's bound, is refused as too deep).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{Limits, broadcast_frame};
use reference_server::layer::channels::codec::{CodecError, MAX_FRAME_DEPTH, decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = decode(data) else {
        return;
    };
    let frame = &decoded.frame;
    assert!(frame.is_ascii());
    assert!(frame.starts_with("{\"message\": ") && frame.ends_with('}'));
    // msgpack nests at most 1024 levels before rmpv refuses it.
    let limits = Limits {
        max_message_bytes: usize::MAX,
        max_depth: 1100,
    };
    assert_eq!(
        broadcast_frame(frame.as_bytes(), &limits).as_ref(),
        Ok(frame),
        "a decoded frame is what Python would write"
    );
    // Deeper than the encoder's bound (the inbound transcoder's count, not the encoder's own):
    // refused as such (it is delivered, never encoded again).
    let within = Limits {
        max_message_bytes: usize::MAX,
        max_depth: MAX_FRAME_DEPTH,
    };
    let encoded = encode(frame, &decoded.channels);
    if broadcast_frame(frame.as_bytes(), &within).is_err() {
        assert_eq!(encoded, Err(CodecError::TooDeep));
        return;
    }
    let again = decode(&encoded.expect("a frame encodes")).expect("an encoded frame decodes");
    assert_eq!(again, decoded);
});
