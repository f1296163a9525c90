//! `speedcert records rebuild`: the published tables, recomputed from signed bundles.
//!
//! runs.csv, records.csv and curves.csv are derived data. Rebuilding them from the
//! bundles (never editing them) means every published number traces back to a signature
//! and to raw files the verifier recomputed:
//!
//! - a bundle that does not verify exactly as `speedcert verify` would (signatures,
//!   digests, every figure recomputed) is left out, named with the checks that failed;
//! - a verified bundle becomes a record only if it beats the record current at its date
//!   on its track, by its own statistics against that record: its time comparison must
//!   be against the current record's submission (rerun on the same machine from the same
//!   source) or against the current record's signed bundle. Otherwise it is rejected as
//!   a record, with the reason, though its runs stay in runs.csv;
//! - a track's first record is its earliest verified bundle that passed every check and
//!   the loss test in an official environment (typically the reference, certified with
//!   no time comparison);
//! - each record's attempts are counted from the certifier's attempt ledger
//!   (`ledger.jsonl`, [`speedcert_bundle::ledger`]): a p-value below 0.01 means less
//!   after fifty tries. A record the ledger does not hold, or whose earlier attempts it
//!   lacks, and a damaged ledger, are warnings ([`RebuildReport::attempt_flags`]): the
//!   record stays a record, with the flag beside its count in records.csv.

use std::path::{Path, PathBuf};

use serde::Serialize;

use speedcert_bundle::Verdict;
use speedcert_bundle::command::Clock;
use speedcert_bundle::layout;
use speedcert_bundle::ledger::{self, AttemptCount, LEDGER_FILE, Ledger};
use speedcert_bundle::plan::TimeBaseline;
use speedcert_bundle::run::{Role, RunRecord, RunStatus};

use crate::bundle::{self, Bundle};
use crate::curves::{self, CURVES_CSV, CurveRow};
use crate::error::Result;
use crate::frame;
use crate::table::{self, RECORDS_CSV, RUNS_CSV, RecordRow, RunRow};
use crate::verify::{Trust, Verification};

/// Folder of bundles inside the records folder.
pub const BUNDLES_DIR: &str = "bundles";
/// Folder of trusted public keys inside the records folder.
pub const KEYS_DIR: &str = "keys";

/// A bundle left out of the tables, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// Bundle folder relative to the records folder.
    pub bundle: String,
    /// One line per failed check or unreadable file, as the verifier worded it.
    pub reasons: Vec<String>,
}

/// What a rebuild did: a person reads it, CI asserts on it.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub records_dir: PathBuf,
    /// Bundles found under bundles/.
    pub bundles_found: usize,
    /// Bundles that verified and were read, relative paths, sorted.
    pub included: Vec<String>,
    /// Bundles left out, sorted by path.
    pub excluded: Vec<Excluded>,
    /// Verified bundles whose "new record" was not accepted as a record, and why.
    pub rejected: Vec<Excluded>,
    /// Warnings about attempt counts, which leave the records in place: first the
    /// ledger's own problems (bundle [`LEDGER_FILE`]; each reason names its line), then
    /// each record whose count is flagged, sorted by bundle.
    pub attempt_flags: Vec<Excluded>,
    pub runs: usize,
    pub records: usize,
    /// Validation points of valid candidate runs (the frontier's input).
    pub curve_points: usize,
    pub runs_csv: PathBuf,
    pub records_csv: PathBuf,
    pub curves_csv: PathBuf,
}

impl RebuildReport {
    /// True when every bundle found made it into the tables and no claimed record was
    /// rejected.
    pub fn all_included(&self) -> bool {
        self.excluded.is_empty() && self.rejected.is_empty()
    }

    /// Number of attempt warnings: ledger problems plus flagged records.
    pub fn attempt_warnings(&self) -> usize {
        self.attempt_flags.iter().map(|e| e.reasons.len()).sum()
    }

    /// One block per excluded bundle: which bundle, then each failed check; then one
    /// line per attempt warning.
    pub fn excluded_text(&self) -> String {
        let mut s = String::new();
        for e in &self.excluded {
            s.push_str(&format!(
                "error: bundle {} failed verification and was left out:\n",
                e.bundle
            ));
            for r in &e.reasons {
                s.push_str(&format!("  {r}\n"));
            }
        }
        for e in &self.rejected {
            s.push_str(&format!(
                "error: bundle {} verified, but is not a record:\n",
                e.bundle
            ));
            for r in &e.reasons {
                s.push_str(&format!("  {r}\n"));
            }
        }
        for e in &self.attempt_flags {
            for r in &e.reasons {
                if e.bundle == LEDGER_FILE {
                    // The reason begins with the ledger's path and line.
                    s.push_str(&format!("warning: {r}\n"));
                } else {
                    s.push_str(&format!("warning: record {}: {r}\n", e.bundle));
                }
            }
        }
        s
    }

    /// The one line a person quotes: what was written, from how many bundles.
    pub fn summary_line(&self) -> String {
        let mut notes = Vec::new();
        if !self.excluded.is_empty() {
            notes.push(format!("{} excluded", self.excluded.len()));
        }
        if !self.rejected.is_empty() {
            notes.push(format!("{} record claims rejected", self.rejected.len()));
        }
        match self.attempt_warnings() {
            0 => {}
            1 => notes.push("1 attempt warning".into()),
            w => notes.push(format!("{w} attempt warnings")),
        }
        format!(
            "rebuilt {} ({} runs) and {} ({} records) from {} of {} bundles{}",
            self.runs_csv.display(),
            self.runs,
            self.records_csv.display(),
            self.records,
            self.included.len(),
            self.bundles_found,
            if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join(", "))
            }
        )
    }

    /// Both, for a terminal.
    pub fn to_text(&self) -> String {
        format!("{}{}\n", self.excluded_text(), self.summary_line())
    }
}

/// Bundle path relative to the records folder, with `/` separators on every platform
/// so the CSVs are identical wherever they are rebuilt.
pub(crate) fn rel(records_dir: &Path, path: &Path) -> String {
    let r = path.strip_prefix(records_dir).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Rebuilds `records_dir/runs.csv`, `records.csv` and `curves.csv` from the bundles in
/// `records_dir/bundles/`, verified against the keys in `records_dir/keys/`.
///
/// Errors only when the tables cannot be written or the trust store cannot be read; a
/// bad bundle is an entry of [`RebuildReport::excluded`] or [`RebuildReport::rejected`],
/// and a bad or missing attempt ledger one of [`RebuildReport::attempt_flags`], not an
/// error.
pub fn rebuild(records_dir: &Path) -> Result<RebuildReport> {
    let trust = Trust::load(&records_dir.join(KEYS_DIR))?;
    let dirs = bundle::discover_bundles(&records_dir.join(BUNDLES_DIR))?;
    let mut bundles: Vec<(String, Bundle)> = Vec::new();
    let mut excluded = Vec::new();
    for dir in &dirs {
        let name = rel(records_dir, dir);
        match trust.verify(dir)? {
            Verification::Genuine => match bundle::read_bundle(dir) {
                Ok(b) => bundles.push((name, b)),
                Err(e) => excluded.push(Excluded {
                    bundle: name,
                    reasons: vec![format!("verified, but unreadable: {e}")],
                }),
            },
            Verification::NotGenuine(reasons) => excluded.push(Excluded {
                bundle: name,
                reasons,
            }),
        }
    }

    let mut runs: Vec<RunRow> = bundles
        .iter()
        .flat_map(|(name, b)| run_rows(name, b))
        .collect();
    runs.sort_by(|a, b| {
        (&a.track, &a.date, &a.bundle, a.run_index, &a.role).cmp(&(
            &b.track,
            &b.date,
            &b.bundle,
            b.run_index,
            &b.role,
        ))
    });
    let (accepted, rejected) = accept_records(&bundles);
    let attempts = Attempts::read(records_dir, &trust);
    let counts: Vec<AttemptCount> = accepted
        .iter()
        .map(|&i| attempts.count(records_dir, &bundles[i].1))
        .collect();
    let records = record_rows(&bundles, &accepted, &counts)?;
    let attempt_flags = attempts.flags(&records);
    let curve_rows: Vec<CurveRow> = bundles
        .iter()
        .flat_map(|(name, b)| curves::rows_of(name, b))
        .collect();

    let runs_csv = records_dir.join(RUNS_CSV);
    let records_csv = records_dir.join(RECORDS_CSV);
    let curves_csv = records_dir.join(CURVES_CSV);
    table::write_runs(&runs_csv, &runs)?;
    table::write_records(&records_csv, &records)?;
    curves::write_curves(&curves_csv, &curve_rows)?;
    Ok(RebuildReport {
        records_dir: records_dir.to_path_buf(),
        bundles_found: dirs.len(),
        included: bundles.iter().map(|(n, _)| n.clone()).collect(),
        excluded,
        rejected,
        attempt_flags,
        runs: runs.len(),
        records: records.len(),
        curve_points: curve_rows.len(),
        runs_csv,
        records_csv,
        curves_csv,
    })
}

fn day(ts: &str) -> String {
    ts.get(..10).unwrap_or(ts).to_string()
}

fn run_rows(name: &str, b: &Bundle) -> Vec<RunRow> {
    let mut runs: Vec<&RunRecord> = b.inputs.runs.iter().collect();
    runs.sort_by_key(|r| r.run_index);
    runs.into_iter()
        .map(|r| RunRow {
            track: r.track.clone(),
            submission: r.submission.clone(),
            role: r.role.as_str().to_owned(),
            bundle: name.to_string(),
            bundle_digest: b.digest.clone(),
            run_index: r.run_index as u32,
            seed: Some(r.seed),
            status: match r.status {
                RunStatus::Ok => "ok",
                RunStatus::Failed => "failed",
            }
            .to_owned(),
            train_time_ms: (r.status == RunStatus::Ok).then_some(r.train_time_ms),
            final_val_loss: r.final_val_loss,
            heldout_val_loss: r.heldout_val_loss,
            train_tokens: Some(r.train_tokens),
            date: day(if r.started_at.is_empty() {
                &b.summary.created_at
            } else {
                &r.started_at
            }),
            device: r.device.to_string(),
            official: r.official,
            verdict: b.summary.verdict.as_str().to_owned(),
        })
        .collect()
}

/// Whether a verified bundle could open a track's record chain: every check but the
/// pins passed, the environment was official and the loss test passed.
fn opens_chain(b: &Bundle) -> Result<(), String> {
    b.summary.qualifies_as_record()
}

/// Why bundle `b` (verdict "new record") is not a record given the track's current
/// record `cur`, if it is not: its time comparison must be against `cur` itself.
fn beats_current(b: &Bundle, cur_name: &str, cur: &Bundle) -> Result<(), String> {
    let plan = &b.inputs.plan;
    let cur_plan = &cur.inputs.plan;
    match plan.comparison {
        TimeBaseline::SameMachine => {
            let same_code = plan.baseline_submission.as_deref() == Some(&cur_plan.submission)
                && plan.baseline_submission_sha256.as_deref()
                    == Some(cur_plan.submission_sha256.as_str());
            if same_code {
                Ok(())
            } else {
                Err(format!(
                    "certified against `{}` (source {}), not the record current at its date: `{}` (source {}, {cur_name})",
                    plan.baseline_submission.as_deref().unwrap_or("nothing"),
                    short(plan.baseline_submission_sha256.as_deref()),
                    cur_plan.submission,
                    short(Some(&cur_plan.submission_sha256)),
                ))
            }
        }
        TimeBaseline::StoredRecord => match &plan.stored_baseline {
            Some(sb) if sb.attestation_sha256 == cur.digest => Ok(()),
            Some(sb) => Err(format!(
                "compared with the stored times of {} (attestation {}), not the record current at its date: {cur_name} (attestation {})",
                sb.bundle,
                short(Some(&sb.attestation_sha256)),
                short(Some(&cur.digest))
            )),
            None => Err("a stored-record comparison with no stored record".into()),
        },
        TimeBaseline::None => Err("no time comparison".into()),
    }
}

fn short(h: Option<&str>) -> String {
    h.map(|h| h.chars().take(12).collect())
        .unwrap_or_else(|| "unknown".into())
}

/// When a bundle was certified: summary.created_at, else its latest run start.
fn created_at(b: &Bundle) -> String {
    if !b.summary.created_at.is_empty() {
        return b.summary.created_at.clone();
    }
    b.inputs
        .runs
        .iter()
        .map(|r| r.started_at.clone())
        .max()
        .unwrap_or_default()
}

/// The record chain a bundle belongs to: its track's, one per clock, so a command
/// submission's self-reported times never succeed (or are succeeded by) the harness's.
/// The clock is read from the plan, not the summary's label.
fn chain_key(b: &Bundle) -> String {
    match b.inputs.plan.clock() {
        Clock::Harness => b.summary.track.clone(),
        clock => format!("{} ({clock})", b.summary.track),
    }
}

/// Walks each track's verified bundles in certification order and keeps the ones that
/// become records; returns their indices into `bundles` and the rejected record claims.
fn accept_records(bundles: &[(String, Bundle)]) -> (Vec<usize>, Vec<Excluded>) {
    let mut order: Vec<usize> = (0..bundles.len()).collect();
    // Order by the instant, not the text: an RFC 3339 offset other than `Z` must not
    // misorder a bundle against the current record.
    let instant = |b: &Bundle| {
        chrono::DateTime::parse_from_rfc3339(&created_at(b))
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN)
    };
    order.sort_by(|&a, &b| {
        let (na, ba) = &bundles[a];
        let (nb, bb) = &bundles[b];
        (chain_key(ba), instant(ba), na).cmp(&(chain_key(bb), instant(bb), nb))
    });
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut current: std::collections::BTreeMap<String, usize> = Default::default();
    for i in order {
        let (name, b) = &bundles[i];
        let track = chain_key(b);
        let claims = b.summary.verdict == Verdict::NewRecord;
        let outcome = match current.get(&track) {
            None => opens_chain(b),
            Some(&c) => {
                if !claims {
                    continue;
                }
                let (cur_name, cur) = &bundles[c];
                beats_current(b, cur_name, cur)
            }
        };
        match outcome {
            Ok(()) => {
                current.insert(track, i);
                accepted.push(i);
            }
            Err(why) if claims => rejected.push(Excluded {
                bundle: name.clone(),
                reasons: vec![why],
            }),
            // A bundle that claimed nothing and cannot open the chain is just runs.
            Err(_) => {}
        }
    }
    rejected.sort_by(|a, b| a.bundle.cmp(&b.bundle));
    (accepted, rejected)
}

/// The attempt ledger of a records folder, as rebuild reads it.
struct Attempts {
    ledger: Ledger,
    /// Whether ledger.jsonl exists: without it, records whose plans name no attempt were
    /// certified before the ledger and are not flagged.
    present: bool,
    /// The ledger's own problems, each naming the file and line.
    problems: Vec<String>,
}

impl Attempts {
    /// Reads `records_dir/ledger.jsonl` and checks its lines against the bundles' keys.
    /// Never an error: an unreadable ledger is a problem, and then holds no line.
    fn read(records_dir: &Path, trust: &Trust) -> Self {
        let path = records_dir.join(LEDGER_FILE);
        let present = path.exists();
        let (mut ledger, mut problems) = match Ledger::read(&path) {
            Ok(l) => {
                let problems = l.problems.clone();
                (l, problems)
            }
            Err(e) => (
                Ledger::default(),
                vec![format!("{}: cannot be read: {e}", path.display())],
            ),
        };
        if !ledger.lines.is_empty() {
            match trust.store() {
                Ok(store) => problems.extend(ledger.signature_problems(store, trust.threshold())),
                Err(why) => problems.push(format!(
                    "{}: its signatures cannot be checked: {why}",
                    path.display()
                )),
            }
        }
        // Flags go into records.csv, which must not depend on where the folder is.
        ledger.path = PathBuf::from(LEDGER_FILE);
        Attempts {
            ledger,
            present,
            problems,
        }
    }

    /// The attempt count of the record bundle `b`, by its plan.json's digest.
    fn count(&self, records_dir: &Path, b: &Bundle) -> AttemptCount {
        let plan = &b.inputs.plan;
        if !self.present && plan.attempt.is_none() {
            return AttemptCount {
                attempts: None,
                flag: None,
            };
        }
        let plan_path = b.path.join(layout::PLAN);
        match speedcert_fsio::sha256_file(&plan_path) {
            Ok(sha256) => ledger::attempt_count(&self.ledger, plan, &sha256),
            Err(e) => AttemptCount {
                attempts: plan.attempt.as_ref().map(|a| a.number),
                flag: Some(format!(
                    "{}: cannot be hashed to look it up in the ledger: {e}",
                    rel(records_dir, &plan_path)
                )),
            },
        }
    }

    /// The report's warnings: the ledger's problems, then each flagged record.
    fn flags(self, records: &[RecordRow]) -> Vec<Excluded> {
        let mut flagged: Vec<Excluded> = records
            .iter()
            .filter_map(|r| {
                Some(Excluded {
                    bundle: r.bundle.clone(),
                    reasons: vec![r.attempts_flag.clone()?],
                })
            })
            .collect();
        flagged.sort_by(|a, b| a.bundle.cmp(&b.bundle));
        let ledger = (!self.problems.is_empty()).then(|| Excluded {
            bundle: LEDGER_FILE.to_string(),
            reasons: self.problems,
        });
        ledger.into_iter().chain(flagged).collect()
    }
}

/// The record rows of the `accepted` bundles; `counts[k]` is the attempt count of
/// `bundles[accepted[k]]`.
fn record_rows(
    bundles: &[(String, Bundle)],
    accepted: &[usize],
    counts: &[AttemptCount],
) -> Result<Vec<RecordRow>> {
    let recs: Vec<&(String, Bundle)> = accepted.iter().map(|&i| &bundles[i]).collect();
    let chain = frame::record_chain(recs.iter().map(|(name, b)| frame::ChainInput {
        track: chain_key(b),
        created_at: created_at(b),
        bundle: name.clone(),
        time_mean_ms: b.summary.time.as_ref().map(|t| t.candidate.mean_ms),
    }))?;
    Ok(chain
        .into_iter()
        .map(|c| {
            let (_, b) = recs[c.input_index];
            let count = &counts[c.input_index];
            let s = &b.summary;
            let n_ok = b
                .inputs
                .runs
                .iter()
                .filter(|r| r.role == Role::Candidate && r.status == RunStatus::Ok)
                .count() as u32;
            let time = s.time.as_ref();
            RecordRow {
                track: s.track.clone(),
                number: c.number,
                date: day(&c.created_at),
                submission: s.submission.clone(),
                baseline_submission: s.baseline_submission.clone(),
                bundle: c.bundle,
                bundle_digest: b.digest.clone(),
                n: time.map_or(n_ok, |t| t.candidate.n as u32),
                time_mean_ms: time.map(|t| t.candidate.mean_ms),
                time_sd_ms: time.and_then(|t| t.candidate.sd_ms),
                improvement_ms: c.improvement_ms,
                improvement_pct: c.improvement_pct,
                p_value: time.and_then(|t| t.p_value),
                threshold: Some(s.threshold),
                change_pct: time.and_then(|t| t.change_pct),
                loss_mean: s.loss.as_ref().map(|l| l.mean),
                comparison: serde_json::to_value(s.comparison)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                official: s.official,
                created_at: c.created_at,
                attempts: count.attempts.and_then(|n| u32::try_from(n).ok()),
                attempts_flag: count.flag.clone(),
                clock: b.inputs.plan.clock().as_str().to_owned(),
            }
        })
        .collect())
}
