//! `loadgen --rooms 100 --clients 50`: see `--help`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use loadgen::Opts;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    // A bad flag is an error (exit 1), not a failed threshold (2, clap's own usage code).
    let opts = match Opts::try_parse() {
        Ok(opts) => opts,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match main_inner(opts).await {
        Ok(code) => code,
        Err(e) => {
            edge::print_error("loadgen", &e);
            ExitCode::from(1)
        }
    }
}

async fn main_inner(opts: Opts) -> anyhow::Result<ExitCode> {
    if opts.print_workload {
        let workload = opts.workload()?;
        print!("{}", loadgen::workload::print::to_toml(&workload));
        print!("\n{}", loadgen::workload::Layout::new(&workload).describe());
        return Ok(ExitCode::SUCCESS);
    }
    if !opts.no_json {
        edge::check_writable(&opts.json).context("--json")?;
    }
    if opts.sweep {
        return sweep(opts).await;
    }
    let json_path = (!opts.no_json).then(|| opts.json.clone());
    let result = loadgen::run(opts).await?;
    let text = loadgen::summary::render(&result);
    let json = serde_json::to_string_pretty(&result).context("serialise the result")?;
    write_out(json_path.as_deref(), &text, json)?;
    if result.interrupted {
        return Ok(ExitCode::from(130));
    }
    if result.aborted.is_some() || result.thresholds.iter().any(|t| !t.passed) {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--sweep`: a line per step on stderr as it ends, then the table; exit 2 when no step held.
async fn sweep(opts: Opts) -> anyhow::Result<ExitCode> {
    let json_path = (!opts.no_json).then(|| opts.json.clone());
    let mut n = 0;
    let result = loadgen::sweep::sweep(opts, |step| {
        n += 1;
        eprintln!("{}", loadgen::sweep_summary::step_line(n, step));
    })
    .await?;
    let text = loadgen::sweep_summary::render(&result);
    let json = serde_json::to_string_pretty(&result).context("serialise the sweep")?;
    write_out(json_path.as_deref(), &text, json)?;
    if result.interrupted {
        return Ok(ExitCode::from(130));
    }
    if result.capacity.is_none() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the summary and writes the JSON where `--json` says (`-`: stdout, the summary then
/// going to stderr).
fn write_out(json_path: Option<&std::path::Path>, text: &str, json: String) -> anyhow::Result<()> {
    match json_path {
        Some(p) if p.as_os_str() == "-" => {
            // The JSON owns stdout; the summary goes to stderr.
            eprint!("{text}");
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{json}").context("write the result to stdout")?;
        }
        Some(p) => {
            print!("{text}");
            std::fs::write(p, json + "\n")
                .with_context(|| format!("write the result to {}", p.display()))?;
            println!("\nresult written to {}", p.display());
            println!(
                "HTML report: reports render {} --out report/",
                shell_word(&p.display().to_string())
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `s` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./,:@%+=".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
