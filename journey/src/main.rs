//! `journey --users 200 --hatch-rate 50 --run-time 30s --report-file report.html`: see `--help`.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    match journey::run(journey::Opts::parse()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            edge::print_error("journey", &e);
            ExitCode::from(1)
        }
    }
}
