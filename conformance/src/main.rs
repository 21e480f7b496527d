//! `conformance --target http://127.0.0.1:8000`: see `--help`.

use std::process::ExitCode;

use clap::Parser as _;
use conformance::cli::{Opts, run};

#[tokio::main]
async fn main() -> ExitCode {
    match run(Opts::parse()).await {
        Ok(code) => code,
        Err(e) => {
            edge::print_error("conformance", &e);
            ExitCode::from(2)
        }
    }
}
