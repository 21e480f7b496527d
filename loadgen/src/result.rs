//! What loadgen adds to its result ([`run_result`]): the run's configuration and the machine.

use run_result::result::{Config, Machine};

use crate::dist::Dist;
use crate::opts::{Arrival, Opts};
use crate::workload::{self, Layout, Process, Workload};

/// The result's record of `opts`, the workload and what the run resolved. For a workload
/// of several groups, the grid's fields say the whole: every room, the largest room and the
/// most senders in one, the mean rate per room; `workload` says each group.
pub fn config(
    opts: &Opts,
    workload: &Workload,
    layout: &Layout,
    (targets, embedded): (&[String], bool),
    sources: &[String],
    workers: usize,
) -> Config {
    let rooms = layout.rooms.len() as u32;
    let first = &workload.groups[0];
    let sizes: Vec<String> = workload
        .groups
        .iter()
        .filter(|g| !matches!(g.size, Dist::Fixed(_)))
        .map(|g| g.size.to_string())
        .collect();
    let size_min = workload
        .groups
        .iter()
        .map(|g| g.size.min())
        .min()
        .unwrap_or(0);
    let rate: f64 = layout.rooms.iter().flat_map(|r| &r.senders).sum::<f64>();
    Config {
        targets: targets.to_vec(),
        embedded_server: embedded,
        rooms,
        clients: layout.rooms.iter().map(|r| r.members).max().unwrap_or(0),
        senders: layout.max_senders(),
        rate: if opts.workload.is_none() {
            opts.rate
        } else {
            rate / f64::from(rooms.max(1))
        },
        arrival: match first.arrival {
            Process::Fixed => Arrival::Fixed,
            _ => Arrival::Poisson,
        },
        duration_s: workload.duration().as_secs_f64(),
        warmup_s: workload.warmup.as_secs_f64(),
        settle_s: workload.settle.as_secs_f64(),
        connect_rate: opts.connect_rate,
        size: (size_min as usize).max(stamp::MIN_SIZE),
        sizes: (!sizes.is_empty()).then(|| sizes.join("; ")),
        text: {
            // Each distinct fill once, in the groups' order.
            let mut texts: Vec<String> = Vec::new();
            for g in workload.groups.iter().filter(|g| g.text.is_words()) {
                let text = g.text.to_string();
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
            (!texts.is_empty()).then(|| texts.join("; "))
        },
        seed: workload.seed,
        source_ips: sources.to_vec(),
        workers,
        ws_path: opts.ws_path.as_str().into(),
        room_style: opts.room_style.as_str().into(),
        headers: opts
            .headers
            .iter()
            .map(|h| h.name.to_string())
            .chain(opts.cookie.as_ref().map(|_| "cookie".to_owned()))
            .collect(),
        churn_session_s: workload
            .groups
            .iter()
            .find_map(|g| g.session)
            .map(|d| d.as_secs_f64()),
        replies: Some(
            workload
                .groups
                .iter()
                .map(|g| g.replies)
                .fold(0.0, f64::max),
        )
        .filter(|r| *r > 0.0),
        reconnect_s: workload
            .reconnect
            .map(|r| [r.min.as_secs_f64(), r.max.as_secs_f64()]),
        workload: Some(workload::print::to_toml(workload)),
        workload_file: opts.workload.as_ref().map(|p| p.display().to_string()),
    }
}

/// The machine loadgen runs on.
pub fn machine() -> Machine {
    Machine {
        hostname: hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
