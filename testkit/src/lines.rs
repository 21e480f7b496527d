//! A child process's output as it comes, line by line.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, channel};

/// The lines of `from` (a child's stdout or stderr), read on a thread of their own so that the
/// child never blocks on a full pipe; the receiver ends when the pipe does.
pub fn lines(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}
