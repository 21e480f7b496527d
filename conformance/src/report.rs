//! The suite's outputs: the table, JUnit XML for CI systems, JSON for the reports.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use crate::case::Outcome;
use crate::runner::{CaseReport, Profile};

/// The `schema_version` this writes; `reports matrix` reads these.
pub const SCHEMA_VERSION: u32 = 2;

/// A whole run, as `--json` writes it and `reports matrix` reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteReport {
    pub schema_version: u32,
    pub target: String,
    /// `--backend`: the name the conformance matrix (`reports matrix`) gives this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    pub profile: Profile,
    pub cases: Vec<CaseReport>,
    pub passed: usize,
    pub failed: usize,
    pub non_strict: usize,
    pub informational: usize,
    /// FAILs listed in `--known-failures` (upstream bugs).
    pub known: usize,
    /// Cases listed in `--known-failures` that passed in this run.
    pub known_passing: Vec<String>,
}

impl SuiteReport {
    pub fn new(target: String, profile: Profile, cases: Vec<CaseReport>) -> Self {
        let count = |o| cases.iter().filter(|c| c.verdict == o).count();
        Self {
            schema_version: SCHEMA_VERSION,
            passed: count(Outcome::Pass),
            failed: count(Outcome::Fail),
            non_strict: count(Outcome::NonStrict),
            informational: count(Outcome::Informational),
            known: count(Outcome::Known),
            known_passing: Vec::new(),
            backend: None,
            target,
            profile,
            cases,
        }
    }

    /// Names the backend (`--backend`).
    pub fn with_backend(mut self, backend: Option<String>) -> Self {
        self.backend = backend;
        self
    }

    /// Records the listed known failures that passed (see [`crate::known`]).
    pub fn with_known_passing(mut self, ids: Vec<String>) -> Self {
        self.known_passing = ids;
        self
    }

    /// The closing line: `N passed, N failed` with the other verdicts beside it.
    pub fn closing_line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed ({} non-strict, {} informational",
            self.passed, self.failed, self.non_strict, self.informational
        );
        if self.known > 0 {
            let _ = write!(line, ", {} known upstream", self.known);
        }
        line.push(')');
        line
    }

    /// The human table.
    pub fn table(&self) -> String {
        let width = self.cases.iter().map(|c| c.id.len()).max().unwrap_or(10);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "conformance of {} ({:?} profile)\n",
            self.target, self.profile
        );
        for c in &self.cases {
            let _ = writeln!(
                out,
                "{:<width$}  {:<13}  {}",
                c.id,
                c.verdict.label(),
                one_line(&c.evidence)
            );
        }
        for id in &self.known_passing {
            let _ = writeln!(
                out,
                "\nnote: {id} is listed as a known failure but passed: is the upstream bug fixed?"
            );
        }
        let _ = writeln!(out, "\n{}", self.closing_line());
        out
    }

    /// JUnit XML: FAIL is a failure, NON-STRICT and INFORMATIONAL pass with the evidence kept.
    pub fn junit(&self) -> String {
        let mut suite = TestSuite::new("conformance");
        for c in &self.cases {
            let mut status = match c.verdict {
                Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                _ => TestCaseStatus::success(),
            };
            status.set_message(c.evidence.clone());
            let mut case = TestCase::new(c.id.clone(), status);
            case.set_time(Duration::from_millis(c.duration_ms));
            case.set_system_out(format!("{}: {}", c.verdict.label(), c.evidence));
            suite.add_test_case(case);
        }
        let mut report = Report::new(format!("conformance of {}", self.target));
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|e| format!("<!-- cannot serialise: {e} -->"))
    }
}

fn one_line(s: &str) -> String {
    crate::wire::clip(&s.replace('\n', " "))
}
