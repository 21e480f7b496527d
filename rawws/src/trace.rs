//! A wire log: every HTTP head and frame of every connection that shares a [`Trace`], both
//! ways, with the time since the trace began, as text that diffs well (one line an event,
//! payloads cut at [`PAYLOAD`] bytes). The conformance suite keeps one per case and writes it
//! for a case that failed, as Autobahn|Testsuite keeps its wire logs.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::frame::{Frame, op};

/// Payload bytes shown per frame; the rest is counted.
pub const PAYLOAD: usize = 200;
/// Events kept per trace; past it they are counted, not kept (a case that floods).
pub const EVENTS: usize = 20_000;

#[derive(Debug)]
struct Log {
    start: Instant,
    /// Connection number, then the line.
    events: Vec<(usize, String)>,
    dropped: usize,
    connections: usize,
}

/// One trace, shared by the connections it records.
#[derive(Debug, Clone)]
pub struct Trace(Arc<Mutex<Log>>);

impl Default for Trace {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Log {
            start: Instant::now(),
            events: Vec::new(),
            dropped: 0,
            connections: 0,
        })))
    }
}

/// One connection's handle on a trace.
#[derive(Debug, Clone)]
pub struct Recorder {
    trace: Trace,
    conn: usize,
}

impl Trace {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection's recorder, numbered from 1 in the order they opened.
    pub fn connection(&self, what: &str) -> Recorder {
        let conn = {
            let mut log = self.log();
            log.connections += 1;
            log.connections
        };
        let recorder = Recorder {
            trace: self.clone(),
            conn,
        };
        recorder.note(&format!("open {what}"));
        recorder
    }

    /// The whole log: a line an event, `+MILLISECONDS #CONNECTION EVENT`.
    pub fn render(&self) -> String {
        let log = self.log();
        let mut out = String::new();
        for (conn, line) in &log.events {
            out.push_str(&format!("#{conn} {line}\n"));
        }
        if log.dropped > 0 {
            out.push_str(&format!("({} more events not kept)\n", log.dropped));
        }
        out
    }
}

impl Recorder {
    fn push(&self, line: String) {
        let mut log = self.trace.log();
        let at = log.start.elapsed().as_secs_f64() * 1e3;
        if log.events.len() >= EVENTS {
            log.dropped += 1;
            return;
        }
        let conn = self.conn;
        log.events.push((conn, format!("+{at:.3} ms {line}")));
    }

    /// Something that is neither a head nor a frame (opened, ended).
    pub fn note(&self, what: &str) {
        self.push(format!("-- {what}"));
    }

    /// An HTTP head, `sent` or received, a line of the log per header line.
    pub fn head(&self, sent: bool, head: &str) {
        let arrow = if sent { ">" } else { "<" };
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            self.push(format!("{arrow} {line}"));
        }
    }

    /// A frame, `sent` or received.
    pub fn frame(&self, sent: bool, frame: &Frame) {
        let arrow = if sent { ">" } else { "<" };
        self.push(format!("{arrow} {}", describe(frame)));
    }
}

/// A frame in one line: flags, opcode, length and its payload (text as text, escaped; other
/// bytes in hex), cut at [`PAYLOAD`].
fn describe(frame: &Frame) -> String {
    let kind = match frame.opcode {
        op::TEXT => "text",
        op::BINARY => "binary",
        op::CONT => "cont",
        op::CLOSE => "close",
        op::PING => "ping",
        op::PONG => "pong",
        _ => "opcode",
    };
    let shown = &frame.payload[..frame.payload.len().min(PAYLOAD)];
    let body = match std::str::from_utf8(shown) {
        Ok(text) if frame.opcode != op::CLOSE => format!("{text:?}"),
        _ => shown.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    };
    let cut = if frame.payload.len() > PAYLOAD {
        format!(" (+{} bytes)", frame.payload.len() - PAYLOAD)
    } else {
        String::new()
    };
    format!(
        "{kind}{}{} op={} len={} {body}{cut}",
        if frame.fin { " fin" } else { "" },
        if frame.rsv != 0 {
            format!(" rsv={:03b}", frame.rsv)
        } else {
            String::new()
        },
        frame.opcode,
        frame.payload.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_per_event_with_connections_and_cut_payloads() {
        let trace = Trace::default();
        let a = trace.connection("127.0.0.1:1 /ws/chat/r/");
        let b = trace.connection("127.0.0.1:1 /ws/chat/r/");
        a.head(true, "GET /ws/chat/r/ HTTP/1.1\r\nHost: x\r\n\r\n");
        b.frame(
            false,
            &Frame::whole(op::TEXT, "x".repeat(PAYLOAD + 5).into_bytes()),
        );
        a.frame(
            true,
            &Frame::whole(op::CLOSE, 1000u16.to_be_bytes().to_vec()),
        );
        let text = trace.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[0].starts_with("#1 +") && lines[0].ends_with("-- open 127.0.0.1:1 /ws/chat/r/")
        );
        assert!(lines[2].ends_with("> GET /ws/chat/r/ HTTP/1.1"), "{text}");
        assert!(
            lines[4].starts_with("#2 ") && lines[4].ends_with("(+5 bytes)"),
            "{text}"
        );
        assert!(lines[5].ends_with("> close fin op=8 len=2 03e8"), "{text}");
    }
}
