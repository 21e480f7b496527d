//! What the tools print at their edge. An error whose text already holds its cause's text
//! (thiserror's `"{0}"` beside `#[from]`, a context that quotes what it wraps) would print
//! that cause twice in anyhow's `{:#}`; [`chain`] says each cause once. A file a tool will
//! write at the end of a long run is checked before the run by [`check_writable`].

/// Whether a file can be written at `path`, checked before a long run rather than found out
/// after it: the path is no folder, its folder exists, and a file can be made there (a probe,
/// removed at once) or the existing file opened for writing (not truncated). `-` (stdout)
/// always can.
pub fn check_writable(path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if path.as_os_str() == "-" {
        return Ok(());
    }
    if path.is_dir() {
        anyhow::bail!("cannot write {}: it is a folder", path.display());
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        anyhow::bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            folder.display()
        );
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let probe = folder.join(format!(".write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| {
            format!(
                "cannot write {}: no file can be made in {}",
                path.display(),
                folder.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

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
    use super::{chain, check_writable};

    #[test]
    fn unwritable_paths_are_named_before_anything_runs() {
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(check_writable(&dir.path().join("result.json")).is_ok());
        assert!(check_writable(std::path::Path::new("-")).is_ok());
        let missing = dir.path().join("no/such/dir/x.json");
        let err = check_writable(&missing).expect_err("no folder").to_string();
        assert!(err.contains("does not exist"), "{err}");
        let err = check_writable(dir.path())
            .expect_err("a folder")
            .to_string();
        assert!(err.contains("it is a folder"), "{err}");
        // Nothing was left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("listed").count(), 0);
    }
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
