//! The real channels_redis package (pinned, in the Django tutorial's virtual environment that
//! scripts/setup builds) driven from the interop tests: `examples/django-tutorial/interop.py`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Which of channels_redis's layers Python uses.
#[derive(Debug, Clone, Copy)]
pub enum Layer {
    /// `RedisChannelLayer`.
    Core,
    /// `RedisPubSubChannelLayer`.
    PubSub,
}

impl Layer {
    fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::PubSub => "pubsub",
        }
    }
}

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/django-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup (it builds the Django tutorial's virtual environment)",
        venv.display()
    );
    venv
}

fn interop_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/django-tutorial/interop.py")
}

/// `group_send` of `text` to the room's group from Python, on the hosts `ports` ("p1,p2").
pub async fn python_send(layer: Layer, ports: &str, room: &str, text: &str) {
    let args = [
        "send".to_owned(),
        ports.to_owned(),
        room.to_owned(),
        text.to_owned(),
    ];
    let status = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(interop_script())
            .args(&args)
            .env("INTEROP_LAYER", layer.name())
            .status()
    })
    .await
    .expect("join")
    .expect("python runs");
    assert!(status.success());
}

/// A Python channel in the room's group; returns once it is in, with its output lines.
pub fn python_receiver(
    layer: Layer,
    ports: &str,
    room: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(python())
        .arg(interop_script())
        .args(["receive", ports, room])
        .env("INTEROP_LAYER", layer.name())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let rx = testkit::lines(child.stdout.take().expect("stdout"));
    let ready = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("python is ready");
    assert_eq!(ready, "ready");
    (child, rx)
}

/// The next message the Python channel received.
pub fn python_received(rx: &std::sync::mpsc::Receiver<String>) -> serde_json::Value {
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("python received");
    serde_json::from_str(&line).expect("JSON")
}
