//! The attempt ledger: an append-only, signed log, kept in the certifier's records
//! folder (`records/ledger.jsonl`), of every certification started and how it ended.
//!
//! At a 1% false-record rate, 69 tries give an even chance of one false record; a bundle
//! alone cannot show how many tries came before it. The ledger can: each certification
//! appends a `started` line (track, submission digest, plan digest) before its first run
//! and a `finished` line with its verdict; the plan records its attempt number and the
//! ledger head it followed, so `records rebuild` can count the attempts behind a record
//! and flag one whose earlier attempts are missing.
//!
//! Each line is a compact DSSE envelope signed by the certifier, whose payload names the
//! sha256 of the line before it: a removed or edited line breaks the chain. As with the
//! journal, a holder of the key can rewrite the whole file; the ledger makes the honest
//! count visible and any partial edit detectable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use speedcert_attest::{Envelope, Signer, TrustStore};
use speedcert_fsio::{LockKind, Mode};

use crate::io::BundleError;
use crate::plan::Attempt;
use crate::verdict::Verdict;

pub const LEDGER_SCHEMA: &str = "speedcert/ledger/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.speedcert.ledger+json";
/// The file name inside a records folder.
pub const LEDGER_FILE: &str = "ledger.jsonl";
/// A ledger of a million attempts is about 1 GB; anything larger is refused unread.
const MAX_LEDGER_BYTES: u64 = 1 << 30;
const LOCK_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    Started,
    Finished,
}

/// One ledger line's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub schema: String,
    /// 0, 1, 2, … in file order.
    pub sequence: usize,
    /// sha256 of the previous line (without its newline); empty for the first.
    pub previous_sha256: String,
    pub event: Event,
    pub at: String,
    pub track: String,
    pub track_sha256: String,
    pub submission: String,
    pub submission_sha256: String,
    /// sha256 of the bundle's plan.json: which certification this is.
    pub plan_sha256: String,
    /// The bundle folder as given to certify.
    pub bundle: String,
    /// The attempt number of a `started` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<usize>,
    /// The verdict of a `finished` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// A ledger line as read.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number.
    pub number: usize,
    pub sha256: String,
    pub entry: LedgerEntry,
    envelope: Envelope,
    body: Vec<u8>,
}

/// The ledger as read: its lines and what is wrong with it, each naming a line.
#[derive(Debug, Default)]
pub struct Ledger {
    pub path: PathBuf,
    pub lines: Vec<Line>,
    pub problems: Vec<String>,
}

impl Ledger {
    /// Reads `path`; a missing file is an empty ledger. Lines that are not signed
    /// entries, or break the chain, are problems (`path:N: …`), not errors.
    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let mut ledger = Ledger {
            path: path.to_owned(),
            ..Default::default()
        };
        if !path.exists() {
            return Ok(ledger);
        }
        let raw = speedcert_fsio::read_capped(path, MAX_LEDGER_BYTES, "the attempt ledger")?;
        let text = String::from_utf8_lossy(&raw);
        if !text.is_empty() && !text.ends_with('\n') {
            ledger.problems.push(format!(
                "{}: the last line is not terminated (a write was cut off)",
                path.display()
            ));
        }
        let mut previous = String::new();
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            let at = format!("{}:{number}", path.display());
            let parsed = crate::io::open_envelope::<LedgerEntry>(
                line.as_bytes(),
                PAYLOAD_TYPE,
                "a ledger entry",
            );
            let sha256 = speedcert_fsio::sha256_bytes(line.as_bytes());
            match parsed {
                Ok((envelope, body, entry)) => {
                    if entry.sequence != i {
                        ledger.problems.push(format!(
                            "{at}: sequence {}, expected {i}: lines were removed or reordered",
                            entry.sequence
                        ));
                    } else if entry.previous_sha256 != previous {
                        ledger.problems.push(format!(
                            "{at}: not chained to the line before it: a line was edited or removed"
                        ));
                    }
                    ledger.lines.push(Line {
                        number,
                        sha256: sha256.clone(),
                        entry,
                        envelope,
                        body,
                    });
                }
                Err(e) => ledger.problems.push(format!("{at}: {e}")),
            }
            previous = sha256;
        }
        Ok(ledger)
    }

    /// Lines not signed by `threshold` keys of `trust`, as problems.
    pub fn signature_problems(&self, trust: &TrustStore, threshold: usize) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| !l.envelope.verify(&l.body, trust).meets(threshold))
            .map(|l| {
                format!(
                    "{}:{}: not signed by a trusted key",
                    self.path.display(),
                    l.number
                )
            })
            .collect()
    }

    /// The `started` lines of one submission digest on one track, in order.
    pub fn attempts<'a>(
        &'a self,
        track_sha256: &'a str,
        submission_sha256: &'a str,
    ) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines.iter().filter(move |l| {
            l.entry.event == Event::Started
                && l.entry.track_sha256 == track_sha256
                && l.entry.submission_sha256 == submission_sha256
        })
    }

    /// The `event` line of the certification whose plan.json has this digest.
    pub fn line(&self, event: Event, plan_sha256: &str) -> Option<&Line> {
        self.lines
            .iter()
            .find(|l| l.entry.event == event && l.entry.plan_sha256 == plan_sha256)
    }

    fn head(&self) -> String {
        self.lines
            .last()
            .map(|l| l.sha256.clone())
            .unwrap_or_default()
    }

    /// The attempt the next certification of this submission on this track will be.
    pub fn next_attempt(&self, track_sha256: &str, submission_sha256: &str) -> Attempt {
        Attempt {
            number: self.attempts(track_sha256, submission_sha256).count() + 1,
            ledger_head_sha256: self.head(),
        }
    }
}

/// The ledger held for one certifier: locked, so two certifications append in turn.
pub struct LedgerWriter {
    path: PathBuf,
    _lock: std::fs::File,
    pub ledger: Ledger,
}

impl LedgerWriter {
    /// Locks and reads the ledger at `path`. Refuses a ledger with problems: appending
    /// to a broken chain would hide where it broke.
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let lock_path = path.with_extension("jsonl.lock");
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(crate::io::io(parent))?;
        }
        let start = Instant::now();
        let lock = loop {
            match speedcert_fsio::try_lock(
                &lock_path,
                LockKind::Exclusive,
                "another certification appending to the ledger",
            ) {
                Ok(f) => break f,
                Err(speedcert_fsio::FsError::Locked { .. }) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let ledger = Ledger::read(path)?;
        if !ledger.problems.is_empty() {
            return Err(BundleError::format(
                path,
                format!(
                    "the attempt ledger is damaged, so no attempt is added to it:\n  {}",
                    ledger.problems.join("\n  ")
                ),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
            ledger,
        })
    }

    /// Appends one signed line (the file is rewritten whole through a temp file, so a
    /// crash leaves the old ledger or the new one).
    pub fn append(
        &mut self,
        mut entry: LedgerEntry,
        signers: &[Signer],
    ) -> Result<(), BundleError> {
        entry.schema = LEDGER_SCHEMA.into();
        entry.sequence = self.ledger.lines.len();
        entry.previous_sha256 = self.ledger.head();
        let body = serde_json::to_vec(&entry).expect("a ledger entry serializes");
        let envelope = Envelope::sign(PAYLOAD_TYPE, &body, signers);
        let line = serde_json::to_string(&envelope).expect("an envelope serializes");
        let mut text = std::fs::read(&self.path).unwrap_or_default();
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
        speedcert_fsio::write_atomic(&self.path, &text, Mode::Public)?;
        self.ledger.lines.push(Line {
            number: self.ledger.lines.len() + 1,
            sha256: speedcert_fsio::sha256_bytes(line.as_bytes()),
            entry,
            envelope,
            body,
        });
        Ok(())
    }
}

/// An entry with the fields every event shares; `sequence`, `previous_sha256` and
/// `schema` are filled in by [`LedgerWriter::append`].
#[allow(clippy::too_many_arguments)]
pub fn entry(
    event: Event,
    track: &str,
    track_sha256: &str,
    submission: &str,
    submission_sha256: &str,
    plan_sha256: &str,
    bundle: &Path,
) -> LedgerEntry {
    LedgerEntry {
        schema: LEDGER_SCHEMA.into(),
        sequence: 0,
        previous_sha256: String::new(),
        event,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        track: track.into(),
        track_sha256: track_sha256.into(),
        submission: submission.into(),
        submission_sha256: submission_sha256.into(),
        plan_sha256: plan_sha256.into(),
        bundle: bundle.display().to_string(),
        attempt: None,
        verdict: None,
    }
}

/// What `records rebuild` says about a record's attempts, given the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptCount {
    /// Attempts of this submission on this track up to and including this one, by the
    /// ledger (or by the plan, when the ledger does not hold it).
    pub attempts: Option<usize>,
    /// Why the count cannot be trusted, if it cannot.
    pub flag: Option<String>,
}

/// Counts the attempts behind the certification with this plan, and flags a plan the
/// ledger does not hold or whose earlier attempts it lacks.
pub fn attempt_count(ledger: &Ledger, plan: &crate::plan::Plan, plan_sha256: &str) -> AttemptCount {
    let Some(started) = ledger.line(Event::Started, plan_sha256) else {
        return AttemptCount {
            attempts: plan.attempt.as_ref().map(|a| a.number),
            flag: Some(match &plan.attempt {
                Some(a) => format!(
                    "its plan says attempt {}, but {} holds no line for it",
                    a.number,
                    ledger.path.display()
                ),
                None => format!(
                    "certified without an attempt ledger: {} holds no line for it",
                    ledger.path.display()
                ),
            }),
        };
    };
    let before = ledger
        .attempts(&plan.track_sha256, &plan.submission_sha256)
        .filter(|l| l.number < started.number)
        .count();
    let attempts = before + 1;
    let flag = match &plan.attempt {
        Some(a) if a.number > attempts => Some(format!(
            "its plan says attempt {}, but {} holds only {before} earlier attempt(s): {} are missing",
            a.number,
            ledger.path.display(),
            a.number - attempts
        )),
        Some(a) if a.number < attempts => Some(format!(
            "its plan says attempt {}, but {} holds {before} earlier attempt(s)",
            a.number,
            ledger.path.display()
        )),
        // The head the plan was drawn against is the line its `started` line follows.
        Some(a) if a.ledger_head_sha256 != started.entry.previous_sha256 => Some(format!(
            "its plan was drawn against ledger head {}, but its started line ({}:{}) follows {}: the plan was not drawn against this ledger",
            crate::io::short_digest(&a.ledger_head_sha256),
            ledger.path.display(),
            started.number,
            crate::io::short_digest(&started.entry.previous_sha256)
        )),
        Some(_) => None,
        None => Some("its plan records no attempt number".into()),
    };
    AttemptCount {
        attempts: Some(attempts),
        flag,
    }
}
