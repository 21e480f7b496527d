//! `--trace-failed DIR` and `--trace-all`: where each case's wire log (`rawws::trace`) goes,
//! and which are kept.

/// A file `DIR/<case>.txt` per failed case (with `all`, per case).
#[derive(Debug, Clone)]
pub struct Traces {
    pub dir: std::path::PathBuf,
    pub all: bool,
}

impl Traces {
    /// Writes `trace` as `<id>.txt`, with `title` (the case, its level and verdict) and its
    /// evidence on top, when the case `failed` or every case is kept, and returns where; a file
    /// that cannot be written is said in the evidence.
    pub fn keep(
        &self,
        (id, title, failed): (&str, &str, bool),
        evidence: &mut String,
        trace: &rawws::trace::Trace,
    ) -> Option<std::path::PathBuf> {
        if !self.all && !failed {
            return None;
        }
        let path = self.dir.join(format!("{id}.txt"));
        let text = format!("{title}\n{evidence}\n\n{}", trace.render());
        match std::fs::write(&path, text) {
            Ok(()) => Some(path),
            Err(e) => {
                evidence.push_str(&format!(
                    " (its trace could not be written to {}: {e})",
                    path.display()
                ));
                None
            }
        }
    }
}
