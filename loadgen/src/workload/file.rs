//! `--workload FILE`: the TOML format (docs/loadgen.md, "Workloads"). Strict: an unknown key,
//! a value of the wrong kind or a bad distribution is refused with the line it is on.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::values::{Dur, Share, Text};
use super::{
    Activity, Group, Impair, Members, Process, Rate, Reconnect, Senders, SlowReaders, Stage,
    Workload,
};
use crate::dist::Dist;
use run_result::Threshold;
use stamp::Fill;

/// A workload file that cannot be used; the text names the file, the line and the fix.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read workload {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("workload {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads and checks the workload in `path`.
pub fn read(path: &Path) -> Result<Workload, WorkloadError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_in(&text, path.parent()).map_err(|message| WorkloadError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

/// Parses and checks a workload's text (a relative word list's path from the working
/// directory).
pub fn parse(text: &str) -> Result<Workload, String> {
    parse_in(text, None)
}

/// Parses and checks a workload's text, from a file in `dir`.
fn parse_in(text: &str, dir: Option<&Path>) -> Result<Workload, String> {
    let file: FileWorkload = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
    let at = |span: std::ops::Range<usize>| format!("line {}", line_of(text, span.start));
    if file.groups.is_empty() {
        return Err("no [[group]]: a workload needs at least one group of rooms".into());
    }
    let groups = file
        .groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let span = g.span();
            group(i, g.into_inner(), dir).map_err(|e| format!("{}: {e}", at(span)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "two groups are named {:?}: names must differ",
            w[0]
        ));
    }
    let stages = match (file.stages.is_empty(), file.duration) {
        (false, Some(_)) => {
            return Err(
                "duration and [[stage]] both given: the stages' durations make the run".into(),
            );
        }
        (true, d) => vec![Stage {
            name: "run".into(),
            duration: d.map_or(Duration::from_secs(10), |d| d.0.0),
            rate: 1.0,
            ramp: Duration::ZERO,
            members: 1.0,
        }],
        (false, None) => file
            .stages
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let span = s.span();
                stage(i, s.into_inner()).map_err(|e| format!("{}: {e}", at(span)))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    for s in &stages {
        if s.duration.subsec_nanos() != 0 || s.duration.is_zero() {
            return Err(format!(
                "stage {:?}: its duration must be a whole number of seconds above zero, so \
                 that stages line up with the per-second series",
                s.name
            ));
        }
    }
    Ok(Workload {
        seed: file.seed.unwrap_or(1),
        warmup: file.warmup.map_or(Duration::from_secs(2), |d| d.0.0),
        settle: file.settle.map_or(Duration::from_secs(2), |d| d.0.0),
        groups,
        stages,
        thresholds: file.thresholds.into_iter().map(|t| t.0).collect(),
        reconnect: file.reconnect.map(reconnect).transpose()?,
    })
}

/// The line (from 1) of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn group(i: usize, g: FileGroup, dir: Option<&Path>) -> Result<Group, String> {
    let name = g.name.unwrap_or_else(|| format!("group{}", i + 1));
    let members = match g.members {
        MembersField::List(list) => {
            if list.is_empty() || list.contains(&0) {
                return Err(format!(
                    "group {name:?}: members lists rooms of at least one member"
                ));
            }
            if g.rooms.is_some_and(|r| r as usize != list.len()) {
                return Err(format!(
                    "group {name:?}: rooms = {} but members lists {} rooms (give one or the \
                     other)",
                    g.rooms.unwrap_or(0),
                    list.len()
                ));
            }
            Members::List(list)
        }
        MembersField::Drawn(d) => {
            if d.0.min() == 0 {
                return Err(format!("group {name:?}: rooms have at least one member"));
            }
            Members::Drawn(d.0)
        }
    };
    let rooms = match (&members, g.rooms) {
        (Members::List(list), _) => list.len() as u32,
        (Members::Drawn(_), Some(r)) if r > 0 => r,
        (Members::Drawn(_), _) => {
            return Err(format!("group {name:?}: rooms = N (at least 1) is needed"));
        }
    };
    let rate = match (g.rate, g.rate_per_minute) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "group {name:?}: give rate (per second) or rate_per_minute, not both"
            ));
        }
        (Some(r), None) if r.is_finite() && r >= 0.0 => Rate::PerSecond(r),
        (Some(r), None) => return Err(format!("group {name:?}: rate {r} is not a rate")),
        (None, Some(d)) => Rate::PerMinute(d.0),
        (None, None) => Rate::PerSecond(1.0),
    };
    let size = g.size.map_or(Dist::Fixed(64), |s| s.0);
    if size.max() < stamp::MIN_SIZE as u64 || size.max() > stamp::MAX_SIZE as u64 {
        return Err(format!(
            "group {name:?}: size {size} is outside {}..{} bytes",
            stamp::MIN_SIZE,
            stamp::MAX_SIZE
        ));
    }
    let replies = match g.replies {
        None => 0.0,
        Some(r) if (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            return Err(format!(
                "group {name:?}: replies {r} is not a chance (0 to 1)"
            ));
        }
    };
    let text = match g.text {
        Some(t) => super::fill::parse(&t, dir).map_err(|e| format!("group {name:?}: {e}"))?,
        None => Fill::X,
    };
    Ok(Group {
        name,
        rooms,
        members,
        senders: g.senders.map_or(Senders::Count(1), |s| s.0),
        activity: g.activity.map_or(Activity::Even, |a| a.0),
        rate,
        arrival: g.arrival.map_or(Process::Fixed, |a| a.0),
        size,
        text,
        session: g.session.map(|s| s.0.0),
        replies,
        slow_readers: g.slow_readers.map(|s| s.0),
        impair: g.impair.map(|s| s.0),
    })
}

fn reconnect(r: FileReconnect) -> Result<Reconnect, String> {
    let min = r.min.map_or(Duration::from_millis(100), |d| d.0.0);
    let max = r.max.map_or(Duration::from_secs(5), |d| d.0.0);
    if min.is_zero() || max < min {
        return Err(format!(
            "[reconnect]: min ({}) must be above zero and at most max ({})",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(Reconnect { min, max })
}

fn stage(i: usize, s: FileStage) -> Result<Stage, String> {
    let name = s.name.unwrap_or_else(|| format!("stage{}", i + 1));
    let rate = s.rate.unwrap_or(1.0);
    if !(rate.is_finite() && rate >= 0.0) {
        return Err(format!(
            "stage {name:?}: rate {rate} is not a multiplier (0 or more)"
        ));
    }
    let ramp = s.ramp.map_or(Duration::ZERO, |r| r.0.0);
    if i == 0 && !ramp.is_zero() {
        return Err(format!(
            "stage {name:?}: the first stage has no stage before it to ramp from (the \
             warm-up runs at its rate); put a stage at the starting rate first"
        ));
    }
    if ramp > s.duration.0.0 {
        return Err(format!("stage {name:?}: its ramp is longer than the stage"));
    }
    let members = match s.members {
        None => 1.0,
        Some(m) => m.0.0,
    };
    Ok(Stage {
        name,
        duration: s.duration.0.0,
        rate,
        ramp,
        members,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWorkload {
    seed: Option<u64>,
    warmup: Option<Text<Dur>>,
    settle: Option<Text<Dur>>,
    duration: Option<Text<Dur>>,
    #[serde(default)]
    thresholds: Vec<Text<Threshold>>,
    #[serde(rename = "group", default)]
    groups: Vec<Spanned<FileGroup>>,
    #[serde(rename = "stage", default)]
    stages: Vec<Spanned<FileStage>>,
    reconnect: Option<FileReconnect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReconnect {
    min: Option<Text<Dur>>,
    max: Option<Text<Dur>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    name: Option<String>,
    rooms: Option<u32>,
    members: MembersField,
    senders: Option<Text<Senders>>,
    activity: Option<Text<Activity>>,
    rate: Option<f64>,
    rate_per_minute: Option<Text<Dist>>,
    arrival: Option<Text<Process>>,
    size: Option<Text<Dist>>,
    text: Option<String>,
    session: Option<Text<Dur>>,
    replies: Option<f64>,
    slow_readers: Option<Text<SlowReaders>>,
    impair: Option<Text<Impair>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStage {
    name: Option<String>,
    duration: Text<Dur>,
    rate: Option<f64>,
    ramp: Option<Text<Dur>>,
    members: Option<Text<Share>>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a list of room sizes such as [5000, 4] or a distribution \
                              such as 50 or \"zipf:s=1.2,min=2,max=2000\""
)]
enum MembersField {
    List(Vec<u32>),
    Drawn(Text<Dist>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of `text`, which must be refused.
    fn refused(text: &str) -> String {
        parse(text).expect_err("refused")
    }

    #[test]
    fn each_mistake_is_refused_with_its_line() {
        let cases = [
            // An unknown key (a typo).
            (
                "[[group]]\nrooms = 2\nmembers = 5\nsender = 1\n",
                "line 4",
                "unknown field",
            ),
            // A distribution that cannot be sampled.
            (
                "[[group]]\nrooms = 2\nmembers = \"zipf:s=0,min=2,max=9\"\n",
                "line 3",
                "zipf",
            ),
            // A rate of the wrong kind.
            (
                "[[group]]\nrooms = 2\nmembers = 5\nrate = \"fast\"\n",
                "line 4",
                "rate",
            ),
            // Both kinds of rate.
            (
                "[[group]]\nrooms = 2\nmembers = 5\nrate = 1\nrate_per_minute = 5\n",
                "line 1",
                "not both",
            ),
            // A bad arrival process.
            (
                "\n[[group]]\nrooms = 1\nmembers = 5\narrival = \"bursty\"\n",
                "line 5",
                "onoff",
            ),
            // A ramp on the first stage.
            (
                "[[group]]\nrooms = 1\nmembers = 2\n[[stage]]\nduration = \"2s\"\nramp = \"1s\"\n",
                "line 4",
                "first stage",
            ),
            // A share above all.
            (
                "[[group]]\nrooms = 1\nmembers = 2\nsenders = \"150%\"\n",
                "line 4",
                "share",
            ),
            // A stage's share of members above all.
            (
                "[[group]]\nrooms = 1\nmembers = 2\n[[stage]]\nduration = \"2s\"\nmembers = 2\n",
                "line 6",
                "share of the members",
            ),
            // A list of words that is not there.
            (
                "[[group]]\nrooms = 1\nmembers = 2\ntext = \"words:/nowhere/chat.txt\"\n",
                "line 1",
                "/nowhere/chat.txt",
            ),
            // A text that is none of the three.
            (
                "[[group]]\nrooms = 1\nmembers = 2\ntext = \"lorem\"\n",
                "line 1",
                "words:FILE",
            ),
            // Backoff bounds the wrong way round.
            (
                "[reconnect]\nmin = \"2s\"\nmax = \"1s\"\n[[group]]\nrooms = 1\nmembers = 2\n",
                "[reconnect]",
                "at most max",
            ),
            // A chance of answering above 1.
            (
                "[[group]]\nname = \"g\"\nrooms = 1\nmembers = 2\nreplies = 1.5\n",
                "group \"g\"",
                "not a chance",
            ),
            // A reconnect setting that does not exist.
            (
                "[reconnect]\nattempts = 3\n[[group]]\nrooms = 1\nmembers = 2\n",
                "line 2",
                "unknown field",
            ),
        ];
        for (text, line, words) in cases {
            let e = refused(text);
            assert!(e.contains(line) && e.contains(words), "{text:?}: {e}");
        }
    }

    #[test]
    fn whole_file_mistakes_say_what_to_do() {
        assert!(refused("seed = 1\n").contains("at least one group"));
        let stages =
            "duration = \"5s\"\n[[group]]\nrooms = 1\nmembers = 2\n[[stage]]\nduration = \"1s\"\n";
        assert!(refused(stages).contains("both given"));
        let half = "[[group]]\nrooms = 1\nmembers = 2\n[[stage]]\nduration = \"1500ms\"\n";
        assert!(refused(half).contains("whole number of seconds"));
        let twins = "[[group]]\nname = \"a\"\nrooms = 1\nmembers = 2\n[[group]]\nname = \"a\"\nrooms = 1\nmembers = 2\n";
        assert!(refused(twins).contains("named \"a\""));
        let tiny = "[[group]]\nrooms = 1\nmembers = 2\nsize = 10\n";
        assert!(refused(tiny).contains("outside 48"));
    }

    #[test]
    fn defaults_make_a_small_steady_workload() {
        let w = parse("[[group]]\nrooms = 3\nmembers = 4\n").expect("valid");
        let g = &w.groups[0];
        assert_eq!((g.name.as_str(), g.rooms), ("group1", 3));
        assert_eq!(g.senders, Senders::Count(1));
        assert_eq!(g.rate, Rate::PerSecond(1.0));
        assert_eq!(w.stages.len(), 1);
        assert_eq!(w.duration(), Duration::from_secs(10));
    }
}
