//! What loadgen adds to its result ([`run_result`]): the run's configuration and the machine.

use run_result::result::{Config, Machine};

use crate::opts::Opts;

/// The result's record of `opts` and what the run resolved.
pub fn config(
    opts: &Opts,
    targets: &[String],
    embedded: bool,
    sources: &[String],
    workers: usize,
) -> Config {
    Config {
        targets: targets.to_vec(),
        embedded_server: embedded,
        rooms: opts.rooms,
        clients: opts.clients,
        senders: opts.senders,
        rate: opts.rate,
        arrival: opts.arrival,
        duration_s: opts.duration.as_secs_f64(),
        warmup_s: opts.warmup.as_secs_f64(),
        settle_s: opts.settle.as_secs_f64(),
        connect_rate: opts.connect_rate,
        size: (opts.size.min() as usize).max(stamp::MIN_SIZE),
        sizes: match opts.size {
            crate::dist::Dist::Fixed(_) => None,
            ref d => Some(d.to_string()),
        },
        text: (opts.text == stamp::Fill::Words).then(|| "words".to_owned()),
        seed: opts.seed,
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
        churn_session_s: opts.churn_session().map(|d| d.as_secs_f64()),
        reconnect_s: opts.reconnect.then_some([
            opts.reconnect_min.as_secs_f64(),
            opts.reconnect_max.as_secs_f64(),
        ]),
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
