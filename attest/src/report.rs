//! The verification report: a list of named checks, each passed or failed with a
//! precise reason, printed one line per check or serialised as JSON (`--json`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::keys::KeyId;
use crate::statement::Statement;

/// Names of the checks [`crate::verify_bundle`] runs, in report order. Other crates may
/// add their own (e.g. `statistics`) with [`VerifyReport::add_check`].
pub mod check {
    /// The envelope file exists, is JSON, is a DSSE envelope with a base64 payload.
    pub const ENVELOPE: &str = "envelope";
    /// `payloadType` is `application/vnd.in-toto+json`.
    pub const PAYLOAD_TYPE: &str = "payloadType";
    /// One line per signature: which trusted key made it, or why none did.
    pub const SIGNATURE: &str = "signature";
    /// Enough distinct trusted keys signed.
    pub const THRESHOLD: &str = "threshold";
    /// The payload is an in-toto Statement v1.
    pub const STATEMENT: &str = "statement";
    /// `predicateType` is speedcert's bundle predicate.
    pub const PREDICATE_TYPE: &str = "predicateType";
    /// No subject name is listed twice.
    pub const DUPLICATES: &str = "duplicates";
    /// Every subject name and every bundle entry stays inside the bundle.
    pub const PATH: &str = "path";
    /// A file's SHA-256 equals its subject's.
    pub const DIGEST: &str = "digest";
    /// Every subject is a file of the bundle.
    pub const MISSING: &str = "missing";
    /// Every file of the bundle is a subject.
    pub const EXTRA: &str = "extra";
}

/// How a check ended. `Warn` is informational and does not make a bundle fake (e.g. a
/// co-signature by a key you do not trust, when enough trusted keys signed).
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Warn,
}

impl Outcome {
    fn tag(self) -> &'static str {
        match self {
            Outcome::Pass => "ok",
            Outcome::Fail => "FAIL",
            Outcome::Warn => "warn",
        }
    }
}

/// One named check and its result.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which check (see [`check`]).
    pub check: String,
    pub outcome: Outcome,
    /// What it is about: a file name, a signature number, a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why it failed, or a short note when it passed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// For digests: the full hex the attestation gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// For digests: the full hex of the file on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Check {
    pub fn new(
        check: &str,
        outcome: Outcome,
        subject: Option<&str>,
        detail: impl Into<String>,
    ) -> Self {
        Check {
            check: check.into(),
            outcome,
            subject: subject.map(str::to_string),
            detail: detail.into(),
            expected: None,
            found: None,
        }
    }

    pub fn pass(check: &str, subject: Option<&str>, detail: impl Into<String>) -> Self {
        Check::new(check, Outcome::Pass, subject, detail)
    }

    pub fn fail(check: &str, subject: Option<&str>, detail: impl Into<String>) -> Self {
        Check::new(check, Outcome::Fail, subject, detail)
    }

    pub fn warn(check: &str, subject: Option<&str>, detail: impl Into<String>) -> Self {
        Check::new(check, Outcome::Warn, subject, detail)
    }

    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}

impl fmt::Display for Check {
    /// `ok   digest runs/run-000/run.json`, `FAIL digest x: sha256 is …, the attestation says …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<4} {}", self.outcome.tag(), self.check)?;
        if let Some(s) = &self.subject {
            write!(f, " {s}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A trusted key whose signature verified.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SignedBy {
    pub key_id: KeyId,
    pub source: PathBuf,
}

/// Everything [`crate::verify_bundle`] found. The bundle is genuine when no check
/// failed; the statement (and its predicate) is only handed out when the signatures
/// and every file check passed, so nothing unauthenticated leaks to callers.
#[derive(Serialize, Clone, Debug)]
pub struct VerifyReport {
    bundle: PathBuf,
    genuine: bool,
    threshold: usize,
    signed_by: Vec<SignedBy>,
    /// Subjects whose digest was checked, and their total size.
    files: usize,
    bytes: u64,
    checks: Vec<Check>,
    #[serde(skip)]
    attested: Option<Statement>,
}

impl VerifyReport {
    pub(crate) fn new(bundle: &Path, threshold: usize) -> Self {
        VerifyReport {
            bundle: bundle.into(),
            genuine: true,
            threshold,
            signed_by: Vec::new(),
            files: 0,
            bytes: 0,
            checks: Vec::new(),
            attested: None,
        }
    }

    /// Append a check (the evaluator adds its recomputed statistics this way).
    pub fn add_check(&mut self, check: Check) {
        self.genuine &= !check.failed();
        self.checks.push(check);
    }

    pub(crate) fn set_signed_by(&mut self, signed_by: Vec<SignedBy>) {
        self.signed_by = signed_by;
    }

    pub(crate) fn set_files(&mut self, files: usize, bytes: u64) {
        self.files = files;
        self.bytes = bytes;
    }

    /// Called last by `verify_bundle`: keep the statement only if all is well.
    pub(crate) fn attest(&mut self, mut statement: Statement) {
        if self.genuine {
            statement
                .predicate
                .get_or_insert_with(|| Value::Object(Default::default()));
            self.attested = Some(statement);
        }
    }

    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// True when no check failed.
    pub fn is_genuine(&self) -> bool {
        self.genuine
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failed())
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The distinct trusted keys whose signatures verified.
    pub fn signed_by(&self) -> &[SignedBy] {
        &self.signed_by
    }

    /// The statement, when the signatures met the threshold and every file matched.
    /// Checks added later with [`VerifyReport::add_check`] do not withdraw it.
    pub fn verified_statement(&self) -> Option<&Statement> {
        self.attested.as_ref()
    }

    /// The signed predicate (an empty object if the statement had none), under the
    /// same condition as [`VerifyReport::verified_statement`].
    pub fn verified_predicate(&self) -> Option<&Value> {
        self.attested.as_ref().and_then(|s| s.predicate.as_ref())
    }
}

impl fmt::Display for VerifyReport {
    /// One line per check, then a one-line verdict a person can quote.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{c}")?;
        }
        let failed = self.failures().count();
        if self.genuine {
            let keys: Vec<String> = self.signed_by.iter().map(|k| k.key_id.short()).collect();
            writeln!(
                f,
                "genuine: {} files ({}) match the attestation, signed by {} trusted key(s) ({}), threshold {}",
                self.files,
                human_bytes(self.bytes),
                self.signed_by.len(),
                keys.join(", "),
                self.threshold
            )
        } else {
            writeln!(
                f,
                "NOT GENUINE: {failed} of {} checks failed ({})",
                self.checks.len(),
                self.bundle.display()
            )
        }
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align() {
        assert_eq!(
            Check::pass(check::DIGEST, Some("runs/run-000/run.json"), "").to_string(),
            "ok   digest runs/run-000/run.json"
        );
        assert_eq!(
            Check::fail(
                check::EXTRA,
                Some("x"),
                "in the bundle, not in the attestation"
            )
            .to_string(),
            "FAIL extra x: in the bundle, not in the attestation"
        );
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
