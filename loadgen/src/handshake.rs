//! What every handshake carries beyond the tutorial's: extra headers (`--header`, `--cookie`:
//! a deployment behind a login), the socket's path (`--ws-path`, for backends that mount it
//! elsewhere), and how rooms are named (`--room-style`: the tutorial's `\w+` refuses the
//! hyphens of the UUID rooms many deployments use).

use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

/// One `--header 'Name: value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: HeaderValue,
}

impl FromStr for Header {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: write 'Name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("{:?} is not a header name", name.trim()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("the value of {name} holds characters a header cannot"))?;
        Ok(Self { name, value })
    }
}

/// `--ws-path`: where the socket is, with `{room}` standing for the room's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsPath(String);

/// The tutorial's path.
pub const DEFAULT_WS_PATH: &str = "/ws/chat/{room}/";

impl Default for WsPath {
    fn default() -> Self {
        Self(DEFAULT_WS_PATH.into())
    }
}

impl FromStr for WsPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.starts_with('/') {
            return Err(format!(
                "{s:?}: a path starts with '/', e.g. {DEFAULT_WS_PATH}"
            ));
        }
        if s.matches("{room}").count() != 1 {
            return Err(format!(
                "{s:?}: put {{room}} exactly once where the room's name goes"
            ));
        }
        if s.contains(char::is_whitespace) || s.contains('#') {
            return Err(format!("{s:?}: no spaces or '#' in a path"));
        }
        Ok(Self(s.into()))
    }
}

impl WsPath {
    /// The path (and query) of `room`'s socket.
    pub fn of(&self, room: &str) -> String {
        self.0.replace("{room}", room)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How rooms are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RoomStyle {
    /// `lg<run>_<n>`: letters, digits and `_`, as the tutorial's `\w+` route accepts.
    #[default]
    Word,
    /// A random version-4 UUID per room (`8-4-4-4-12` lowercase hex), as a `<uuid:...>` route
    /// accepts.
    Uuid,
}

impl RoomStyle {
    /// The name of room `index` in run `run_id`: distinct per room and per run.
    pub fn name(self, run_id: u32, index: u32) -> String {
        match self {
            Self::Word => format!("lg{run_id:08x}_{index}"),
            Self::Uuid => {
                let mut rng = StdRng::seed_from_u64((u64::from(run_id) << 32) | u64::from(index));
                endpoint::uuid_v4(rng.random())
            }
        }
    }
}

impl RoomStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Word => "word",
            Self::Uuid => "uuid",
        }
    }
}

/// What every handshake of a run sends: its headers and its path; and the TLS client for
/// https/wss targets, whether to offer permessage-deflate (`--deflate`), and the counters of
/// every socket's bytes.
#[derive(Debug, Clone, Default)]
pub struct HandshakePlan {
    /// Added to every upgrade request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub ws_path: WsPath,
    pub tls: Option<endpoint::tls::TlsClient>,
    pub deflate: bool,
    pub wire: std::sync::Arc<endpoint::wire::WireCounters>,
}

impl HandshakePlan {
    /// From `--header`, `--cookie` and `--ws-path`.
    pub fn new(extra: &[Header], cookie: Option<&str>, ws_path: WsPath) -> Result<Self, String> {
        let mut headers: Vec<_> = extra
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        if let Some(cookie) = cookie {
            let h = Header::from_str(&format!("Cookie: {cookie}"))?;
            headers.push((h.name, h.value));
        }
        Ok(Self {
            headers,
            ws_path,
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_paths_and_room_names() {
        let h: Header = "X-Token:  abc def ".parse().expect("valid");
        assert_eq!(h.name.as_str(), "x-token");
        assert_eq!(h.value, "abc def");
        assert!("no colon".parse::<Header>().is_err());
        assert!("Bad Name: v".parse::<Header>().is_err());
        assert!("X: a\nb".parse::<Header>().is_err());

        let p: WsPath = "/chat/{room}/socket?token=1".parse().expect("valid");
        assert_eq!(p.of("r1"), "/chat/r1/socket?token=1");
        assert_eq!(WsPath::default().of("r"), "/ws/chat/r/");
        assert!("ws/{room}/".parse::<WsPath>().is_err());
        assert!("/ws/chat/".parse::<WsPath>().is_err());
        assert!("/{room}/{room}".parse::<WsPath>().is_err());

        assert_eq!(RoomStyle::Word.name(0xab, 3), "lg000000ab_3");
        let u = RoomStyle::Uuid.name(1, 2);
        let groups: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{u}");
        assert_eq!(&u[14..15], "4", "version 4: {u}");
        assert!("89ab".contains(&u[19..20]), "variant: {u}");
        assert_ne!(u, RoomStyle::Uuid.name(1, 3));
        assert_eq!(
            u,
            RoomStyle::Uuid.name(1, 2),
            "the same run names it the same"
        );
    }
}
