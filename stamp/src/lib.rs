//! What loadgen and journey send inside `message`, and the fast parse of what comes back.
//!
//! The text is ASCII, so every backend forwards it byte for byte whatever its JSON encoder:
//! `L:<room>:<sender>:<seq>:<scheduled_us>:<sent_us>:<phase>:` then padding to `--size`: `x`
//! repeated, or words of a list ([`Fill`]). The phase is `m` (measured) or `w` (warm-up),
//! followed for an answer by `>` and the message it answers, `<sender>.<seq>` of the same
//! room (`m>3.17`).
//! Times are microseconds since the run's clock started (one process, one clock). The receive
//! path only looks for `"L:` and reads six fields: no JSON parse.

use std::fmt::Write as _;

mod fill;
mod words;

pub use fill::{Fill, WordList, WordListError, fnv1a};

/// The fields loadgen needs back from a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub room: u32,
    /// The sender's index among its room's senders.
    pub sender: u32,
    pub seq: u32,
    pub scheduled_us: u64,
    pub sent_us: u64,
    /// Sent during the warm-up: not counted.
    pub warmup: bool,
    /// The message of the same room this one answers, as (sender, seq).
    pub answers: Option<(u32, u32)>,
}

const MARK: &str = "\"L:";

/// The smallest `--size` that holds a full header.
pub const MIN_SIZE: usize = 48;

/// The largest text loadgen builds: 64 MiB (each message is built whole before it is sent;
/// the backends it grades refuse far smaller ones, daphne and the reference server above
/// 1 MiB).
pub const MAX_SIZE: usize = 64 * 1024 * 1024;

/// The client frame for `stamp`, with its text padded to `size` bytes with `x`.
pub fn encode(stamp: &Stamp, size: usize) -> String {
    encode_filled(stamp, size, &Fill::X)
}

/// The client frame for `stamp`, with its text padded to `size` bytes by `fill`.
pub fn encode_filled(stamp: &Stamp, size: usize, fill: &Fill) -> String {
    let mut out = String::with_capacity(size + 16);
    out.push_str("{\"message\":\"L:");
    let _ = write!(
        out,
        "{}:{}:{}:{}:{}:{}:",
        stamp.room,
        stamp.sender,
        stamp.seq,
        stamp.scheduled_us,
        stamp.sent_us,
        if stamp.warmup { 'w' } else { 'm' }
    );
    if let Some((sender, seq)) = stamp.answers {
        out.pop();
        let _ = write!(out, ">{sender}.{seq}:");
    }
    let text_len = out.len() - "{\"message\":\"".len();
    let left = size.saturating_sub(text_len);
    match fill {
        Fill::X => out.extend(std::iter::repeat_n('x', left)),
        Fill::Words => fill::words_into(&mut out, left, seed(stamp), words::WORDS),
        Fill::List(list) => fill::words_into(&mut out, left, seed(stamp), list.words()),
    }
    out.push_str("\"}");
    out
}

/// A message's own seed for its words.
fn seed(stamp: &Stamp) -> u64 {
    (u64::from(stamp.room) << 40) ^ (u64::from(stamp.sender) << 24) ^ u64::from(stamp.seq)
}

/// Finds the stamp in a delivered frame; `None` if the frame is not one of ours.
pub fn decode(frame: &[u8]) -> Option<Stamp> {
    let start = find(frame, MARK.as_bytes())? + MARK.len();
    let mut fields = frame[start..].split(|b| *b == b':');
    let mut number = || fields.next().and_then(parse_u64);
    let room = u32::try_from(number()?).ok()?;
    let sender = u32::try_from(number()?).ok()?;
    let seq = u32::try_from(number()?).ok()?;
    let scheduled_us = number()?;
    let sent_us = number()?;
    let phase_field = fields.next()?;
    let phase = *phase_field.first()?;
    let answers = match phase_field.get(1..) {
        Some([b'>', rest @ ..]) => {
            let mut parts = rest.split(|b| *b == b'.');
            let sender = u32::try_from(parts.next().and_then(parse_u64)?).ok()?;
            let seq = u32::try_from(parts.next().and_then(parse_u64)?).ok()?;
            Some((sender, seq))
        }
        _ => None,
    };
    Some(Stamp {
        room,
        sender,
        seq,
        scheduled_us,
        sent_us,
        warmup: phase == b'w',
        answers,
    })
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_python_style_and_compact_json() {
        let stamp = Stamp {
            room: 12,
            sender: 3,
            seq: 99,
            scheduled_us: 1_234_567,
            sent_us: 1_234_600,
            warmup: false,
            answers: None,
        };
        let sent = encode(&stamp, 100);
        let text_len = sent.len() - "{\"message\":\"\"}".len();
        assert_eq!(text_len, 100);
        assert_eq!(decode(sent.as_bytes()), Some(stamp));
        // What a Python backend sends back: a space after the colon.
        let echoed = sent.replacen("{\"message\":", "{\"message\": ", 1);
        assert_eq!(decode(echoed.as_bytes()), Some(stamp));
        let warm = Stamp {
            warmup: true,
            ..stamp
        };
        assert_eq!(decode(encode(&warm, 0).as_bytes()), Some(warm));
        let answer = Stamp {
            answers: Some((4, 1_000_000)),
            ..stamp
        };
        let sent = encode(&answer, 100);
        assert!(sent.contains(":m>4.1000000:x"), "{sent}");
        assert_eq!(sent.len() - "{\"message\":\"\"}".len(), 100);
        assert_eq!(decode(sent.as_bytes()), Some(answer));
    }

    #[test]
    fn words_fill_exactly_and_leave_the_stamp_readable() {
        let stamp = Stamp {
            room: 7,
            sender: 1,
            seq: 5,
            scheduled_us: 10,
            sent_us: 11,
            warmup: false,
            answers: None,
        };
        for size in [0, 48, 49, 100, 4096] {
            let sent = encode_filled(&stamp, size, &Fill::Words);
            let text_len = sent.len() - "{\"message\":\"\"}".len();
            assert_eq!(
                text_len,
                size.max(encode(&stamp, 0).len() - "{\"message\":\"\"}".len()),
                "{sent}"
            );
            assert_eq!(decode(sent.as_bytes()), Some(stamp));
            let value: String = sent["{\"message\":\"".len()..sent.len() - 2].into();
            assert!(
                value.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "{value}"
            );
            assert!(!value.contains(['"', '\\']), "{value}");
        }
        let a = encode_filled(&stamp, 200, &Fill::Words);
        assert_eq!(
            a,
            encode_filled(&stamp, 200, &Fill::Words),
            "the same message, the same words"
        );
        let b = encode_filled(&Stamp { seq: 6, ..stamp }, 200, &Fill::Words);
        assert_ne!(a[40..], b[40..], "another message, other words");
        assert!(a.contains(' ') && !a.contains("xxxx"));
    }

    #[test]
    fn a_list_of_words_fills_exactly_with_its_own_words() {
        let stamp = Stamp {
            room: 3,
            sender: 0,
            seq: 41,
            scheduled_us: 10,
            sent_us: 11,
            warmup: false,
            answers: None,
        };
        let list = WordList::new("t", "alpha beta gamma").expect("valid");
        for size in [0, 48, 60, 1000] {
            let sent = encode_filled(&stamp, size, &Fill::List(list.clone()));
            let text_len = sent.len() - "{\"message\":\"\"}".len();
            assert_eq!(
                text_len,
                size.max(encode(&stamp, 0).len() - "{\"message\":\"\"}".len())
            );
            assert_eq!(decode(sent.as_bytes()), Some(stamp));
            let padding = sent.rsplit(":m:").next().unwrap_or_default();
            let padding = padding.strip_suffix("\"}").unwrap_or_default();
            for word in padding.split(' ').filter(|w| !w.is_empty()) {
                assert!(
                    ["alpha", "beta", "gamma"]
                        .iter()
                        .any(|whole| whole.starts_with(word)),
                    "{word:?} in {sent}"
                );
            }
        }
    }

    #[test]
    fn foreign_frames_are_not_ours() {
        assert_eq!(decode(br#"{"message": "hello"}"#), None);
        assert_eq!(decode(br#"{"message": "L:1:2"}"#), None);
        assert_eq!(decode(br#"{"message": "L:a:b:c:d:e:m:"}"#), None);
        // An answer that names no message is no stamp.
        assert_eq!(decode(br#"{"message": "L:1:2:3:4:5:m>x:"}"#), None);
    }
}
