//! `conformance --target http://127.0.0.1:8000`: see `--help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use conformance::known::KnownFailures;
use conformance::runner::{self, Profile};
use conformance::{cases, report::SuiteReport, target::Target};

/// Grade a /ws/chat/<room>/ backend against PROTOCOL.md.
///
/// With neither --target nor CHAT_TARGET, the reference server is started in-process.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, about)]
struct Opts {
    /// The backend's base URL (http://host:port or ws://host:port). Repeatable (or
    /// comma-separated in the variable): the members of every room are spread over the nodes,
    /// so a cluster is graded as one backend.
    #[arg(long = "target", env = "CHAT_TARGET", value_delimiter = ',')]
    targets: Vec<String>,
    /// Where the WebSockets are, when not at the target itself.
    #[arg(long)]
    ws_url: Option<String>,
    /// Which levels to grade.
    #[arg(long, value_enum, default_value_t = Profile::Core)]
    profile: Profile,
    /// Run only these cases: an ID (rooms.refused) or a section (rooms). Repeatable.
    #[arg(long = "case", value_name = "ID-or-section")]
    cases: Vec<String>,
    /// List the cases of the profile and exit.
    #[arg(long)]
    list: bool,
    /// Longest single wait for the backend, in milliseconds.
    #[arg(long, default_value_t = conformance::DEFAULT_TIMEOUT.as_millis() as u64)]
    timeout: u64,
    /// How long to listen to be sure nothing more arrives, in milliseconds.
    #[arg(long, default_value_t = conformance::DEFAULT_SETTLE.as_millis() as u64)]
    settle: u64,
    /// An Origin header to send with every handshake.
    #[arg(long)]
    origin: Option<String>,
    /// Random programs for the model-based case.
    #[arg(long, default_value_t = conformance::DEFAULT_MODEL_CASES)]
    model_cases: u32,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Known upstream failures (TOML: case, backend, reason, links): a listed case that FAILs
    /// against --backend is KNOWN, not a failure; one that passes is flagged.
    #[arg(long, value_name = "FILE", requires = "backend")]
    known_failures: Option<PathBuf>,
    /// The name of the backend under test, as --known-failures entries name it.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write the JSON report here (`-` for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Opts::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conformance: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let all = cases::all();
    for filter in &opts.cases {
        let known = all.iter().any(|c| c.matches(filter));
        if !known {
            anyhow::bail!("no case or section named {filter:?} (see --list)");
        }
    }
    let known = match &opts.known_failures {
        Some(path) => Some(KnownFailures::load(
            path,
            &all.iter().map(|c| c.id).collect::<Vec<_>>(),
        )?),
        None => None,
    };
    let selected = runner::select(&all, opts.profile, &opts.cases);
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

    let (targets, _server) = if opts.targets.is_empty() {
        let server = reference_server::spawn(reference_server::Config::local())
            .await
            .context("start the in-process reference server")?;
        let mut t = Target::parse(&server.http_url())?;
        t.label = format!("{} (in-process reference server)", t.label);
        (vec![t], Some(server))
    } else {
        let targets = opts
            .targets
            .iter()
            .map(|u| Target::parse(u.trim()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (targets, None)
    };
    let targets = match &opts.ws_url {
        Some(ws) if targets.len() == 1 => vec![targets[0].with_ws_url(ws)?],
        Some(_) => anyhow::bail!("--ws-url goes with a single --target"),
        None => targets,
    };
    let label = targets
        .iter()
        .map(|t| t.label.clone())
        .collect::<Vec<_>>()
        .join(" + ");
    let mut ctx = conformance::context(
        &targets,
        Duration::from_millis(opts.timeout),
        Duration::from_millis(opts.settle),
        opts.origin.clone(),
    );
    ctx.model_cases = opts.model_cases;

    let mut reports = runner::run_all(selected, &ctx, opts.parallel).await;
    let known_passing = match (&known, &opts.backend) {
        (Some(known), Some(backend)) => known.apply(backend, &mut reports),
        _ => Vec::new(),
    };
    let suite = SuiteReport::new(label, opts.profile, reports).with_known_passing(known_passing);
    let json = serde_json::to_string_pretty(&suite)?;
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
    Ok(if suite.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
