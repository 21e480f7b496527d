//! Progress bars during ramp-up and the run: on stderr, only when stdout is a terminal.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            visible: !quiet && std::io::stdout().is_terminal(),
        }
    }

    fn bar(&self, len: u64, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if self.visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    pub fn connecting(&self, connections: u64) -> ProgressBar {
        self.bar(
            connections,
            "connecting [{bar:40}] {pos}/{len} ({per_sec}) {msg}",
        )
    }

    /// A bar over the run in milliseconds.
    pub fn running(&self, total_ms: u64) -> ProgressBar {
        self.bar(total_ms, "{prefix:>9} [{bar:40}] {elapsed} {msg}")
    }
}
