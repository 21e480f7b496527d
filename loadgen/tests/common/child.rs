//! The loadgen binary as a child process: its stderr lines as they come, and Ctrl-C.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// Starts the binary with `args` (its log at info, without colour; stdout discarded) and
/// returns it with a receiver of its stderr lines.
pub fn spawn(args: &[&str]) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env("RUST_LOG", "loadgen=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadgen starts");
    let lines = testkit::lines(child.stderr.take().expect("stderr"));
    (child, lines)
}

/// Waits until the run says it is sending (30 s at most).
pub fn until_sending(lines: &Receiver<String>) {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("loadgen reports that it is sending");
        if line.contains("sending") {
            return;
        }
    }
}

/// Ctrl-C, as a terminal sends it: SIGINT to the child.
pub fn interrupt(child: &Child) {
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
}
