//! The command line: goose's own options (`--host`, `--users`, `--increase-rate`,
//! `--run-time`, `--report-file`, ...) flattened in, and the scenario's.

use std::time::Duration;

use clap::Parser;
use goose::config::GooseConfiguration;

/// How popular rooms are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Popularity {
    /// Every room equally likely.
    Uniform,
    /// Room k (from 1) with weight 1/k: a few busy rooms, a long tail of quiet ones.
    Zipf,
}

/// Whole user sessions against the chat (goose): pages, socket, talk, leave, again.
///
/// Without --host the reference server is started in-process. The journey's own options come
/// first (Options, Scenario); everything from "Load test" on is goose's, documented in its book
/// (https://book.goose.rs). The goose options most used: --host, --users, --increase-rate,
/// --run-time, --report-file.
#[derive(Debug, Clone, Parser)]
#[command(name = "journey", about, disable_version_flag = true)]
pub struct Opts {
    /// Rooms users pick from.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Scenario")]
    pub rooms: u32,

    /// How users pick a room.
    #[arg(long, value_enum, default_value_t = Popularity::Zipf, help_heading = "Scenario")]
    pub popularity: Popularity,

    /// Messages each user sends per visit to a room.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Scenario")]
    pub messages: u32,

    /// Think time between a user's steps: MIN..MAX (goose's wait time), e.g. 1s..3s.
    #[arg(long, default_value = "500ms..2s", value_parser = think, help_heading = "Scenario")]
    pub think: (Duration, Duration),

    /// How long a user waits for its own message to come back before counting it failed.
    #[arg(long, default_value = "5s", value_parser = positive_duration, help_heading = "Scenario")]
    pub echo_timeout: Duration,

    /// Goose 0.18's name for --increase-rate (users started per second).
    #[arg(long, value_name = "RATE", help_heading = "Scenario")]
    pub hatch_rate: Option<String>,

    /// Offer permessage-deflate on every socket as Chromium does; a server that accepts
    /// compresses what it sends (the journey inflates it; its own messages go plain).
    #[arg(long, help_heading = "Scenario")]
    pub deflate: bool,

    /// --ca-cert, --insecure, --resolve (for an https host's socket).
    #[command(flatten)]
    pub tls: endpoint::TlsArgs,

    #[command(flatten)]
    pub goose: GooseConfiguration,
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 2s or 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

fn think(s: &str) -> Result<(Duration, Duration), String> {
    let parse = |p: &str| {
        humantime::parse_duration(p.trim()).map_err(|e| format!("{p:?}: {e} (write e.g. 1s..3s)"))
    };
    let (min, max) = match s.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(s)?;
            (d, d)
        }
    };
    if max < min {
        return Err(format!("{s:?}: the range runs backwards"));
    }
    Ok((min, max))
}

impl Opts {
    /// Goose's configuration with `--hatch-rate` applied.
    pub fn goose_configuration(&self) -> anyhow::Result<GooseConfiguration> {
        let mut config = self.goose.clone();
        if let Some(rate) = &self.hatch_rate {
            if config.increase_rate.is_some() {
                anyhow::bail!("--hatch-rate and --increase-rate name the same thing: give one");
            }
            config.increase_rate = Some(rate.clone());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_and_goose_flags_parse_together() {
        let o = Opts::try_parse_from([
            "journey",
            "--users",
            "3",
            "--hatch-rate",
            "50",
            "--run-time",
            "2s",
            "--rooms",
            "4",
            "--think",
            "10ms..20ms",
        ])
        .expect("valid");
        assert_eq!(o.goose.users, Some(3));
        assert_eq!(o.rooms, 4);
        assert_eq!(
            o.think,
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!(
            o.goose_configuration()
                .expect("ok")
                .increase_rate
                .as_deref(),
            Some("50")
        );
        assert!(Opts::try_parse_from(["journey", "--think", "2s..1s"]).is_err());
        assert!(Opts::try_parse_from(["journey", "--rooms", "0"]).is_err());
        let both = Opts::try_parse_from(["journey", "--hatch-rate", "5", "--increase-rate", "5"])
            .expect("parses");
        assert!(both.goose_configuration().is_err());
    }
}
