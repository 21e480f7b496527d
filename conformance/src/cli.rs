//! The command line: `Opts` and [`run`], in the library so tests can drive the CLI in-process;
//! `main.rs` only parses and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::case::{Case, Ctx};
use crate::cases;
use crate::embedded::Embedded;
use crate::known::KnownFailures;
use crate::report::SuiteReport;
use crate::runner::{self, Profile};
use crate::target::Target;

/// How rooms are named (`--room-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoomStyle {
    /// `cf_<tag>_<hex>`: letters, digits and `_`.
    Word,
    /// Random version-4 UUIDs.
    Uuid,
}

/// Grade a /ws/chat/<room>/ backend against docs/protocol.md.
///
/// With neither --target nor CHAT_TARGET, the reference server is started in-process.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, about)]
pub struct Opts {
    /// The backend's base URL (http://, https://, ws:// or wss://host:port). Repeatable (or
    /// comma-separated in the variable): the members of every room are spread over the nodes,
    /// so a cluster is graded as one backend.
    #[arg(long = "target", env = "CHAT_TARGET", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Where the WebSockets are, when not at the target itself.
    #[arg(long)]
    pub ws_url: Option<String>,
    /// --ca-cert, --insecure, --resolve.
    #[command(flatten)]
    pub tls: endpoint::TlsArgs,
    /// Which levels to grade.
    #[arg(long, value_enum, default_value_t = Profile::Core)]
    pub profile: Profile,
    /// Offer permessage-deflate on every WebSocket as Chromium does, so that every case runs
    /// over compressed frames when the backend accepts (the deflate.* cases offer it anyway).
    #[arg(long)]
    pub deflate: bool,
    /// Run only these cases: an ID (rooms.refused) or a section (rooms). Repeatable.
    #[arg(long = "case", value_name = "ID-or-section")]
    pub cases: Vec<String>,
    /// Leave these cases out: an ID or a section (slow, which sends 16 MiB into a room).
    /// Repeatable.
    #[arg(long = "skip", value_name = "ID-or-section")]
    pub skip: Vec<String>,
    /// List the cases of the profile and exit.
    #[arg(long)]
    pub list: bool,
    /// Longest single wait for the backend, in milliseconds.
    #[arg(long, default_value_t = crate::DEFAULT_TIMEOUT.as_millis() as u64)]
    pub timeout: u64,
    /// How long to listen to be sure nothing more arrives, in milliseconds.
    #[arg(long, default_value_t = crate::DEFAULT_SETTLE.as_millis() as u64)]
    pub settle: u64,
    /// An Origin header to send with every handshake.
    #[arg(long)]
    pub origin: Option<String>,
    /// An extra header on every handshake and page request, repeatable: 'Name: value' (a
    /// token a deployment requires).
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = header_line)]
    pub headers: Vec<String>,
    /// The socket's path and query on the backend, {room} standing for the room. With any
    /// other than the tutorial's, the rooms.* cases (the tutorial's path rules) are not run.
    #[arg(long, value_name = "PATH", default_value = crate::TUTORIAL_WS_PATH, value_parser = ws_path)]
    pub ws_path: String,
    /// How rooms are named: word (letters, digits, _: the tutorial's \w+) or uuid (a
    /// backend routing <uuid:room>). With uuid, the rooms.* cases grade UUID rooms (the
    /// shapes of invalid paths around a UUID), and rooms.case-sensitive is not run.
    #[arg(long, value_enum, default_value_t = RoomStyle::Word)]
    pub room_style: RoomStyle,
    /// A Cookie header on every handshake and page request, e.g. 'sessionid=abc'.
    #[arg(long, value_name = "COOKIES", value_parser = header_value)]
    pub cookie: Option<String>,
    /// Random programs for the model-based case.
    #[arg(long, default_value_t = crate::DEFAULT_MODEL_CASES)]
    pub model_cases: u32,
    /// Members of the room in the big-room.* cases (4 to 10000).
    #[arg(long, default_value_t = crate::DEFAULT_ROOM_SIZE, value_parser = clap::value_parser!(u16).range(4..=10000))]
    pub room_size: u16,
    /// How long the member of order.idle-member sends nothing while it must still receive,
    /// e.g. 5s or 2m. Set it above the deployment's presence or group expiry (channels_redis
    /// group_expiry) to check that a silent member is not dropped from its room.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = idle)]
    pub idle: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Known upstream failures (TOML: case, backend, reason, links): a listed case that FAILs
    /// against --backend is KNOWN, not a failure; one that passes is flagged.
    #[arg(long, value_name = "FILE", requires = "backend")]
    pub known_failures: Option<PathBuf>,
    /// The name of the backend under test: as --known-failures entries name it, and as the
    /// conformance matrix (`reports matrix`) heads its column.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the JSON report here (`-` for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// For every failed case, write its wire log to DIR/<case>.txt: every HTTP head and
    /// frame of each of its connections, both ways, with times (payloads cut at 200 bytes),
    /// the evidence on top. The folder is made if it is missing.
    #[arg(long, value_name = "DIR")]
    pub trace_failed: Option<PathBuf>,
    /// With --trace-failed: a wire log for every case, passed or not.
    #[arg(long, requires = "trace_failed")]
    pub trace_all: bool,
    /// The backend's Prometheus endpoint (plain http://host:port/path, /metrics if none):
    /// the hostile cases then also check that its resident memory and open descriptors
    /// (process_resident_memory_bytes, process_open_fds) come back after each attack.
    #[arg(long, value_name = "URL")]
    pub server_metrics: Option<endpoint::metrics::MetricsUrl>,
}

/// Runs the suite as the command line asks; the exit code is 0, 1 on any FAIL, or 2 when the
/// backend does not answer (nothing graded).
pub async fn run(mut opts: Opts) -> anyhow::Result<ExitCode> {
    let all = cases::all();
    let known = match &opts.known_failures {
        Some(path) => Some(KnownFailures::load(
            path,
            &all.iter().map(|c| c.id).collect::<Vec<_>>(),
        )?),
        None => None,
    };
    let selected = selection(&opts, &all)?;
    if opts.list {
        for c in &selected {
            println!(
                "{:<36} {:<9} {}",
                c.id,
                format!("{:?}", c.level).to_lowercase(),
                c.description
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if selected.is_empty() {
        anyhow::bail!(
            "no case of the {:?} profile matches {:?}",
            opts.profile,
            opts.cases
        );
    }

    for (flag, path) in [("--json", &opts.json), ("--junit", &opts.junit)] {
        if let Some(path) = path {
            edge::check_writable(path).context(flag)?;
        }
    }
    if let Some(dir) = &mut opts.trace_failed {
        std::fs::create_dir_all(&*dir)
            .with_context(|| format!("--trace-failed: make {}", dir.display()))?;
        // The report names each trace by its whole path, so `reports matrix` can link to it
        // from wherever it writes its page.
        *dir = std::fs::canonicalize(&*dir)
            .with_context(|| format!("--trace-failed: {}", dir.display()))?;
    }
    let (targets, _server) = targets(&opts).await?;
    let label = targets
        .iter()
        .map(|t| t.label.clone())
        .collect::<Vec<_>>()
        .join(" + ");
    let ctx = context(&opts, &targets)?;
    // Unreachable is not a verdict: nothing is graded against a backend that does not answer.
    if let Err(why) = ctx.reachable().await {
        eprintln!("conformance: {label} does not answer, so nothing was graded: {why}");
        return Ok(ExitCode::from(2));
    }
    if let Some(url) = &ctx.metrics {
        cases::hostile::check_metrics(url)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    let mut reports = runner::run_all(selected, &ctx, opts.parallel).await;
    let known_passing = match (&known, &opts.backend) {
        (Some(known), Some(backend)) => known.apply(backend, &mut reports),
        _ => Vec::new(),
    };
    let suite = SuiteReport::new(label, opts.profile, reports)
        .with_known_passing(known_passing)
        .with_backend(opts.backend.clone());
    write_reports(&opts, &suite)?;
    Ok(if suite.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The cases to run: the profile's, narrowed by `--case` and `--skip` (each must name a case
/// or section), less the rooms.* cases a custom path or UUID rooms cannot grade.
fn selection(opts: &Opts, all: &[Case]) -> anyhow::Result<Vec<Case>> {
    for filter in opts.cases.iter().chain(&opts.skip) {
        let known = all.iter().any(|c| c.matches(filter));
        if !known {
            anyhow::bail!("no case or section named {filter:?} (see --list)");
        }
    }
    let mut selected = runner::select(all, opts.profile, &opts.cases);
    selected.retain(|c| !opts.skip.iter().any(|f| c.matches(f)));
    hostile_needs_a_target(opts, &mut selected)?;
    // The rooms.* cases grade the tutorial's path rules (/ws/chat/<\w+>/): all of them need
    // its path; with UUID rooms they grade UUIDs, except case sensitivity (a UUID route
    // refuses upper case).
    let custom = if opts.ws_path != crate::TUTORIAL_WS_PATH {
        Some((format!("--ws-path {}", opts.ws_path), "rooms."))
    } else if opts.room_style == RoomStyle::Uuid {
        Some(("--room-style uuid".to_owned(), "rooms.case-sensitive"))
    } else {
        None
    };
    let Some((custom, dropped)) = custom else {
        return Ok(selected);
    };
    let (kept, left_out): (Vec<_>, Vec<_>) = selected
        .into_iter()
        .partition(|c| !c.id.starts_with(dropped));
    if kept.is_empty() && !left_out.is_empty() {
        anyhow::bail!(
            "{custom}: every selected case is one of {dropped}*, and those test the \
             tutorial's /ws/chat/<room>/ rules"
        );
    }
    if !left_out.is_empty() {
        let ids: Vec<&str> = left_out.iter().map(|c| c.id).collect();
        eprintln!(
            "conformance: {custom}: not run, as they test the tutorial's /ws/chat/<room>/ \
             rules: {}",
            ids.join(", ")
        );
    }
    Ok(kept)
}

/// The backend's nodes (`--target`, with `--ws-url`), or the in-process reference server.
async fn targets(opts: &Opts) -> anyhow::Result<(Vec<Target>, Option<Embedded>)> {
    let (targets, server) = if opts.targets.is_empty() {
        let (target, server) = Embedded::start()
            .await
            .context("start the in-process reference server")?;
        (vec![target], Some(server))
    } else {
        let targets = opts
            .targets
            .iter()
            .map(|u| Target::parse_with(u.trim(), &opts.tls.resolve))
            .collect::<Result<Vec<_>, _>>()?;
        (targets, None)
    };
    let targets = match &opts.ws_url {
        Some(ws) if targets.len() == 1 => vec![targets[0].with_ws_url(ws, &opts.tls.resolve)?],
        Some(_) => anyhow::bail!("--ws-url goes with a single --target"),
        None => targets,
    };
    Ok((targets, server))
}

/// The context every case runs with, from the options.
fn context(opts: &Opts, targets: &[Target]) -> anyhow::Result<Ctx> {
    let mut ctx = crate::context(
        targets,
        Duration::from_millis(opts.timeout),
        Duration::from_millis(opts.settle),
        opts.origin.clone(),
    );
    ctx.model_cases = opts.model_cases;
    ctx.room_size = usize::from(opts.room_size);
    ctx.idle = opts.idle;
    ctx.tls = opts.tls.client_for("conformance", targets)?;
    ctx.headers = opts.headers.clone();
    ctx.ws_path = opts.ws_path.clone();
    ctx.uuid_rooms = opts.room_style == RoomStyle::Uuid;
    ctx.deflate = opts.deflate;
    ctx.traces = opts.trace_failed.clone().map(|dir| crate::traces::Traces {
        dir,
        all: opts.trace_all,
    });
    ctx.metrics = opts.server_metrics.clone();
    ctx.headers
        .extend(opts.cookie.as_ref().map(|c| format!("Cookie: {c}")));
    Ok(ctx)
}

/// The table on stdout (stderr when the JSON goes to stdout), and the JSON and JUnit files.
fn write_reports(opts: &Opts, suite: &SuiteReport) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(suite)?;
    if opts.json.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        eprint!("{}", suite.table());
        println!("{json}");
    } else {
        print!("{}", suite.table());
        if let Some(path) = &opts.json {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("write {}", path.display()))?;
        }
    }
    if let Some(path) = &opts.junit {
        std::fs::write(path, suite.junit()).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// A `Name: value` header line: a token name, and no line breaks anywhere.
fn header_line(s: &str) -> Result<String, String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: write 'Name: value'"))?;
    let name = name.trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok(format!("{name}: {}", header_value(value)?))
}

/// A header value: no line breaks or other control characters.
fn header_value(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{s:?}: a header value cannot hold control characters"
        ));
    }
    Ok(s.to_owned())
}

/// An `--idle` duration: 1 s to 1 h (the case's own bound grows with it).
fn idle(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (e.g. 5s or 2m)"))?;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&d) {
        return Err(format!("{s:?}: between 1s and 1h"));
    }
    Ok(d)
}

/// A `--ws-path`: starts with '/', holds `{room}` once, no spaces.
fn ws_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!(
            "{s:?}: a path starts with '/', e.g. {}",
            crate::TUTORIAL_WS_PATH
        ));
    }
    if s.matches("{room}").count() != 1 {
        return Err(format!(
            "{s:?}: put {{room}} exactly once where the room's name goes"
        ));
    }
    if s.contains(|c: char| c.is_whitespace() || c.is_control() || c == '#') {
        return Err(format!(
            "{s:?}: no spaces, control characters or '#' in a path"
        ));
    }
    Ok(s.to_owned())
}

/// The hostile cases attack the backend: they run only against one named with `--target` (or
/// `CHAT_TARGET`), never against the embedded server by default. `--profile hostile` without
/// one is bad usage; `--profile all` without one leaves them out and says so. When they run,
/// what each will send is printed first.
fn hostile_needs_a_target(opts: &Opts, selected: &mut Vec<Case>) -> anyhow::Result<()> {
    let is_hostile = |c: &Case| c.section() == crate::cases::hostile::SECTION;
    if !selected.iter().any(is_hostile) {
        return Ok(());
    }
    if opts.targets.is_empty() {
        if opts.profile == Profile::Hostile {
            anyhow::bail!(
                "--profile hostile attacks the backend: name it with --target (it never runs \
                 against a default)"
            );
        }
        selected.retain(|c| !is_hostile(c));
        eprintln!(
            "conformance: the hostile cases need --target (they attack the backend); not run"
        );
        return Ok(());
    }
    eprintln!(
        "conformance: hostile cases against {}, one at a time, each beside a probe room that \
         must keep getting its messages within 2 s:",
        opts.targets.join(", ")
    );
    for c in selected.iter().filter(|c| is_hostile(c)) {
        eprintln!("  {}: {}", c.id, c.description);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    #[test]
    fn the_idle_default_is_the_constant() {
        let opts = super::Opts::parse_from(["conformance"]);
        assert_eq!(opts.idle, crate::DEFAULT_IDLE);
        assert!(super::Opts::try_parse_from(["conformance", "--idle", "0s"]).is_err());
    }
}
