//! The journal: seals signed while a certification happens (summary v3 on), so that the
//! plan cannot be edited once drawn and a finished run cannot be rerun, dropped or
//! changed without a signed trace.
//!
//! `journal/plan.dsse.json` seals plan.json when it is written (the whole plan rides in
//! the seal, so a later edit can be named field by field); `journal/run-NNN.dsse.json`
//! seals each run's run.json as the run finishes. Each seal is a DSSE envelope signed by
//! the certifier's keys, numbered (`sequence`, the plan is 0) and chained to the seal
//! before it (`previous_sha256`), so a removed seal leaves a gap and a rerun slot is
//! sealed out of plan order. The final attestation signs the journal with everything else.
//!
//! What it cannot do: a certifier holding a trusted key can forge any journal. It stops
//! the honest tool from being used to cherry-pick (resume never reruns a sealed slot) and
//! makes every edit after the fact, even a re-signed one, show in `verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use speedcert_attest::{Envelope, Signer, TrustStore};
use speedcert_fsio::{LockKind, Mode};

use crate::consistency::Problem;
use crate::io::{self, BundleError};
use crate::layout;
use crate::plan::{Plan, Schedule};
use crate::run::Role;

pub const SEAL_SCHEMA: &str = "speedcert/seal/v1";
/// The DSSE payload type of a seal.
pub const PAYLOAD_TYPE: &str = "application/vnd.speedcert.seal+json";
/// A seal is a few kilobytes (the plan's is the largest); anything far larger is refused
/// unread.
const MAX_SEAL_BYTES: u64 = 16 << 20;
/// How long a run's seal waits for another process (a parallel Slurm task) sealing.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// One signed entry of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    pub schema: String,
    /// 0 for the plan, then 1, 2, … in the order runs finished.
    pub sequence: usize,
    /// sha256 of the seal file with the previous sequence number (`None` for the plan).
    pub previous_sha256: Option<String>,
    pub sealed_at: String,
    /// sha256 of plan.json as sealed.
    pub plan_sha256: String,
    #[serde(flatten)]
    pub what: Sealed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sealed {
    Plan {
        plan: Box<Plan>,
    },
    Run {
        slot: usize,
        role: Role,
        seed: u64,
        /// sha256 of run.json (which itself records its logs' digests).
        run_sha256: String,
    },
}

/// `journal/plan.dsse.json`, relative to the bundle.
pub fn plan_seal_path(bundle: &Path) -> PathBuf {
    bundle.join(layout::JOURNAL).join(layout::PLAN_SEAL)
}

/// `journal/run-NNN.dsse.json`, relative to the bundle.
pub fn run_seal_path(bundle: &Path, index: usize) -> PathBuf {
    bundle
        .join(layout::JOURNAL)
        .join(format!("{}.dsse.json", layout::run_name(index)))
}

fn relative(bundle: &Path, path: &Path) -> String {
    path.strip_prefix(bundle)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn write_seal(path: &Path, seal: &Seal, signers: &[Signer]) -> Result<(), BundleError> {
    let body = serde_json::to_vec(seal).expect("a seal serializes");
    let envelope = Envelope::sign(PAYLOAD_TYPE, &body, signers);
    let mut text = serde_json::to_vec_pretty(&envelope).expect("an envelope serializes");
    text.push(b'\n');
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io::io(parent))?;
    }
    speedcert_fsio::write_new(path, &text, Mode::Public)?;
    Ok(())
}

/// Seals plan.json in `bundle` (the folder being prepared): sequence 0.
pub fn seal_plan(bundle: &Path, plan: &Plan, signers: &[Signer]) -> Result<(), BundleError> {
    if signers.is_empty() {
        return Err(BundleError::format(
            &plan_seal_path(bundle),
            "a plan is sealed with the certifier's key, and no key was given",
        ));
    }
    let plan_sha256 = speedcert_fsio::sha256_file(&bundle.join(layout::PLAN))?;
    let seal = Seal {
        schema: SEAL_SCHEMA.into(),
        sequence: 0,
        previous_sha256: None,
        sealed_at: now(),
        plan_sha256,
        what: Sealed::Plan {
            plan: Box::new(plan.clone()),
        },
    };
    write_seal(&plan_seal_path(bundle), &seal, signers)
}

/// Seals the finished run of slot `index` (its run.json is written): the next sequence
/// number, chained to the latest seal. Refuses a slot that is already sealed.
pub fn seal_run(
    bundle: &Path,
    plan: &Plan,
    index: usize,
    signers: &[Signer],
) -> Result<Seal, BundleError> {
    let path = run_seal_path(bundle, index);
    if signers.is_empty() {
        return Err(BundleError::format(
            &path,
            "a run is sealed with the certifier's key, and no key was given",
        ));
    }
    let slot = plan
        .slots
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| BundleError::format(&path, format!("plan.json has no slot {index}")))?;
    let _lock = lock_journal(bundle)?;
    if path.exists() {
        return Err(BundleError::format(
            &path,
            format!(
                "{} is already sealed; a sealed run is never run again",
                layout::run_name(index)
            ),
        ));
    }
    let journal = read_journal(bundle)?;
    let (sequence, previous) = match journal.seals.iter().max_by_key(|e| e.seal.sequence) {
        Some(last) => (last.seal.sequence + 1, Some(last.file_sha256.clone())),
        None => {
            return Err(BundleError::format(
                &plan_seal_path(bundle),
                "missing: the plan was never sealed, so its runs cannot be",
            ));
        }
    };
    let run_json = layout::run_dir(bundle, index).join(layout::RUN);
    let seal = Seal {
        schema: SEAL_SCHEMA.into(),
        sequence,
        previous_sha256: previous,
        sealed_at: now(),
        plan_sha256: speedcert_fsio::sha256_file(&bundle.join(layout::PLAN))?,
        what: Sealed::Run {
            slot: index,
            role: slot.role,
            seed: slot.seed,
            run_sha256: speedcert_fsio::sha256_file(&run_json)?,
        },
    };
    write_seal(&path, &seal, signers)?;
    Ok(seal)
}

/// Parallel Slurm tasks seal into one journal: numbering needs one sealer at a time.
/// The lock is a flock on the journal folder; it is waited for, briefly.
fn lock_journal(bundle: &Path) -> Result<std::fs::File, BundleError> {
    let dir = bundle.join(layout::JOURNAL);
    std::fs::create_dir_all(&dir).map_err(io::io(&dir))?;
    let start = Instant::now();
    loop {
        match speedcert_fsio::try_lock(&dir, LockKind::Exclusive, "another run sealing") {
            Ok(f) => return Ok(f),
            Err(speedcert_fsio::FsError::Locked { .. }) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// One seal file as read: its content, the file's digest, and its envelope.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the bundle.
    pub file: String,
    pub file_sha256: String,
    pub seal: Seal,
    envelope: Envelope,
    body: Vec<u8>,
}

/// The journal as read, with what could not be read.
#[derive(Debug, Default)]
pub struct Journal {
    pub seals: Vec<Entry>,
    pub problems: Vec<Problem>,
}

impl Journal {
    pub fn plan(&self) -> Option<(&Entry, &Plan)> {
        self.seals.iter().find_map(|e| match &e.seal.what {
            Sealed::Plan { plan } => Some((e, plan.as_ref())),
            Sealed::Run { .. } => None,
        })
    }

    /// Each sealed run by slot index.
    pub fn runs(&self) -> BTreeMap<usize, &Entry> {
        self.seals
            .iter()
            .filter_map(|e| match &e.seal.what {
                Sealed::Run { slot, .. } => Some((*slot, e)),
                Sealed::Plan { .. } => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.seals.is_empty() && self.problems.is_empty()
    }
}

/// Reads every file of `journal/`; a file that is not a seal is a problem, not an error.
pub fn read_journal(bundle: &Path) -> Result<Journal, BundleError> {
    let dir = bundle.join(layout::JOURNAL);
    let mut journal = Journal::default();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(journal),
        Err(e) => return Err(io::io(&dir)(e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(io::io(&dir)))
        .collect::<Result<_, _>>()?;
    // A seal being written by a parallel task is a temp file until it is linked into place.
    paths.retain(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        !(name.starts_with(".speedcert-") && name.ends_with(".tmp"))
    });
    paths.sort();
    for path in paths {
        let file = relative(bundle, &path);
        let problem = |message: String| Problem {
            file: file.clone(),
            message,
        };
        let raw = match speedcert_fsio::read_capped(&path, MAX_SEAL_BYTES, "a journal seal") {
            Ok(raw) => raw,
            Err(e) => {
                journal.problems.push(problem(e.to_string()));
                continue;
            }
        };
        let parsed = io::open_envelope::<Seal>(&raw, PAYLOAD_TYPE, "a seal");
        match parsed {
            Ok((envelope, body, seal)) => {
                let expected = match &seal.what {
                    Sealed::Plan { .. } => plan_seal_path(bundle),
                    Sealed::Run { slot, .. } => run_seal_path(bundle, *slot),
                };
                if expected != path {
                    journal.problems.push(problem(format!(
                        "holds the seal of {}; a seal lives only at its own name",
                        relative(bundle, &expected)
                    )));
                    continue;
                }
                journal.seals.push(Entry {
                    file,
                    file_sha256: speedcert_fsio::sha256_bytes(&raw),
                    seal,
                    envelope,
                    body,
                });
            }
            Err(message) => journal.problems.push(problem(message)),
        }
    }
    Ok(journal)
}

/// What stops `--resume`: plan.json not the sealed plan, or a sealed run whose run.json
/// is gone or changed. Digests only; signatures are verify's job.
pub fn resume_problems(bundle: &Path, journal: &Journal) -> Result<Vec<Problem>, BundleError> {
    let mut problems = journal.problems.clone();
    let Some((entry, sealed_plan)) = journal.plan() else {
        problems.push(Problem {
            file: relative(bundle, &plan_seal_path(bundle)),
            message: "missing: the plan was never sealed".into(),
        });
        return Ok(problems);
    };
    let plan_sha = speedcert_fsio::sha256_file(&bundle.join(layout::PLAN))?;
    if plan_sha != entry.seal.plan_sha256 {
        let on_disk: Result<Plan, _> = io::read_json(&bundle.join(layout::PLAN));
        problems.push(Problem {
            file: layout::PLAN.into(),
            message: format!(
                "changed after it was sealed ({}): {}",
                entry.file,
                match on_disk {
                    Ok(p) => plan_differences(sealed_plan, &p),
                    Err(e) => e.to_string(),
                }
            ),
        });
    }
    for (index, e) in journal.runs() {
        let run_json = layout::run_dir(bundle, index).join(layout::RUN);
        let file = relative(bundle, &run_json);
        let Sealed::Run { run_sha256, .. } = &e.seal.what else {
            continue;
        };
        match speedcert_fsio::sha256_file(&run_json) {
            Ok(now) if &now == run_sha256 => {}
            Ok(now) => problems.push(Problem {
                file,
                message: format!(
                    "changed after its seal ({}): sealed sha256 {}, now {}",
                    e.file,
                    crate::io::short_digest(run_sha256),
                    crate::io::short_digest(&now)
                ),
            }),
            Err(_) => problems.push(Problem {
                file,
                message: format!(
                    "missing, but {} was sealed at {} ({}): a sealed run is never run again",
                    layout::run_name(index),
                    e.seal.sealed_at,
                    e.file
                ),
            }),
        }
    }
    Ok(problems)
}

/// Everything verify holds the journal to: [`resume_problems`], every seal signed by
/// `threshold` trusted keys and numbered without gaps in one chain, every planned slot
/// with a finished run sealed exactly once with its planned seed, and, for a sequential
/// plan, the runs sealed in plan order.
pub fn verify_problems(
    bundle: &Path,
    journal: &Journal,
    plan: &Plan,
    trust: &TrustStore,
    threshold: usize,
) -> Result<Vec<Problem>, BundleError> {
    let mut problems = resume_problems(bundle, journal)?;
    for e in &journal.seals {
        let v = e.envelope.verify(&e.body, trust);
        if !v.meets(threshold) {
            problems.push(Problem {
                file: e.file.clone(),
                message: format!(
                    "signed by {} trusted key(s), {threshold} needed: a seal must be signed by the certifier when it is written",
                    v.accepted.len()
                ),
            });
        }
    }
    let mut by_sequence: BTreeMap<usize, &Entry> = BTreeMap::new();
    for e in &journal.seals {
        if let Some(other) = by_sequence.insert(e.seal.sequence, e) {
            problems.push(Problem {
                file: e.file.clone(),
                message: format!(
                    "has sequence number {}, as {} does: two seals claim one place in the journal",
                    e.seal.sequence, other.file
                ),
            });
        }
    }
    let mut expected = 0;
    let mut previous: Option<&Entry> = None;
    for (&sequence, e) in &by_sequence {
        if sequence != expected {
            problems.push(Problem {
                file: e.file.clone(),
                message: format!(
                    "has sequence number {sequence}, but the journal holds no seal {expected}{}: a sealed run was removed",
                    if sequence > expected + 1 {
                        format!("–{}", sequence - 1)
                    } else {
                        String::new()
                    }
                ),
            });
        } else if let Some(prev) = previous
            && e.seal.previous_sha256.as_deref() != Some(prev.file_sha256.as_str())
        {
            problems.push(Problem {
                file: e.file.clone(),
                message: format!(
                    "is not chained to {} (previous_sha256 {}, that file is {})",
                    prev.file,
                    e.seal
                        .previous_sha256
                        .as_deref()
                        .map_or("none", crate::io::short_digest),
                    crate::io::short_digest(&prev.file_sha256)
                ),
            });
        }
        expected = sequence + 1;
        previous = Some(e);
    }
    let runs = journal.runs();
    for slot in &plan.slots {
        let run_json = layout::run_dir(bundle, slot.index).join(layout::RUN);
        match runs.get(&slot.index) {
            None if run_json.is_file() => problems.push(Problem {
                file: relative(bundle, &run_json),
                message: format!(
                    "finished, but {} holds no seal of it: a run is sealed as it finishes",
                    layout::JOURNAL
                ),
            }),
            None => {}
            Some(e) => {
                if let Sealed::Run { seed, role, .. } = &e.seal.what
                    && (*seed != slot.seed || *role != slot.role)
                {
                    problems.push(Problem {
                        file: e.file.clone(),
                        message: format!(
                            "seals {} as a {} run with seed {seed}; the plan has a {} run with seed {}",
                            layout::run_name(slot.index),
                            role.as_str(),
                            slot.role.as_str(),
                            slot.seed
                        ),
                    });
                }
            }
        }
    }
    for (&index, e) in &runs {
        if !plan.slots.iter().any(|s| s.index == index) {
            problems.push(Problem {
                file: e.file.clone(),
                message: format!(
                    "seals {}, which plan.json does not plan",
                    layout::run_name(index)
                ),
            });
        }
    }
    if plan.schedule == Some(Schedule::Sequential) {
        let mut last: Option<(usize, &Entry)> = None;
        for e in by_sequence.values() {
            let Sealed::Run { slot, .. } = e.seal.what else {
                continue;
            };
            if let Some((prev_slot, prev)) = last
                && slot < prev_slot
            {
                problems.push(Problem {
                    file: e.file.clone(),
                    message: format!(
                        "{} was sealed as #{} after {} (#{}): the plan runs its slots in order, so this slot ran again after later ones",
                        layout::run_name(slot),
                        e.seal.sequence,
                        layout::run_name(prev_slot),
                        prev.seal.sequence
                    ),
                });
            }
            last = Some((slot, e));
        }
    }
    Ok(problems)
}

/// The slots whose run is sealed (resume never runs them again).
pub fn sealed_slots(bundle: &Path) -> Result<std::collections::BTreeSet<usize>, BundleError> {
    Ok(read_journal(bundle)?.runs().into_keys().collect())
}

/// The fields in which `now` differs from the sealed plan, in words.
fn plan_differences(sealed: &Plan, now: &Plan) -> String {
    let mut out = Vec::new();
    for (s, n) in sealed.slots.iter().zip(&now.slots) {
        let name = layout::run_name(s.index);
        if s.seed != n.seed {
            out.push(format!("{name}'s seed is {}, sealed as {}", n.seed, s.seed));
        }
        if s.heldout_seed != n.heldout_seed {
            out.push(format!(
                "{name}'s heldout_seed is {}, sealed as {}",
                n.heldout_seed, s.heldout_seed
            ));
        }
        if s.role != n.role || s.submission != n.submission || s.pair != n.pair {
            out.push(format!("{name}'s role, submission or pair changed"));
        }
    }
    if sealed.slots.len() != now.slots.len() {
        out.push(format!(
            "{} slots, sealed with {}",
            now.slots.len(),
            sealed.slots.len()
        ));
    }
    if out.is_empty() {
        let a = serde_json::to_value(sealed).unwrap_or_default();
        let b = serde_json::to_value(now).unwrap_or_default();
        out.push(
            crate::verify::first_difference("plan", &a, &b)
                .unwrap_or_else(|| "its bytes differ".into()),
        );
    }
    out.join("; ")
}
