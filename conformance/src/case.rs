//! What a case is, what it returns, and how a result is graded.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use endpoint::tls::{Conn, TlsClient};
use tokio::net::TcpStream;

pub use crate::json::{json_equal, message_of, parse_json};
use crate::wire::{Handshake, HttpResponse, Ws};

/// The level of a behaviour in docs/protocol.md.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Every correct backend does this: a difference is a FAIL.
    Core,
    /// What the Django tutorial does byte for byte: a difference is NON-STRICT.
    Django,
    /// What the reference server promises on top: graded only with `--profile reference`.
    Reference,
}

/// A verdict, in the style of the Autobahn testsuite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Outcome {
    Pass,
    NonStrict,
    Informational,
    Fail,
    /// A FAIL listed in `--known-failures`: an upstream bug, not counted as a failure.
    Known,
}

impl Level {
    /// As the reports write it: `core`, `django`, `reference`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Django => "django",
            Self::Reference => "reference",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Outcome {
    /// Every verdict, in the order totals list them.
    pub const ALL: [Self; 5] = [
        Self::Pass,
        Self::Fail,
        Self::NonStrict,
        Self::Informational,
        Self::Known,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::NonStrict => "NON-STRICT",
            Self::Informational => "INFORMATIONAL",
            Self::Fail => "FAIL",
            Self::Known => "KNOWN",
        }
    }
}

/// What a case observed.
#[derive(Debug, Clone)]
pub enum Check {
    /// The behaviour is as specified; the evidence says what was seen.
    Holds(String),
    /// The behaviour differs; the evidence says how.
    Differs(String),
    /// Nothing to grade, only something to report.
    Info(String),
}

impl Check {
    /// Grades the observation at `level`.
    pub fn grade(self, level: Level) -> (Outcome, String) {
        match (self, level) {
            (Check::Holds(e), _) => (Outcome::Pass, e),
            (Check::Info(e), _) => (Outcome::Informational, e),
            (Check::Differs(e), Level::Django) => (Outcome::NonStrict, e),
            (Check::Differs(e), Level::Core | Level::Reference) => (Outcome::Fail, e),
        }
    }
}

/// A case body: `Err` carries evidence of a difference (the `?`-friendly form of
/// [`Check::Differs`]).
pub type CaseResult = Result<Check, String>;
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One conformance case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Stable ID, `section.name`.
    pub id: &'static str,
    pub level: Level,
    /// One line.
    pub description: &'static str,
    pub run: fn(Ctx) -> CaseFuture,
    /// The case is hostile to the whole backend (a member that never reads can stall every
    /// room of a server that blocks on it): it runs alone, after the others, so its effect
    /// is graded where it belongs and not as another case's failure.
    pub exclusive: bool,
}

impl Case {
    pub fn section(&self) -> &'static str {
        self.id.split_once('.').map_or(self.id, |(s, _)| s)
    }

    /// True when `filter` (a `--case` value) is this case's ID or its section.
    pub fn matches(&self, filter: &str) -> bool {
        self.id == filter || self.section() == filter.trim_end_matches('.')
    }
}

/// `who`, with `node` when there is one: `member 6 (node 127.0.0.1:8001)`.
pub fn on_node(who: &str, node: Option<SocketAddr>) -> String {
    match node {
        Some(node) => format!("{who} (node {node})"),
        None => who.to_owned(),
    }
}

/// One node of the backend: its address, the Host header to send it, and the name its TLS
/// certificate must carry when it speaks TLS.
#[derive(Debug, Clone)]
pub struct Node {
    pub addr: SocketAddr,
    pub host: String,
    pub tls_name: Option<String>,
}

/// Where and how a case talks to the backend.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The backend's nodes: WebSockets go to them in turn, so the members of every room are
    /// spread over all of them and a cluster is graded as one backend. Pages come from the
    /// first.
    pub nodes: Vec<Node>,
    next: Arc<AtomicUsize>,
    /// The longest any single network wait may take.
    pub timeout: Duration,
    /// How long to listen to be sure that nothing (more) arrives.
    pub settle: Duration,
    /// An Origin header to send with every handshake.
    pub origin: Option<String>,
    /// Extra header lines (`Name: value`) for every handshake and page request.
    pub headers: Vec<String>,
    /// The socket's path (and query), `{room}` standing for the room.
    pub ws_path: String,
    /// Room names as random version-4 UUIDs (`--room-style uuid`) instead of `cf_<tag>_<hex>`.
    pub uuid_rooms: bool,
    /// Random programs the model-based case runs.
    pub model_cases: u32,
    /// Members of the room in the big-room cases.
    pub room_size: usize,
    /// How long the member of `order.idle-member` stays silent while it must still receive.
    pub idle: Duration,
    /// The TLS client for nodes that speak TLS (`--ca-cert`, `--insecure`).
    pub tls: Option<TlsClient>,
    /// Every handshake offers permessage-deflate as Chromium does (`--deflate`), unless the
    /// case makes its own offer.
    pub deflate: bool,
    /// Where each case's wire log is written (`--trace-failed`, `--trace-all`).
    pub traces: Option<crate::traces::Traces>,
    /// The running case's wire log (set by the runner when `traces` is).
    pub trace: Option<rawws::trace::Trace>,
    /// The backend's Prometheus endpoint (`--server-metrics`): the hostile cases check that
    /// its memory and descriptors come back after each attack.
    pub metrics: Option<endpoint::metrics::MetricsUrl>,
}

impl Ctx {
    pub fn new(
        nodes: Vec<Node>,
        timeout: Duration,
        settle: Duration,
        origin: Option<String>,
    ) -> Self {
        assert!(!nodes.is_empty(), "a backend has at least one node");
        Self {
            nodes,
            next: Arc::new(AtomicUsize::new(0)),
            timeout,
            settle,
            origin,
            headers: Vec::new(),
            ws_path: crate::TUTORIAL_WS_PATH.into(),
            uuid_rooms: false,
            model_cases: crate::DEFAULT_MODEL_CASES,
            room_size: usize::from(crate::DEFAULT_ROOM_SIZE),
            idle: crate::DEFAULT_IDLE,
            tls: None,
            deflate: false,
            traces: None,
            trace: None,
            metrics: None,
        }
    }

    /// The bound on one whole case, however many waits it makes (and the idle case's silence).
    pub fn case_deadline(&self) -> Duration {
        self.timeout * 20 + Duration::from_secs(10) + self.idle
    }

    /// `who`, with the node its socket `ws` is connected to when the backend has several: the
    /// evidence then says which node a member that fell short was on.
    pub fn who(&self, who: &str, ws: &Ws) -> String {
        on_node(who, self.node_of(ws))
    }

    /// The node `ws` is connected to, when the backend has several.
    pub fn node_of(&self, ws: &Ws) -> Option<SocketAddr> {
        if self.nodes.len() < 2 {
            return None;
        }
        endpoint::tls::peer_addr(ws.stream()).ok()
    }

    /// The node the next WebSocket goes to.
    pub(crate) fn pick(&self) -> &Node {
        &self.nodes[self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len()]
    }

    /// A room name no other case, run or tool uses.
    pub fn room(&self, tag: &str) -> String {
        if self.uuid_rooms {
            return endpoint::uuid_v4(rand::random());
        }
        format!("cf_{tag}_{:012x}", rand::random::<u64>() >> 16)
    }

    /// The Origin (unless a case removed it) and the extra headers, as request lines.
    fn header_lines(&self) -> String {
        let origin = self.origin.iter().map(|o| format!("Origin: {o}\r\n"));
        let extra = self.headers.iter().map(|h| format!("{h}\r\n"));
        origin.chain(extra).collect()
    }

    pub async fn handshake(&self, target: &str, extra: &str) -> Result<Handshake, String> {
        self.try_handshake(target, extra)
            .await?
            .map_err(|e| format!("handshake for {target}: {e}"))
    }

    /// A handshake, telling apart a connection that could not be made (the outer error: no
    /// verdict on the request can rest on it) from what happened once the request was sent.
    pub async fn try_handshake(
        &self,
        target: &str,
        extra: &str,
    ) -> Result<Result<Handshake, crate::wire::WireError>, String> {
        self.handshake_with(self.pick(), target, extra).await
    }

    /// [`Self::try_handshake`] with `node`.
    async fn handshake_with(
        &self,
        node: &Node,
        target: &str,
        extra: &str,
    ) -> Result<Result<Handshake, crate::wire::WireError>, String> {
        let own_offer = crate::wire::offered(extra, "sec-websocket-extensions").is_empty();
        let offer = if self.deflate && own_offer {
            format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                crate::wire::deflate::OFFER
            )
        } else {
            String::new()
        };
        let extra = format!("{}{offer}{extra}", self.header_lines());
        let conn = self.connect(node).await?;
        Ok(Ws::handshake_traced(
            conn,
            (&node.host, target),
            &extra,
            self.timeout,
            self.trace.as_ref(),
        )
        .await)
    }

    /// Whether every node answers at all: a TCP (and TLS) connection and an HTTP answer to a
    /// WebSocket handshake for a fresh room, whatever the answer (a 101 or a refusal). The
    /// handshake, not a page: a WebSocket-only server may drop a plain GET. The reason when
    /// one does not answer.
    pub async fn reachable(&self) -> Result<(), String> {
        let target = self.ws_target(&self.room("reach"));
        for node in &self.nodes {
            match self.handshake_with(node, &target, "").await? {
                Ok(Handshake::Accepted(mut ws)) => {
                    let _ = ws.send_close(1000).await;
                }
                Ok(Handshake::Refused(_)) => {}
                Err(e) => {
                    return Err(format!(
                        "{}: no HTTP answer to a WebSocket handshake for {target}: {e}",
                        node.host
                    ));
                }
            }
        }
        Ok(())
    }

    /// A TCP connection to `node`, with the TLS handshake when it speaks TLS.
    pub(crate) async fn connect(&self, node: &Node) -> Result<Conn, String> {
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect(node.addr))
            .await
            .map_err(|_| {
                format!(
                    "connect to {}: nothing within {:?}",
                    node.addr, self.timeout
                )
            })?
            .map_err(|e| format!("connect to {}: {e}", node.addr))?;
        let _ = tcp.set_nodelay(true);
        let wrap = endpoint::tls::wrap(tcp, node.tls_name.as_deref(), self.tls.as_ref());
        tokio::time::timeout(self.timeout, wrap)
            .await
            .map_err(|_| {
                format!(
                    "TLS handshake with {}: nothing within {:?}",
                    node.host, self.timeout
                )
            })?
            .map_err(|e| e.to_string())
    }

    /// The request target of `room`'s socket (`--ws-path`).
    pub fn ws_target(&self, room: &str) -> String {
        self.ws_path.replace("{room}", room)
    }

    /// Joins `room`; a refusal is a difference.
    pub async fn join(&self, room: &str) -> Result<Ws, String> {
        let target = self.ws_target(room);
        match self.handshake(&target, "").await? {
            Handshake::Accepted(ws) => Ok(ws),
            Handshake::Refused(r) => Err(format!(
                "joining {target} was refused with HTTP {}",
                r.status
            )),
        }
    }

    pub async fn get(&self, target: &str) -> Result<HttpResponse, String> {
        let node = &self.nodes[0];
        let extra: String = self.headers.iter().map(|h| format!("{h}\r\n")).collect();
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\n{extra}Connection: close\r\n\r\n",
            node.host
        );
        let mut conn = self
            .connect(node)
            .await
            .map_err(|e| format!("GET {target}: {e}"))?;
        crate::wire::http_raw_on(&mut conn, &request, self.timeout)
            .await
            .map_err(|e| format!("GET {target}: {e}"))
    }
}
