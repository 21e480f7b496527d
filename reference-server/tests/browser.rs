//! The real-browser test: headless Chromium, driven through chromedriver, uses the room page
//! the way a person does. Needs Debian's `chromium` and `chromium-driver` (`scripts/setup`
//! installs them); set `CHAT_SKIP_BROWSER_TEST=1` to skip it on a machine without them.

mod common;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::time::timeout;

/// Kills chromedriver (and so its browsers) however the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver_path() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
}

async fn start_driver(path: &str) -> (Driver, String) {
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    timeout(Duration::from_secs(20), async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("chromedriver listens within 20 s");
    (driver, url)
}

async fn browser(driver_url: &str, profile: &tempfile::TempDir) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": args, "binary": "/usr/bin/chromium" }),
    );
    timeout(
        Duration::from_secs(60),
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(driver_url),
    )
    .await
    .expect("browser starts in time")
    .expect("browser session")
}

async fn chat_log(client: &Client) -> String {
    client
        .find(Locator::Id("chat-log"))
        .await
        .expect("#chat-log")
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn wait_for_log(client: &Client, want: &str) {
    let result = timeout(Duration::from_secs(10), async {
        loop {
            if chat_log(client).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if result.is_err() {
        panic!("chat log is {:?}, wanted {want:?}", chat_log(client).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_and_markup_in_a_room_name_stays_text() {
    let Some(path) = chromedriver_path() else {
        if std::env::var_os("CHAT_SKIP_BROWSER_TEST").is_some() {
            eprintln!("skipped: no chromedriver and CHAT_SKIP_BROWSER_TEST is set");
            return;
        }
        panic!(
            "chromedriver not found: run scripts/setup (installs chromium and chromium-driver) \
             or set CHAT_SKIP_BROWSER_TEST=1"
        );
    };
    let server = common::server().await;
    let (_driver, driver_url) = start_driver(&path).await;
    let (p1, p2) = (
        tempfile::tempdir().expect("profile dir"),
        tempfile::tempdir().expect("profile dir"),
    );
    let alice = browser(&driver_url, &p1).await;
    let bob = browser(&driver_url, &p2).await;

    // Alice goes through the index page, as the tutorial does.
    let room = common::room("browser");
    alice
        .goto(&format!("{}/chat/", server.http_url()))
        .await
        .expect("index page");
    let input = alice
        .find(Locator::Id("room-name-input"))
        .await
        .expect("room input");
    input.send_keys(&room).await.expect("type room");
    input
        .send_keys(&String::from(char::from(Key::Enter)))
        .await
        .expect("enter");
    bob.goto(&format!("{}/chat/{room}/", server.http_url()))
        .await
        .expect("room page");
    let metrics = server.metrics.clone();
    common::eventually("both pages connected", || metrics.open_connections() == 2).await;
    assert_eq!(
        alice.current_url().await.expect("url").path(),
        format!("/chat/{room}/")
    );

    let line = "hello <b>world</b> & 한글";
    let input = alice
        .find(Locator::Id("chat-message-input"))
        .await
        .expect("message input");
    input.send_keys(line).await.expect("type message");
    input
        .send_keys(&String::from(char::from(Key::Enter)))
        .await
        .expect("enter");
    wait_for_log(&alice, &format!("{line}\n")).await;
    wait_for_log(&bob, &format!("{line}\n")).await;

    // Bob answers with the Send button.
    bob.find(Locator::Id("chat-message-input"))
        .await
        .expect("input")
        .send_keys("hi alice")
        .await
        .expect("type");
    bob.find(Locator::Id("chat-message-submit"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let both = format!("{line}\nhi alice\n");
    wait_for_log(&alice, &both).await;
    wait_for_log(&bob, &both).await;

    // A room named <b>&"' is text: the page parses it back exactly and no <b> element exists.
    bob.goto(&format!("{}/chat/%3Cb%3E%26%22'/", server.http_url()))
        .await
        .expect("markup room page");
    let parsed = bob
        .execute(
            "return [JSON.parse(document.getElementById('room-name').textContent), \
             document.getElementsByTagName('b').length];",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(parsed, json!(["<b>&\"'", 0]));

    alice.close().await.expect("close alice");
    bob.close().await.expect("close bob");
}
