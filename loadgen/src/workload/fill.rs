//! `--text` and a group's `text`: `x`, `words`, or `words:FILE`, a list of the user's words.

use std::path::{Path, PathBuf};

use stamp::{Fill, WordList};

/// The fill `s` names; a relative FILE is found from `base` (the workload file's directory),
/// or from the working directory without one.
pub fn parse(s: &str, base: Option<&Path>) -> Result<Fill, String> {
    match s {
        "x" => Ok(Fill::X),
        "words" => Ok(Fill::Words),
        _ => match s.strip_prefix("words:") {
            Some(file) if !file.is_empty() => read(Path::new(file), base).map(Fill::List),
            _ => Err(format!("{s:?}: x, words or words:FILE")),
        },
    }
}

fn read(file: &Path, base: Option<&Path>) -> Result<WordList, String> {
    let path: PathBuf = match base {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the words of {}: {e}", path.display()))?;
    WordList::new(path.display().to_string(), &text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_read_from_beside_the_workload() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("chat.txt"), "gg wp\nbrb\n").expect("write");
        let Fill::List(list) = parse("words:chat.txt", Some(dir.path())).expect("valid") else {
            panic!("a list");
        };
        assert_eq!(list.words().len(), 3);
        assert_eq!(
            list.source(),
            dir.path().join("chat.txt").display().to_string()
        );
        let missing = parse("words:nowhere.txt", Some(dir.path())).expect_err("no such file");
        assert!(missing.contains("nowhere.txt"), "{missing}");
        assert_eq!(parse("words", None), Ok(Fill::Words));
        assert!(parse("words:", None).is_err());
        assert!(parse("lorem", None).is_err());
    }
}
