//! `testpki DIR NAME...`: writes a fresh test CA and a server certificate for the names into
//! DIR (ca.pem, cert.pem, key.pem, other-ca.pem), for test scripts (the Nginx deployment test).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: testpki DIR NAME... (names default to localhost)");
        return ExitCode::from(2);
    };
    let names: Vec<String> = args.collect();
    let names: Vec<&str> = if names.is_empty() {
        vec!["localhost"]
    } else {
        names.iter().map(String::as_str).collect()
    };
    match std::fs::create_dir_all(&dir).and_then(|()| testkit::Pki::create(&dir, &names)) {
        Ok(pki) => {
            println!("{}", pki.ca.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("testpki: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
