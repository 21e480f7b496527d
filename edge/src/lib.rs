//! What the tools print at their edge. An error whose text already holds its cause's text
//! (thiserror's `"{0}"` beside `#[from]`, a context that quotes what it wraps) would print
//! that cause twice in anyhow's `{:#}`; [`chain`] says each cause once.

/// `err` and its causes joined by ": ", leaving out a cause whose text the line already
/// holds.
pub fn chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Prints `tool: error: <chain>` on stderr.
pub fn print_error(tool: &str, err: &anyhow::Error) {
    eprintln!("{tool}: error: {}", chain(err));
}

#[cfg(test)]
mod tests {
    use super::chain;
    use anyhow::Context as _;

    #[derive(Debug, thiserror::Error)]
    enum Quoting {
        #[error("{path} is not JSON: {source}")]
        NotJson {
            path: String,
            source: std::num::ParseIntError,
        },
    }

    #[test]
    fn a_cause_is_said_once() {
        let source = "x".parse::<u8>().expect_err("not a number");
        let err = anyhow::Error::new(Quoting::NotJson {
            path: "r.json".into(),
            source,
        });
        assert_eq!(format!("{err:#}").matches("invalid digit").count(), 2);
        assert_eq!(
            chain(&err),
            "r.json is not JSON: invalid digit found in string"
        );
    }

    #[test]
    fn distinct_causes_are_all_said() {
        let err = Err::<(), _>(std::io::Error::other("refused"))
            .context("connect to 127.0.0.1:9")
            .context("--target http://127.0.0.1:9")
            .expect_err("an error");
        assert_eq!(
            chain(&err),
            "--target http://127.0.0.1:9: connect to 127.0.0.1:9: refused"
        );
    }
}
