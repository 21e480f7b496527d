//! Bytes from a "server" -> frames -> messages (`rawws`'s frame parser and assembler): never a
//! panic; a parsed frame took bytes it was given and needed all of them; a text message is
//! UTF-8; nothing grows past its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawws::{Assembler, Parsed, Step, op, parse_frame};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut assembler = Assembler::new(MAX);
    let mut rest = data;
    loop {
        match parse_frame(rest, MAX) {
            Ok(Parsed::Need(n)) => {
                assert!(n > rest.len());
                return;
            }
            Err(_) => return,
            Ok(Parsed::Frame(frame, used)) => {
                assert!(used >= 2 && used <= rest.len());
                assert!(matches!(
                    parse_frame(&rest[..used - 1], MAX),
                    Ok(Parsed::Need(_))
                ));
                assert!(frame.payload.len() <= MAX);
                rest = &rest[used..];
                match assembler.push(frame) {
                    Err(_) => return,
                    Ok(Step::Partial) => {}
                    Ok(Step::Deliver(message)) => {
                        assert!(message.fin);
                        assert!(message.payload.len() <= MAX);
                        if message.opcode == op::TEXT {
                            assert!(std::str::from_utf8(&message.payload).is_ok());
                        }
                        if op::is_control(message.opcode) {
                            assert!(message.payload.len() <= 125);
                        }
                    }
                }
            }
        }
    }
});
