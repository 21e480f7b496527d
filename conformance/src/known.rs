//! Known upstream failures (`--known-failures FILE`): a case that FAILs against a backend for
//! a reason outside the backend under test (an upstream bug with a link) is graded KNOWN: shown
//! in the table and the reports with its reason, not failing the run. A listed case that
//! passes is flagged, so the list does not outlive the bug.
//!
//! The file is TOML:
//!
//! ```toml
//! [[known]]
//! case = "model.programs"          # a case ID
//! backend = "django-mixed"         # matched against --backend
//! reason = "Django loses a message when a neighbour disconnects mid-receive"
//! links = ["https://github.com/django/channels/issues/1683"]
//!
//! [[known]]
//! case = "*"                       # every case, but only with this symptom:
//! symptom = "nothing within"       # a FAIL whose evidence contains this text
//! backend = "django-mixed"
//! reason = "..."
//! links = ["..."]
//! ```
//!
//! `symptom` narrows any entry to failures whose evidence contains it; a `"*"` entry must
//! have one, so that an upstream bug with one way of showing (a message that never arrives)
//! excuses that and nothing else: any other failure of any case still fails. A `"*"` entry
//! does not flag the cases that pass (most do); the run's notes count what it excused.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::Outcome;
use crate::runner::CaseReport;

/// One known failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailure {
    /// A case ID, or `*` for every case (with a `symptom`).
    pub case: String,
    pub backend: String,
    /// Only a failure whose evidence contains this text is known.
    #[serde(default)]
    pub symptom: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub links: Vec<String>,
}

/// The case ID that stands for every case.
pub const EVERY_CASE: &str = "*";

impl KnownFailure {
    /// Whether this entry excuses a failure of `case` against `backend` with `evidence`.
    fn excuses(&self, case: &str, backend: &str, evidence: &str) -> bool {
        self.backend == backend
            && (self.case == case || self.case == EVERY_CASE)
            && self
                .symptom
                .as_ref()
                .is_none_or(|s| evidence.contains(s.as_str()))
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailures {
    #[serde(default)]
    pub known: Vec<KnownFailure>,
}

/// Why a known-failures file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KnownError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a known-failures file: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: no case named {case:?} (see --list --profile all)")]
    UnknownCase { path: String, case: String },
    #[error("{path}: the entry for {case:?} needs a reason and at least one link")]
    Incomplete { path: String, case: String },
    #[error(
        "{path}: an entry for every case (\"*\") needs a symptom: the text of the evidence \
         it excuses, so that no other failure is hidden"
    )]
    EveryCaseWithoutSymptom { path: String },
}

impl KnownFailures {
    /// Reads and checks the file: every case must exist, every entry needs a reason and a link.
    pub fn load(path: &Path, case_ids: &[&str]) -> Result<Self, KnownError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KnownError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: Self = toml::from_str(&text).map_err(|source| KnownError::Parse {
            path: shown.clone(),
            source: Box::new(source),
        })?;
        for entry in &file.known {
            if entry.case == EVERY_CASE {
                if entry.symptom.as_ref().is_none_or(|s| s.trim().is_empty()) {
                    return Err(KnownError::EveryCaseWithoutSymptom { path: shown });
                }
            } else if !case_ids.contains(&entry.case.as_str()) {
                return Err(KnownError::UnknownCase {
                    path: shown,
                    case: entry.case.clone(),
                });
            }
            if entry.reason.trim().is_empty() || entry.links.is_empty() {
                return Err(KnownError::Incomplete {
                    path: shown,
                    case: entry.case.clone(),
                });
            }
        }
        Ok(file)
    }

    /// Grades the reports of a run against `backend`: a listed FAIL (with the entry's
    /// symptom, if it has one) becomes KNOWN (the evidence keeps what was seen, after the
    /// reason and links); returns the IDs of cases listed by name that passed.
    pub fn apply(&self, backend: &str, reports: &mut [CaseReport]) -> Vec<String> {
        let mut passing = Vec::new();
        for report in reports {
            match report.verdict {
                Outcome::Fail => {
                    let Some(entry) = self
                        .known
                        .iter()
                        .find(|k| k.excuses(&report.id, backend, &report.evidence))
                    else {
                        continue;
                    };
                    report.verdict = Outcome::Known;
                    report.evidence = format!(
                        "known upstream failure: {} ({}); seen: {}",
                        entry.reason,
                        entry.links.join(", "),
                        report.evidence
                    );
                }
                Outcome::Pass
                    if self
                        .known
                        .iter()
                        .any(|k| k.case == report.id && k.backend == backend) =>
                {
                    passing.push(report.id.clone());
                }
                _ => {}
            }
        }
        passing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Level;

    fn report(id: &str, verdict: Outcome) -> CaseReport {
        CaseReport {
            id: id.into(),
            level: Level::Core,
            description: String::new(),
            verdict,
            evidence: "what was seen".into(),
            duration_ms: 1,
            trace: None,
        }
    }

    fn file() -> KnownFailures {
        toml::from_str(
            r#"
            [[known]]
            case = "model.programs"
            backend = "mixed"
            reason = "upstream loss"
            links = ["https://example.invalid/1"]
            "#,
        )
        .expect("parses")
    }

    #[test]
    fn a_listed_failure_is_known_and_a_listed_pass_is_flagged() {
        let known = file();
        let mut reports = vec![
            report("model.programs", Outcome::Fail),
            report("broadcast.echo", Outcome::Fail),
        ];
        assert!(known.apply("mixed", &mut reports).is_empty());
        assert_eq!(reports[0].verdict, Outcome::Known);
        assert!(reports[0].evidence.contains("upstream loss"));
        assert!(reports[0].evidence.contains("what was seen"));
        assert_eq!(
            reports[1].verdict,
            Outcome::Fail,
            "unlisted cases stay FAIL"
        );

        let mut passed = vec![report("model.programs", Outcome::Pass)];
        assert_eq!(known.apply("mixed", &mut passed), vec!["model.programs"]);
    }

    #[test]
    fn an_entry_for_every_case_excuses_its_symptom_and_nothing_else() {
        let known: KnownFailures = toml::from_str(
            r#"
            [[known]]
            case = "*"
            symptom = "nothing within"
            backend = "mixed"
            reason = "upstream loss"
            links = ["https://example.invalid/1"]
            "#,
        )
        .expect("parses");
        let mut lost = report("rooms.query-ignored", Outcome::Fail);
        lost.evidence = "the plain member: nothing within 3000 ms".into();
        let mut wrong = report("payload.values", Outcome::Fail);
        wrong.evidence = "vector 3 came back as \"x\"".into();
        let mut reports = vec![lost, wrong, report("broadcast.self-echo", Outcome::Pass)];
        assert!(
            known.apply("mixed", &mut reports).is_empty(),
            "passes under \"*\" are not flagged"
        );
        assert_eq!(reports[0].verdict, Outcome::Known);
        assert_eq!(
            reports[1].verdict,
            Outcome::Fail,
            "another symptom still fails"
        );
        let mut elsewhere = vec![report("rooms.query-ignored", Outcome::Fail)];
        elsewhere[0].evidence = "nothing within 3000 ms".into();
        known.apply("django-memory", &mut elsewhere);
        assert_eq!(
            elsewhere[0].verdict,
            Outcome::Fail,
            "another backend still fails"
        );
    }

    #[test]
    fn an_entry_for_every_case_without_a_symptom_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("known.toml");
        std::fs::write(
            &path,
            "[[known]]\ncase = \"*\"\nbackend = \"b\"\nreason = \"r\"\nlinks = [\"l\"]\n",
        )
        .expect("write");
        let e = KnownFailures::load(&path, &["a.b"]).expect_err("refused");
        assert!(e.to_string().contains("needs a symptom"), "{e}");
    }

    #[test]
    fn entries_apply_to_their_backend_only() {
        let mut reports = vec![report("model.programs", Outcome::Fail)];
        file().apply("django-memory", &mut reports);
        assert_eq!(reports[0].verdict, Outcome::Fail);
    }
}
