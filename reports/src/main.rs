//! `reports render|compare|merge|matrix`: see `--help`.

use std::process::ExitCode;

use clap::Parser as _;
use reports::cli::{Opts, run};

fn main() -> ExitCode {
    match run(Opts::parse()) {
        Ok(code) => code,
        Err(e) => {
            edge::print_error("reports", &e);
            ExitCode::from(2)
        }
    }
}
