//! The audit itself: find every record's logs and claims, group runs into samples,
//! test them, compare with what the authors state, and give each record a verdict.
//!
//! Rules, in the order they apply to one record folder:
//!
//! 1. **Runs.** Every `.txt`/`.log` file (also gzipped) is parsed; finished runs (a
//!    validation loss at step N of N) are kept, other files are [`LogProblem`]s.
//! 2. **Samples.** Runs are grouped by subfolder (`seed_N/` folders merged), role,
//!    printed script (fingerprint), scheduled steps (track 3: final step) and GPU
//!    count; a claim list matching runs of several scripts pools them as the authors
//!    did. Copies of a run (here or in another record) are counted once.
//!    The role is *baseline* when the subfolder (or, for files in the record folder
//!    itself, the file name) contains one of [`BASELINE_WORDS`], else *candidate*.
//! 3. **Claims.** `statistics.md` files and README code blocks are read
//!    ([`crate::claims`]). A block that lists per-run values is tied to the sample
//!    holding most of those runs (matched by loss to 4 decimals and time to the ms). If
//!    every listed run has a log but the folder holds more, the listed runs become a
//!    sample of their own: the authors have said which runs their figures are about.
//! 4. **Candidate.** Among candidate-role folder samples (all samples if there are
//!    none): on the track's GPU count; fewest steps (records cut steps; discarded
//!    versions ran longer); a folder named like the submission ([`SUBMITTED_WORDS`]);
//!    most runs; the last folder name (this_pr_v3 after this_pr_v2). Then, if claims
//!    singled out runs of that sample, the largest such listed subset.
//! 5. **Baseline.** Among baseline-role folder samples on the candidate's GPU count
//!    (so the time comparison is same-hardware): most steps (the unchanged previous
//!    record, not a step-cut ablation); a label saying "baseline"; most runs; the last
//!    folder name.
//! 6. **Statistics.** Per sample: summary of final loss and train time, one-sided
//!    one-sample t-test of the loss against the target. Candidate against baseline:
//!    [`speedcert_stats::compare`] of times (Welch, bootstrap CI, effect size,
//!    Mann–Whitney).
//! 7. **Claim checks.** Each stated figure against the same statistic of its sample,
//!    within the written precision (see `tolerance_for`); a block whose runs have no
//!    logs is still checked against its own listed values.
//! 8. **Verdict**, first match wins: no finished run → logs missing; a stated figure
//!    disagrees → claims disagree; the record's loss claim lists runs none of whose
//!    logs are in the folder → logs missing; one run → single run; loss p < threshold
//!    and (no baseline, or time p < threshold) → evidence sufficient; else
//!    insufficient.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use speedcert_stats::{
    Alternative, BootstrapConfig, Comparison, SPEEDRUN_TARGET_LOSS, Summary, TTest, compare,
    one_sample_t, welch_t,
};
use walkdir::WalkDir;

use crate::claims::{ClaimBlock, Quantity, parse_readme, parse_statistics_md};
use crate::parse::{RunLog, parse_trials};
use crate::problem::{LogProblem, ProblemKind, problem_of};

/// How to audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// The loss every run must beat on average on track 1 (3.28) and on folders not
    /// named like a known track; tracks 2 and 3 use their own (see [`TRACKS`]).
    pub target_loss: f64,
    /// p-value threshold for "evidence sufficient" (the speedrun's own rule: 0.01).
    pub threshold: f64,
    /// GPUs per run on the track (8×H100): samples on other counts are side
    /// experiments and are not picked as the record's candidate or baseline.
    pub track_gpus: u32,
    pub bootstrap: BootstrapConfig,
    /// Where the records folder came from ("KellerJordan/modded-nanogpt at f411b3d"),
    /// printed in the reports so committed results say what they audited.
    pub source: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            target_loss: SPEEDRUN_TARGET_LOSS,
            threshold: 0.01,
            track_gpus: 8,
            bootstrap: BootstrapConfig::default(),
            source: None,
        }
    }
}

/// Errors that stop the audit before it starts. Problems with single files never
/// do; they are [`LogProblem`]s in the report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a folder of record folders (expected e.g. records/track_1_short)")]
    NotARecordsDir { path: PathBuf },
    #[error("{path}: {detail}")]
    Output { path: PathBuf, detail: String },
}

/// The fixed verdict vocabulary of an audited record. Serialised as its
/// [`Verdict::as_str`] text, so JSON, CSV and markdown use the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    /// The candidate's mean loss is below target at p < threshold and, where the
    /// record has a same-hardware baseline, its time is below the baseline's at
    /// p < threshold.
    #[serde(rename = "evidence sufficient")]
    EvidenceSufficient,
    /// Several runs, but a test misses the threshold.
    #[serde(rename = "insufficient")]
    Insufficient,
    /// One run: no test is possible.
    #[serde(rename = "single run")]
    SingleRun,
    /// No finished run in the record's folder, or the runs behind the record's
    /// stated loss evidence have no logs there.
    #[serde(rename = "logs missing")]
    LogsMissing,
    /// A figure the authors state is not what their own logs give.
    #[serde(rename = "claims disagree")]
    ClaimsDisagree,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::EvidenceSufficient,
        Verdict::Insufficient,
        Verdict::SingleRun,
        Verdict::LogsMissing,
        Verdict::ClaimsDisagree,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::EvidenceSufficient => "evidence sufficient",
            Verdict::Insufficient => "insufficient",
            Verdict::SingleRun => "single run",
            Verdict::LogsMissing => "logs missing",
            Verdict::ClaimsDisagree => "claims disagree",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a sample holds the record's new runs or a rerun of what it beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Candidate,
    Baseline,
}

/// What a track's records compete on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Objective {
    /// Training time to the target loss (tracks 1 and 2): runs go to step N of N.
    #[serde(rename = "train time")]
    TrainTime,
    /// Steps to the target loss (track 3): runs may stop early, at their last
    /// validation, and the step count is the result; times are not compared.
    #[serde(rename = "steps")]
    Steps,
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::TrainTime => "train time",
            Objective::Steps => "steps",
        }
    }
}

/// One track of the speedrun's `records/` folder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackSpec {
    /// Folder name under `records/`.
    pub name: &'static str,
    /// Target loss as the track's README states it; `None` means [`Options::target_loss`].
    pub target_loss: Option<f64>,
    pub objective: Objective,
    /// Subfolder holding the record folders ("" for the track folder itself).
    pub records_in: &'static str,
}

/// The speedrun's tracks at the audited revision, with each one's own target and
/// objective (from its README).
pub const TRACKS: [TrackSpec; 3] = [
    TrackSpec {
        name: "track_1_short",
        target_loss: None,
        objective: Objective::TrainTime,
        records_in: "",
    },
    TrackSpec {
        name: "track_2_medium",
        target_loss: Some(2.92),
        objective: Objective::TrainTime,
        records_in: "",
    },
    TrackSpec {
        name: "track_3_optimization",
        target_loss: Some(3.28),
        objective: Objective::Steps,
        records_in: "results",
    },
];

/// A file or folder the audit did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path relative to the folder audited.
    pub path: String,
    pub reason: String,
}

/// What the audit covered of one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackCoverage {
    /// Track folder name ("track_1_short"; the folder's own name when it is not a
    /// known track).
    pub track: String,
    pub target_loss: f64,
    pub objective: Objective,
    /// The folder holding its records, relative to the folder audited.
    pub records_dir: String,
    pub records: usize,
    pub log_files: usize,
    pub skipped: Vec<Skipped>,
}

/// Words that mark a folder or file as a baseline rerun ("original_timing.txt" is
/// track 2's rerun of the unmodified script).
pub const BASELINE_WORDS: [&str; 8] = [
    "baseline",
    "comparison",
    "control",
    "master",
    "original",
    "prior",
    "previous",
    "reference",
];

/// Folder names that mark the submitted version when a record has several.
pub const SUBMITTED_WORDS: [&str; 4] = ["this_pr", "this_record", "record", "combined"];

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Path relative to the records folder.
    pub file: String,
    pub log: RunLog,
}

/// Software and hardware seen in a sample's logs, each value with its run count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub gpus: BTreeMap<String, usize>,
    pub torch: BTreeMap<String, usize>,
    pub cuda: BTreeMap<String, usize>,
    pub python: BTreeMap<String, usize>,
    pub triton: BTreeMap<String, usize>,
    pub driver: BTreeMap<String, usize>,
    /// Distinct printed training scripts among the runs.
    pub scripts: usize,
}

/// Runs of one record that belong together: same folder, same role, same printed
/// script, same number of steps and GPUs. Runs of different scripts (ablations,
/// other optimizers) are never pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// "this_pr (1390 steps, 8 GPUs)", "logs/baseline* (1490 steps, 8 GPUs)".
    pub label: String,
    /// Folder inside the record ("" for the record folder itself).
    pub folder: String,
    pub role: Role,
    pub total_steps: Option<u32>,
    pub gpu_count: Option<u32>,
    /// Fingerprint of the printed training script shared by its runs.
    pub script: Option<String>,
    /// Set when the sample is the subset of a folder's runs that a claim lists
    /// ("README.md:12"): the runs the authors say their figures come from.
    pub listed_in: Option<String>,
    pub runs: Vec<Run>,
    pub loss: Option<Summary>,
    /// One-sided one-sample t-test, H1: mean loss < target.
    pub loss_test: Option<TTest>,
    /// Why `loss_test` is missing (one run, zero variance).
    pub loss_test_error: Option<String>,
    /// Train times in ms of the runs that have one.
    pub time_ms: Option<Summary>,
    pub environment: Environment,
}

impl Sample {
    pub fn n(&self) -> usize {
        self.runs.len()
    }

    fn losses(&self) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.log.final_val_loss)
            .collect()
    }

    fn times(&self) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.log.train_time_ms)
            .collect()
    }
}

/// One stated figure checked against the logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// File and line of the statement.
    pub source: String,
    pub line: usize,
    /// Label of the sample the claim was matched to.
    pub sample: String,
    pub quantity: Quantity,
    /// As written.
    pub stated: String,
    /// In canonical units (ms for times).
    pub stated_value: f64,
    /// Canonical units per unit of `stated` (1000 for seconds): for printing ours
    /// the way the author wrote theirs.
    pub scale: f64,
    /// Our value from the logs; `None` when it cannot be computed.
    pub ours: Option<f64>,
    /// The same statistic computed from the author's own listed values, when the
    /// claim lists them: separates "different runs" from "different arithmetic".
    pub from_listed: Option<f64>,
    /// Allowed |ours − stated|.
    pub tolerance: f64,
    /// `None` when there was nothing to compare with (`ours` is `None`).
    pub agrees: Option<bool>,
    pub note: String,
}

/// A claim block that matched no sample of runs, so nothing could be checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UncheckedClaim {
    pub source: String,
    pub line: usize,
    pub reason: String,
}

/// The audit of one record folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordAudit {
    /// Track folder name ("track_1_short").
    pub track: String,
    pub objective: Objective,
    /// The loss its runs are tested against.
    pub target_loss: f64,
    /// Folder name, e.g. "2026-07-17_FP8DownProjection" (a log's file name for a
    /// log that sits directly in the track's records folder).
    pub record: String,
    /// The date the folder name starts with (often not the date the record was
    /// published in the speedrun's README).
    pub folder_date: Option<String>,
    /// `.txt`/`.log` files found.
    pub log_files: usize,
    /// Finished runs among them.
    pub complete_runs: usize,
    pub samples: Vec<Sample>,
    /// Index into `samples` of the record's submitted runs.
    pub candidate: Option<usize>,
    /// Index into `samples` of the same-hardware baseline, if the record has one.
    pub baseline: Option<usize>,
    /// Candidate time against baseline time.
    pub time_comparison: Option<Comparison>,
    pub time_comparison_error: Option<String>,
    pub claims: Vec<ClaimCheck>,
    pub unchecked_claims: Vec<UncheckedClaim>,
    /// Set when the record's evidence claim lists runs that have no logs in the
    /// folder (and no other evidence claim matches the logs): why the verdict is
    /// "logs missing" although some logs exist.
    pub claims_without_logs: Option<String>,
    pub verdict: Verdict,
    pub verdict_reason: String,
    pub problems: Vec<LogProblem>,
    /// Logs left out as copies of runs counted elsewhere, in words, naming them.
    pub duplicates_note: Option<String>,
}

impl RecordAudit {
    pub fn candidate_sample(&self) -> Option<&Sample> {
        self.candidate.map(|i| &self.samples[i])
    }

    pub fn baseline_sample(&self) -> Option<&Sample> {
        self.baseline.map(|i| &self.samples[i])
    }
}

/// Counts over the whole audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub records: usize,
    pub log_files: usize,
    /// Finished runs, each counted once (duplicates are problems, not runs).
    pub complete_runs: usize,
    pub duplicates: usize,
    pub problems: usize,
    pub claims_checked: usize,
    pub claims_disagreeing: usize,
    pub by_verdict: BTreeMap<String, usize>,
}

/// The result of an audit: every record, in folder order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub tool: String,
    /// The folder audited, as given.
    pub records_dir: String,
    pub options: Options,
    /// Per track: what was audited and what was skipped.
    pub tracks: Vec<TrackCoverage>,
    pub totals: Totals,
    pub records: Vec<RecordAudit>,
}

impl AuditReport {
    /// Every file problem, in record order.
    pub fn problems(&self) -> impl Iterator<Item = &LogProblem> {
        self.records.iter().flat_map(|r| r.problems.iter())
    }
}

/// Audits a modded-nanogpt records folder: the repository's `records/` (every
/// `track_*` folder in it, each with its own target, objective and claim formats),
/// one track folder (`records/track_1_short`), or any folder of record folders.
/// Each record folder is one record; a log lying directly in a track's records
/// folder is a record of its own; every other file or folder not read is listed in
/// [`AuditReport::tracks`] with the reason.
///
/// Fails only if the folder cannot be listed; unreadable or unparseable logs are
/// reported in the result.
pub fn audit_modded_nanogpt(
    records_dir: &Path,
    options: &Options,
) -> Result<AuditReport, AuditError> {
    let plans = plan_tracks(records_dir, options)?;

    // List every file first, then parse all logs in parallel.
    let mut entries: Vec<(usize, usize, PathBuf)> = Vec::new();
    for (t, plan) in plans.iter().enumerate() {
        for (r, rec) in plan.records.iter().enumerate() {
            for f in rec.files.iter().filter(|f| is_log_file(f)) {
                entries.push((t, r, f.clone()));
            }
        }
    }
    let parsed: Vec<Parsed> = entries
        .par_iter()
        .map(|(t, _, path)| {
            let mut result = read_and_parse(path);
            if let Ok(p) = &mut result
                && plans[*t].spec.objective == Objective::Steps
            {
                p.log.finish_at_last_validation();
                for trial in &mut p.trials {
                    trial.finish_at_last_validation();
                }
            }
            result
        })
        .collect();
    let owners = find_duplicates(&plans, &entries, &parsed, records_dir);

    let mut per_record: Vec<Vec<Vec<LogEntry>>> = plans
        .iter()
        .map(|p| p.records.iter().map(|_| Vec::new()).collect())
        .collect();
    for (i, ((t, r, path), result)) in entries.iter().zip(parsed).enumerate() {
        per_record[*t][*r].push(LogEntry {
            file: relative(records_dir, path),
            inner: relative(&plans[*t].records[*r].dir, path),
            parsed: result,
            duplicate_of: owners[i].clone(),
        });
    }

    let mut records = Vec::new();
    let mut tracks = Vec::new();
    for (plan, logs) in plans.iter().zip(per_record) {
        let track_options = Options {
            target_loss: plan.target_loss,
            ..options.clone()
        };
        let before = records.len();
        for (rec, logs) in plan.records.iter().zip(logs) {
            records.push(audit_record(records_dir, plan, rec, logs, &track_options));
        }
        tracks.push(TrackCoverage {
            track: plan.name.clone(),
            target_loss: plan.target_loss,
            objective: plan.spec.objective,
            records_dir: relative(records_dir, &plan.root),
            records: records.len() - before,
            log_files: records[before..].iter().map(|r| r.log_files).sum(),
            skipped: plan.skipped.clone(),
        });
    }

    let mut totals = Totals {
        records: records.len(),
        ..Totals::default()
    };
    for v in Verdict::ALL {
        totals.by_verdict.insert(v.as_str().to_string(), 0);
    }
    for r in &records {
        totals.log_files += r.log_files;
        totals.complete_runs += r.complete_runs;
        totals.problems += r.problems.len();
        totals.duplicates += r
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Duplicate)
            .count();
        totals.claims_checked += r.claims.iter().filter(|c| c.agrees.is_some()).count();
        totals.claims_disagreeing += r.claims.iter().filter(|c| c.agrees == Some(false)).count();
        *totals
            .by_verdict
            .entry(r.verdict.as_str().to_string())
            .or_default() += 1;
    }
    Ok(AuditReport {
        tool: format!("speedcert-audit {}", env!("CARGO_PKG_VERSION")),
        records_dir: records_dir.display().to_string(),
        options: options.clone(),
        tracks,
        totals,
        records,
    })
}

/// One record to audit: a folder, or a log lying directly in a records folder.
struct RecordPlan {
    name: String,
    /// The record folder (for a lone log, the folder holding it).
    dir: PathBuf,
    files: Vec<PathBuf>,
}

/// One track to audit.
struct TrackPlan {
    name: String,
    spec: TrackSpec,
    target_loss: f64,
    root: PathBuf,
    records: Vec<RecordPlan>,
    skipped: Vec<Skipped>,
}

/// A log file of a record, parsed, with the log it duplicates if any.
struct LogEntry {
    /// Path relative to the folder audited.
    file: String,
    /// Path relative to the record folder.
    inner: String,
    parsed: Parsed,
    duplicate_of: Option<String>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| AuditError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Which tracks `dir` holds: every `track_*` folder of a `records/` folder, or
/// `dir` itself as one track (named like a known one, or not).
fn plan_tracks(dir: &Path, options: &Options) -> Result<Vec<TrackPlan>, AuditError> {
    if !dir.is_dir() {
        return Err(AuditError::NotARecordsDir {
            path: dir.to_path_buf(),
        });
    }
    let top = sorted_entries(dir)?;
    let track_dirs: Vec<&PathBuf> = top
        .iter()
        .filter(|p| p.is_dir() && file_name(p).starts_with("track_"))
        .collect();
    if track_dirs.is_empty() {
        return Ok(vec![plan_track(dir, dir, options)?]);
    }
    let mut plans = Vec::new();
    for t in &track_dirs {
        plans.push(plan_track(dir, t, options)?);
    }
    // What lies beside the track folders is not a record.
    if let Some(first) = plans.first_mut() {
        for p in top.iter().filter(|p| !track_dirs.contains(p)) {
            first.skipped.push(Skipped {
                path: relative(dir, p),
                reason: "beside the track folders, not in one".into(),
            });
        }
    }
    Ok(plans)
}

fn plan_track(base: &Path, track_dir: &Path, options: &Options) -> Result<TrackPlan, AuditError> {
    let name = file_name(track_dir);
    let spec = TRACKS
        .iter()
        .copied()
        .find(|t| t.name == name)
        .unwrap_or(TrackSpec {
            name: "",
            target_loss: None,
            objective: Objective::TrainTime,
            records_in: "",
        });
    let root = if spec.records_in.is_empty() {
        track_dir.to_path_buf()
    } else {
        track_dir.join(spec.records_in)
    };
    let mut skipped = Vec::new();
    if root != track_dir {
        for p in sorted_entries(track_dir)? {
            if p != root {
                skipped.push(Skipped {
                    path: relative(base, &p),
                    reason: format!(
                        "outside {}/, where the track keeps its results (the track's own \
                         README, code and figures)",
                        spec.records_in
                    ),
                });
            }
        }
    }
    let mut records = Vec::new();
    if root.is_dir() {
        for p in sorted_entries(&root)? {
            if p.is_dir() {
                records.push(RecordPlan {
                    name: file_name(&p),
                    files: list_files(&p),
                    dir: p,
                });
            } else if is_log_file(&p) {
                // A log directly in the records folder: the track's README links
                // such logs as records of their own.
                records.push(RecordPlan {
                    name: file_name(&p),
                    dir: root.clone(),
                    files: vec![p],
                });
            } else {
                skipped.push(Skipped {
                    path: relative(base, &p),
                    reason: "a file directly in the records folder that is not a log".into(),
                });
            }
        }
    } else {
        skipped.push(Skipped {
            path: relative(base, &root),
            reason: "missing".into(),
        });
    }
    Ok(TrackPlan {
        name,
        spec,
        target_loss: spec.target_loss.unwrap_or(options.target_loss),
        root,
        records,
        skipped,
    })
}

/// For every log, the log it repeats (`None` for the one counted). Logs are the same
/// run when they have the same content, the same run id (the UUID in the file name)
/// or the same final validation (step, loss and train time to the ms). Of a set of
/// copies, the one counted is in the record whose folder date is the earliest on or
/// after the day the run was made (a run cannot be evidence for a record dated
/// before it); within a record, the one sitting with the most other logs (with its
/// sibling runs, not a copy put beside the README), then the largest.
fn find_duplicates(
    plans: &[TrackPlan],
    entries: &[(usize, usize, PathBuf)],
    parsed: &[Parsed],
    base: &Path,
) -> Vec<Option<String>> {
    let n = entries.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in parsed.iter().enumerate() {
        let Ok(p) = p else { continue };
        let mut keys = vec![format!("content {} {}", p.bytes, p.content)];
        if let Some(id) = run_id(&file_name(&entries[i].2)) {
            keys.push(format!("id {id}"));
        }
        // The final validation to the ms: distinct runs do not share it.
        if let (Some(step), Some(l), Some(ms)) = (
            p.log.final_step(),
            p.log.final_val_loss,
            p.log.train_time_ms,
        ) {
            keys.push(format!("final {:?} {step} {l} {ms}", p.log.total_steps));
        }
        for k in keys {
            match seen.get(&k) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    seen.insert(k, i);
                }
            }
        }
    }
    let mut per_dir: BTreeMap<&Path, usize> = BTreeMap::new();
    for (_, _, path) in entries {
        *per_dir.entry(path.parent().unwrap_or(path)).or_default() += 1;
    }
    let logs_beside: BTreeMap<usize, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (_, _, path))| (i, per_dir[path.parent().unwrap_or(path)]))
        .collect();
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = vec![None; n];
    for members in groups.values().filter(|m| m.len() > 1) {
        let made = members.iter().find_map(|&i| {
            parsed[i]
                .as_ref()
                .ok()
                .and_then(|p| p.log.nvidia_smi_time.as_deref())
                .and_then(smi_time)
                .map(|t| days(t.date()))
        });
        let record_date_of = |i: usize| {
            let (t, r, _) = &entries[i];
            record_date(&plans[*t].records[*r].name)
        };
        let owner = *members
            .iter()
            .min_by_key(|&&i| {
                let d = record_date_of(i);
                // Folder dates are the announcement's day and nvidia-smi's clock has
                // no time zone: a record may be dated up to 2 days before its run.
                let before_run = match (d.as_deref().and_then(day_number), made) {
                    (Some(d), Some(m)) => d + 2 < m,
                    _ => false,
                };
                let siblings = std::cmp::Reverse(logs_beside[&i]);
                // Then the fullest copy: a whole log over a one-line summary of it.
                let size = std::cmp::Reverse(parsed[i].as_ref().map_or(0, |p| p.bytes));
                (before_run, d.is_none(), d, siblings, size, i)
            })
            .expect("a group has members");
        let owner_path = relative(base, &entries[owner].2);
        for &i in members.iter().filter(|&&i| i != owner) {
            out[i] = Some(owner_path.clone());
        }
    }
    out
}

/// The run id a log's file name carries: its UUID (`comparison_0f6c8eac-….txt`).
fn run_id(name: &str) -> Option<String> {
    static UUID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            .expect("valid regex")
    });
    UUID.find(name).map(|m| m.as_str().to_string())
}

/// nvidia-smi's banner clock, "Fri Sep  5 15:45:09 2025" (no time zone).
fn smi_time(stamp: &str) -> Option<chrono::NaiveDateTime> {
    let fields: Vec<&str> = stamp.split_ascii_whitespace().collect();
    chrono::NaiveDateTime::parse_from_str(&fields.join(" "), "%a %b %d %H:%M:%S %Y").ok()
}

/// A day count, so folder and run dates can be compared in days.
fn days(day: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(day.num_days_from_ce())
}

/// "2025-09-05" → its day count.
fn day_number(date: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(days)
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// `.txt` and `.log` files, plain or gzipped (`.txt.gz`): the speedrun commits plain
/// logs; gzip lets an archive (or this crate's test fixtures) keep them small.
pub fn is_log_file(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".txt") || name.ends_with(".log")
}

/// Reads a log, decompressing `.gz` files. Bytes that are not UTF-8 are replaced
/// (logs are ASCII; a stray byte must not lose the run). Returns the text and the
/// size of the (decompressed) content.
pub fn read_log(path: &Path) -> std::io::Result<(String, usize)> {
    let bytes = std::fs::read(path)?;
    let bytes = if file_name(path).to_ascii_lowercase().ends_with(".gz") {
        let mut out = Vec::with_capacity(bytes.len() * 8);
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)?;
        out
    } else {
        bytes
    };
    let len = bytes.len();
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((text, len))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_and_parse(path: &Path) -> Parsed {
    let (text, bytes) = read_log(path).map_err(|e| e.to_string())?;
    let mut trials = parse_trials(&text);
    let log = trials.pop().expect("parse_trials returns at least one log");
    Ok(ParsedLog {
        log,
        trials,
        bytes,
        content: crate::parse::fingerprint(text.as_bytes()),
    })
}

fn audit_record(
    base: &Path,
    plan: &TrackPlan,
    rec: &RecordPlan,
    logs: Vec<LogEntry>,
    options: &Options,
) -> RecordAudit {
    let name = rec.name.as_str();
    let files = &rec.files;
    let objective = plan.spec.objective;
    let mut problems = Vec::new();
    let log_files = logs.len();
    let mut duplicates: Vec<(String, String)> = Vec::new();
    // (folder, role, baseline word in the file name, script, steps, gpus) -> runs
    type Key = (
        String,
        Role,
        Option<String>,
        Option<String>,
        Option<u32>,
        Option<u32>,
    );
    let mut groups: BTreeMap<Key, Vec<Run>> = BTreeMap::new();
    for entry in logs {
        let file = entry.file;
        let parsed = match entry.parsed {
            Ok(ok) => ok,
            Err(e) => {
                problems.push(LogProblem {
                    file,
                    kind: ProblemKind::Unreadable,
                    detail: e,
                });
                continue;
            }
        };
        // Each trial of a file that holds several is a run of its own, named
        // "FILE (trial K/N)" in samples and problems.
        let n_trials = parsed.trials.len() + 1;
        let mut file_runs: Vec<(String, RunLog)> = Vec::with_capacity(n_trials);
        let trials = parsed.trials.into_iter().chain(std::iter::once(parsed.log));
        for (k, log) in trials.enumerate() {
            let run_file = if n_trials > 1 {
                format!("{file} (trial {}/{n_trials})", k + 1)
            } else {
                file.clone()
            };
            if let Some((kind, detail)) = problem_of(&log, parsed.bytes) {
                problems.push(LogProblem {
                    file: run_file.clone(),
                    kind,
                    detail,
                });
                if kind.excludes_run() {
                    continue;
                }
            }
            file_runs.push((run_file, log));
        }
        if file_runs.is_empty() {
            continue;
        }
        if let Some(first) = entry.duplicate_of {
            problems.push(LogProblem {
                file: file.clone(),
                kind: ProblemKind::Duplicate,
                detail: format!("the same run as {first}, which is counted instead"),
            });
            duplicates.push((file, first));
            continue;
        }
        // A lone log's record folder is the records folder: `inner` is its name.
        let inner = entry.inner;
        let (folder, file_base) = inner.rsplit_once('/').unwrap_or(("", &inner));
        let folder = without_seed_folder(folder);
        let (role, file_word) = role_of(folder, file_base);
        for (file, log) in file_runs {
            let steps = match objective {
                Objective::TrainTime => log.total_steps,
                Objective::Steps => log.final_step(),
            };
            let key = (
                folder.to_string(),
                role,
                file_word.clone(),
                log.code_fingerprint.clone(),
                steps,
                log.gpu_count,
            );
            groups.entry(key).or_default().push(Run { file, log });
        }
    }

    // Name the script in a sample's label only where its folder holds several.
    let mut scripts_per_folder: BTreeMap<(String, Role, Option<String>), BTreeSet<Option<String>>> =
        BTreeMap::new();
    for (folder, role, word, script, _, _) in groups.keys() {
        scripts_per_folder
            .entry((folder.clone(), *role, word.clone()))
            .or_default()
            .insert(script.clone());
    }
    let samples: Vec<Sample> = groups
        .into_iter()
        .map(|((folder, role, word, script, steps, gpus), runs)| {
            let several = scripts_per_folder[&(folder.clone(), role, word.clone())].len() > 1;
            let shown_script = several.then_some(script.as_deref()).flatten();
            let label = sample_label(&folder, word.as_deref(), shown_script, steps, gpus);
            let mut sample = build_sample(label, folder, role, steps, gpus, runs, None, options);
            sample.script = script;
            sample
        })
        .collect();
    let blocks = read_claims(base, files);
    let mut samples = pool_listed_scripts(samples, &blocks, name, options);
    let complete_runs = samples.iter().map(Sample::n).sum();
    let duplicates_note = (!duplicates.is_empty()).then(|| {
        let mut elsewhere: BTreeSet<&str> = BTreeSet::new();
        for (_, first) in &duplicates {
            elsewhere.insert(first.rsplit_once('/').map_or(first.as_str(), |(d, _)| d));
        }
        format!(
            "{} log(s) left out as copies of runs counted in {}",
            duplicates.len(),
            elsewhere.into_iter().collect::<Vec<_>>().join(", ")
        )
    });

    // Claims first: a list of per-run values whose runs all have logs tells exactly
    // which runs a claim is about, and may single out part of a folder.
    let matches: Vec<Result<BlockMatch, String>> =
        blocks.iter().map(|b| match_block(b, &samples)).collect();
    let mut target: Vec<Option<usize>> = Vec::with_capacity(blocks.len());
    for (block, m) in blocks.iter().zip(&matches) {
        let Ok(m) = m else {
            target.push(None);
            continue;
        };
        let parent = &samples[m.sample];
        if !(m.all_found && m.runs.len() < parent.n()) {
            // The list is exactly a sample that the script split out of a folder
            // (2026-02-06_SparseBigramGradient: 5 runs of one script, 3 of another):
            // say that these are the runs the authors list, as for a subset.
            let split_out = samples
                .iter()
                .filter(|s| {
                    s.listed_in.is_none() && s.folder == parent.folder && s.role == parent.role
                })
                .count()
                > 1;
            if m.all_found
                && m.runs.len() == parent.n()
                && split_out
                && parent.listed_in.is_none()
                && !parent.label.contains(" runs listed at ")
            {
                let at = format!("{}:{}", strip_record(&block.source, name), block.line);
                let label = format!("{} — the {} runs listed at {at}", parent.label, parent.n());
                samples[m.sample].label = label;
            }
            target.push(Some(m.sample));
            continue;
        }
        let mut picked = m.runs.clone();
        picked.sort_unstable();
        let files: Vec<&str> = picked
            .iter()
            .map(|&i| parent.runs[i].file.as_str())
            .collect();
        let existing = samples.iter().position(|s| {
            s.listed_in.is_some()
                && s.runs
                    .iter()
                    .map(|r| r.file.as_str())
                    .eq(files.iter().copied())
        });
        let idx = match existing {
            Some(i) => i,
            None => {
                let at = format!("{}:{}", strip_record(&block.source, name), block.line);
                let label = format!(
                    "{} — the {} runs listed at {at}",
                    parent.label,
                    picked.len()
                );
                let runs: Vec<Run> = picked.iter().map(|&i| parent.runs[i].clone()).collect();
                let mut derived = build_sample(
                    label,
                    parent.folder.clone(),
                    parent.role,
                    parent.total_steps,
                    parent.gpu_count,
                    runs,
                    Some(at),
                    options,
                );
                derived.script = parent.script.clone();
                samples.push(derived);
                samples.len() - 1
            }
        };
        target.push(Some(idx));
    }

    let candidate = pick_candidate(&samples, options).map(|c| {
        // Where the authors list the runs behind their claim and every one of them has
        // a log, those runs are the submission; the largest such list wins.
        let parent_files: BTreeSet<&str> =
            samples[c].runs.iter().map(|r| r.file.as_str()).collect();
        (0..samples.len())
            .filter(|&i| {
                samples[i].listed_in.is_some()
                    && samples[i]
                        .runs
                        .iter()
                        .all(|r| parent_files.contains(r.file.as_str()))
            })
            .max_by_key(|&i| (samples[i].n(), std::cmp::Reverse(i)))
            .unwrap_or(c)
    });
    // Track 3 competes on steps: a rerun of the baseline is not a time comparison.
    let baseline = candidate
        .filter(|_| objective == Objective::TrainTime)
        .and_then(|c| pick_baseline(&samples, c));

    let (time_comparison, time_comparison_error) = match (candidate, baseline) {
        (Some(c), Some(b)) => {
            match compare(&samples[c].times(), &samples[b].times(), &options.bootstrap) {
                Ok(cmp) => (Some(cmp), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        _ => (None, None),
    };

    let ctx = ClaimContext {
        samples: &samples,
        candidate,
        baseline,
        time_comparison: time_comparison.as_ref(),
        options,
    };
    let mut claims = Vec::new();
    let mut unchecked_claims = Vec::new();
    // A claim of loss evidence (a p-value over listed runs) none of whose runs
    // has a log, unless another such claim of the record does match its logs.
    let mut claims_without_logs: Option<String> = None;
    let mut primary_matched = false;
    for ((block, m), t) in blocks.iter().zip(matches).zip(target) {
        let primary = block.stated.iter().any(|s| s.quantity == Quantity::LossP)
            && (block.losses.is_some() || block.times_ms.is_some());
        let reason = match (m, t) {
            (Ok(m), Some(t)) => {
                claims.extend(check_block(block, &m, t, &ctx));
                primary_matched |= primary;
                continue;
            }
            (Err(reason), _) => reason,
            (Ok(_), None) => "not matched to a sample".to_string(),
        };
        claims.extend(check_listed_only(block, name, options.target_loss));
        let listed = block
            .losses
            .as_ref()
            .map_or(0, Vec::len)
            .max(block.times_ms.as_ref().map_or(0, Vec::len));
        if primary && claims_without_logs.is_none() {
            let p = block
                .stated
                .iter()
                .find(|s| s.quantity == Quantity::LossP)
                .map_or(String::new(), |s| format!(" (p = {})", s.text));
            claims_without_logs = Some(format!(
                "{}:{} claims {listed} runs{p}, but the folder's logs are not those runs",
                strip_record(&block.source, name),
                block.line
            ));
        }
        unchecked_claims.push(UncheckedClaim {
            source: block.source.clone(),
            line: block.line,
            reason,
        });
    }
    if primary_matched {
        claims_without_logs = None;
    }

    let mut audit = RecordAudit {
        track: plan.name.clone(),
        objective,
        target_loss: options.target_loss,
        record: name.to_string(),
        folder_date: record_date(name),
        log_files,
        complete_runs,
        samples,
        candidate,
        baseline,
        time_comparison,
        time_comparison_error,
        claims,
        unchecked_claims,
        claims_without_logs,
        verdict: Verdict::LogsMissing,
        verdict_reason: String::new(),
        problems,
        duplicates_note,
    };
    let (verdict, reason) = decide(&audit, options);
    audit.verdict = verdict;
    audit.verdict_reason = reason;
    audit
}

/// Where the authors list per-run values that match runs of several scripts of one
/// folder (same role, steps and GPUs), they pooled those runs themselves (Yarn's
/// runs differ in type annotations): their samples are merged, and the label says
/// so. Without such a list, runs of different scripts stay apart.
fn pool_listed_scripts(
    mut samples: Vec<Sample>,
    blocks: &[ClaimBlock],
    record: &str,
    options: &Options,
) -> Vec<Sample> {
    for block in blocks
        .iter()
        .filter(|b| b.losses.is_some() || b.times_ms.is_some())
    {
        // (folder, role, steps, GPUs) -> samples
        type Family = (String, Role, Option<u32>, Option<u32>);
        let mut families: BTreeMap<Family, Vec<usize>> = BTreeMap::new();
        for (i, s) in samples.iter().enumerate() {
            families
                .entry((s.folder.clone(), s.role, s.total_steps, s.gpu_count))
                .or_default()
                .push(i);
        }
        let Some((members, pooled)) = families.into_values().find_map(|members| {
            if members.len() < 2 {
                return None;
            }
            let first = &samples[members[0]];
            let runs: Vec<Run> = members
                .iter()
                .flat_map(|&i| samples[i].runs.iter().cloned())
                .collect();
            let pooled = build_sample(
                String::new(),
                first.folder.clone(),
                first.role,
                first.total_steps,
                first.gpu_count,
                runs,
                None,
                options,
            );
            let (found, listed, _) = pair_runs(block, &pooled);
            if found.len() < 2 || 2 * found.len() < listed {
                return None;
            }
            let hit: BTreeSet<&str> = found
                .iter()
                .map(|&k| pooled.runs[k].file.as_str())
                .collect();
            let touched: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| {
                    samples[i]
                        .runs
                        .iter()
                        .any(|r| hit.contains(r.file.as_str()))
                })
                .collect();
            (touched.len() > 1).then_some((touched, pooled))
        }) else {
            continue;
        };
        let first = &samples[members[0]];
        let folder = if first.folder.is_empty() {
            ".".to_string()
        } else {
            first.folder.clone()
        };
        let steps = first
            .total_steps
            .map_or("? steps".into(), |s| format!("{s} steps"));
        let gpus = first
            .gpu_count
            .map_or("? GPUs".into(), |g| format!("{g} GPUs"));
        let label = format!(
            "{folder} ({steps}, {gpus}), {} scripts pooled as listed at {}:{}",
            members.len(),
            strip_record(&block.source, record),
            block.line
        );
        let runs: Vec<Run> = members
            .iter()
            .flat_map(|&i| samples[i].runs.iter().cloned())
            .collect();
        let merged = build_sample(
            label,
            pooled.folder,
            pooled.role,
            pooled.total_steps,
            pooled.gpu_count,
            runs,
            None,
            options,
        );
        let mut kept: Vec<Sample> = samples
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !members.contains(i))
            .map(|(_, s)| s)
            .collect();
        kept.push(merged);
        samples = kept;
    }
    samples
}

/// "track_1_short/2026-07-17_X/this_pr/statistics.md" → "this_pr/statistics.md".
fn strip_record<'a>(source: &'a str, record: &str) -> &'a str {
    let with_slash = format!("{record}/");
    if let Some(rest) = source.strip_prefix(&with_slash) {
        return rest;
    }
    source
        .find(&format!("/{with_slash}"))
        .map_or(source, |at| &source[at + with_slash.len() + 1..])
}

/// `idea_x/seed_3` → `idea_x`: one folder per seed is one sample, split only for
/// storage (track 3's trustlight keeps each seed's stdout in `seed_N/`).
fn without_seed_folder(folder: &str) -> &str {
    let (parent, last) = folder.rsplit_once('/').unwrap_or(("", folder));
    let digits = last
        .strip_prefix("seed")
        .map(|d| d.trim_start_matches(['_', '-']));
    match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => parent,
        _ => folder,
    }
}

/// Baseline if the folder or (in the record folder itself) the file name says so.
fn role_of(folder: &str, file: &str) -> (Role, Option<String>) {
    let f = folder.to_ascii_lowercase();
    if BASELINE_WORDS.iter().any(|w| f.contains(w)) {
        return (Role::Baseline, None);
    }
    let n = file.to_ascii_lowercase();
    match BASELINE_WORDS.iter().find(|w| n.contains(*w)) {
        Some(w) => (Role::Baseline, Some((*w).to_string())),
        None => (Role::Candidate, None),
    }
}

fn sample_label(
    folder: &str,
    file_word: Option<&str>,
    script: Option<&str>,
    total_steps: Option<u32>,
    gpu_count: Option<u32>,
) -> String {
    let mut name = if folder.is_empty() {
        ".".to_string()
    } else {
        folder.to_string()
    };
    if let Some(w) = file_word {
        name.push_str(&format!("/{w}*"));
    }
    if let Some(s) = script {
        name.push_str(&format!(", script {}", &s[..s.len().min(8)]));
    }
    let steps = total_steps.map_or("? steps".into(), |s| format!("{s} steps"));
    let gpus = gpu_count.map_or("? GPUs".into(), |g| {
        format!("{g} GPU{}", if g == 1 { "" } else { "s" })
    });
    format!("{name} ({steps}, {gpus})")
}

#[allow(clippy::too_many_arguments)]
fn build_sample(
    label: String,
    folder: String,
    role: Role,
    total_steps: Option<u32>,
    gpu_count: Option<u32>,
    runs: Vec<Run>,
    listed_in: Option<String>,
    options: &Options,
) -> Sample {
    let mut sample = Sample {
        label,
        folder,
        role,
        total_steps,
        gpu_count,
        script: None,
        listed_in,
        runs,
        loss: None,
        loss_test: None,
        loss_test_error: None,
        time_ms: None,
        environment: Environment::default(),
    };
    let losses = sample.losses();
    sample.loss = Summary::of(&losses).ok();
    match one_sample_t(&losses, options.target_loss, Alternative::Less) {
        Ok(t) => sample.loss_test = Some(t),
        Err(e) => sample.loss_test_error = Some(e.to_string()),
    }
    sample.time_ms = Summary::of(&sample.times()).ok();
    let mut env = Environment::default();
    let mut scripts = BTreeSet::new();
    for run in &sample.runs {
        let l = &run.log;
        let count = |map: &mut BTreeMap<String, usize>, v: Option<String>| {
            *map.entry(v.unwrap_or_else(|| "?".into())).or_default() += 1;
        };
        let gpu = match (&l.gpu_count, &l.gpu_name) {
            (Some(c), Some(n)) => Some(format!("{c}x {n}")),
            _ => None,
        };
        count(&mut env.gpus, gpu);
        count(&mut env.torch, l.torch_version.clone());
        count(&mut env.cuda, l.cuda_version.clone());
        count(&mut env.python, l.python_version.clone());
        count(&mut env.triton, l.triton_version.clone());
        count(&mut env.driver, l.driver_version.clone());
        if let Some(f) = &l.code_fingerprint {
            scripts.insert(f.clone());
        }
    }
    env.scripts = scripts.len();
    sample.environment = env;
    sample
}

/// The record's submitted runs, by these rules in order (so the pick is explainable
/// and needs no per-record table): candidate-role samples first (all samples if
/// there are none); on the track's GPU count; fewest steps (records cut steps, and
/// folders of discarded versions ran longer); a folder named like the submission
/// ("this_pr", "record", "combined"); most runs; the last folder name
/// (this_pr_v3 after this_pr_v2). Samples singled out by a claim's list are
/// considered afterwards, in [`audit_record`].
fn pick_candidate(samples: &[Sample], options: &Options) -> Option<usize> {
    let folders: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].listed_in.is_none())
        .collect();
    let pool: Vec<usize> = {
        let c: Vec<usize> = folders
            .iter()
            .copied()
            .filter(|&i| samples[i].role == Role::Candidate)
            .collect();
        if c.is_empty() { folders } else { c }
    };
    pool.into_iter().min_by(|&a, &b| {
        let (x, y) = (&samples[a], &samples[b]);
        let off_track = |s: &Sample| s.gpu_count != Some(options.track_gpus);
        let unnamed = |s: &Sample| {
            let f = s.folder.to_ascii_lowercase();
            !SUBMITTED_WORDS.iter().any(|w| f.contains(w))
        };
        off_track(x)
            .cmp(&off_track(y))
            .then(
                x.total_steps
                    .unwrap_or(u32::MAX)
                    .cmp(&y.total_steps.unwrap_or(u32::MAX)),
            )
            .then(unnamed(x).cmp(&unnamed(y)))
            .then(y.n().cmp(&x.n()))
            .then(y.folder.cmp(&x.folder))
            .then(latest_run(y).cmp(&latest_run(x)))
    })
}

/// When the sample's last run started (nvidia-smi's clock): of cumulative
/// ablations run one after another, the last is the record's own.
fn latest_run(s: &Sample) -> Option<chrono::NaiveDateTime> {
    s.runs
        .iter()
        .filter_map(|r| r.log.nvidia_smi_time.as_deref().and_then(smi_time))
        .max()
}

/// The same-hardware baseline: baseline-role folder samples on the candidate's GPU
/// count; most steps (the unchanged previous record, not a step-cut ablation); a
/// label saying "baseline"; most runs; the last folder name.
fn pick_baseline(samples: &[Sample], candidate: usize) -> Option<usize> {
    let c = &samples[candidate];
    (0..samples.len())
        .filter(|&i| {
            let s = &samples[i];
            i != candidate
                && s.listed_in.is_none()
                && s.role == Role::Baseline
                && s.gpu_count == c.gpu_count
        })
        .min_by(|&a, &b| {
            let (x, y) = (&samples[a], &samples[b]);
            let unnamed = |s: &Sample| !s.label.to_ascii_lowercase().contains("baseline");
            y.total_steps
                .cmp(&x.total_steps)
                .then(unnamed(x).cmp(&unnamed(y)))
                .then(y.n().cmp(&x.n()))
                .then(y.folder.cmp(&x.folder))
        })
}

/// "2026-07-17_X" → "2026-07-17"; track 3's "20260611_x" → "2026-06-11".
fn record_date(name: &str) -> Option<String> {
    if let Some(d) = name.get(..8)
        && d.bytes().all(|b| b.is_ascii_digit())
        && name.as_bytes().get(8).is_none_or(|b| !b.is_ascii_digit())
    {
        return Some(format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
    }
    let d = name.get(..10)?;
    let b = d.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| d.to_string())
}

fn read_claims(root: &Path, files: &[PathBuf]) -> Vec<ClaimBlock> {
    let mut blocks = Vec::new();
    for path in files {
        let name = file_name(path).to_ascii_lowercase();
        let is_stats = name == "statistics.md";
        if !is_stats && name != "readme.md" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let rel = relative(root, path);
        if is_stats {
            blocks.extend(parse_statistics_md(&text, &rel));
        } else {
            blocks.extend(parse_readme(&text, &rel));
        }
    }
    blocks
}

/// A parsed log, or why the file could not be read.
type Parsed = Result<ParsedLog, String>;

struct ParsedLog {
    /// The file's run, or its last trial where it holds several (see `trials`).
    log: RunLog,
    /// The trials before the last, where the file holds several
    /// ([`crate::parse::parse_trials`]); empty for a log of one run.
    trials: Vec<RunLog>,
    /// Size of the (decompressed) content.
    bytes: usize,
    /// Fingerprint of the content, to find copies (with `bytes`).
    content: u64,
}

/// Loss values are logged to 4 decimals, times to whole ms: compare them as integers.
fn loss_key(v: f64) -> i64 {
    (v * 1e4).round() as i64
}

/// A time rounded to `unit_ms`, the precision the author listed times with.
fn time_key(ms: f64, unit_ms: f64) -> i64 {
    (ms / unit_ms).round() as i64
}

/// The precision of listed times, in ms: 1 for "139.441" (s), 100 for track 3's
/// "611.1", so a log's 611.138 s matches the listed 611.1.
fn listed_time_unit_ms(times_ms: &[f64]) -> f64 {
    [1.0, 10.0, 100.0, 1000.0]
        .into_iter()
        .rev()
        .find(|unit| {
            times_ms
                .iter()
                .all(|t| ((t / unit) - (t / unit).round()).abs() < 1e-6)
        })
        .unwrap_or(1.0)
}

/// A claim block tied to a sample.
struct BlockMatch {
    sample: usize,
    /// Indices into the sample's runs of the listed runs found in its logs.
    runs: Vec<usize>,
    /// Number of runs the block lists (0 if it lists none).
    listed: usize,
    /// Every listed run has a log.
    all_found: bool,
    /// Listed runs found by one value whose other listed value differs from the log.
    mismatches: Vec<String>,
}

/// Pairs each listed run (loss and time, as far as listed) with a distinct log of
/// `sample`: first on both values, then on the loss alone, then on the time alone
/// (lists are not always in the same order). Returns the run indices found.
fn pair_runs(block: &ClaimBlock, sample: &Sample) -> (Vec<usize>, usize, Vec<String>) {
    let losses: Vec<i64> = block
        .losses
        .iter()
        .flatten()
        .map(|v| loss_key(*v))
        .collect();
    let unit = listed_time_unit_ms(block.times_ms.as_deref().unwrap_or(&[]));
    let times: Vec<i64> = block
        .times_ms
        .iter()
        .flatten()
        .map(|v| time_key(*v, unit))
        .collect();
    let listed = losses.len().max(times.len());
    let entries: Vec<(Option<i64>, Option<i64>)> = (0..listed)
        .map(|i| (losses.get(i).copied(), times.get(i).copied()))
        .collect();
    let keys: Vec<(Option<i64>, Option<i64>)> = sample
        .runs
        .iter()
        .map(|r| {
            (
                r.log.final_val_loss.map(loss_key),
                r.log.train_time_ms.map(|t| time_key(t, unit)),
            )
        })
        .collect();
    let mut used = vec![false; keys.len()];
    let mut found: Vec<Option<usize>> = vec![None; entries.len()];
    for pass in 0..3 {
        for (e, entry) in entries.iter().enumerate() {
            if found[e].is_some() {
                continue;
            }
            let hit = keys.iter().enumerate().position(|(k, key)| {
                !used[k]
                    && match pass {
                        0 => entry.0.is_some() && entry.1.is_some() && *entry == *key,
                        1 => entry.0.is_some() && entry.0 == key.0,
                        _ => entry.1.is_some() && entry.1 == key.1,
                    }
            });
            if let Some(k) = hit {
                used[k] = true;
                found[e] = Some(k);
            }
        }
    }
    // Runs paired on one value whose other listed value differs from the log.
    let mismatches = found
        .iter()
        .enumerate()
        .filter_map(|(e, k)| {
            let k = (*k)?;
            let entry = entries[e];
            (entry.0.is_some() && entry.1.is_some() && entry != keys[k]).then(|| {
                let log = &sample.runs[k];
                let name = log.file.rsplit('/').next().unwrap_or(&log.file);
                format!(
                    "listed {} / {:.3} s, but {name} logs {} / {:.3} s",
                    fmt_loss(block.losses.as_ref().map(|l| l[e])),
                    block.times_ms.as_ref().map_or(f64::NAN, |t| t[e] / 1000.0),
                    fmt_loss(log.log.final_val_loss),
                    log.log.train_time_ms.unwrap_or(f64::NAN) / 1000.0,
                )
            })
        })
        .collect();
    (found.into_iter().flatten().collect(), listed, mismatches)
}

fn fmt_loss(v: Option<f64>) -> String {
    v.map_or("?".into(), |v| format!("{v:.4}"))
}

/// Which sample a claim block talks about. A block listing per-run values goes to
/// the sample holding most of them (at least two and half the list); one without
/// lists goes to the only sample of its folder (statistics.md) or of the record.
fn match_block(block: &ClaimBlock, samples: &[Sample]) -> Result<BlockMatch, String> {
    if block.losses.is_some() || block.times_ms.is_some() {
        let best = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.listed_in.is_none())
            .map(|(i, s)| (i, pair_runs(block, s)))
            .max_by_key(|(i, (runs, _, _))| (runs.len(), std::cmp::Reverse(*i)));
        let listed = block
            .losses
            .as_ref()
            .map_or(0, Vec::len)
            .max(block.times_ms.as_ref().map_or(0, Vec::len));
        return match best {
            Some((i, (runs, listed, mismatches)))
                if runs.len() >= 2 && 2 * runs.len() >= listed =>
            {
                Ok(BlockMatch {
                    sample: i,
                    all_found: runs.len() == listed,
                    runs,
                    listed,
                    mismatches,
                })
            }
            _ => Err(format!(
                "none of the record's logs matches the {listed} listed runs"
            )),
        };
    }
    let folder = block
        .source
        .rsplit_once('/')
        .map(|(dir, _)| dir.split_once('/').map_or("", |(_, f)| f))
        .unwrap_or("");
    let folders: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].listed_in.is_none())
        .collect();
    let here: Vec<usize> = folders
        .iter()
        .copied()
        .filter(|&i| samples[i].folder == folder)
        .collect();
    let only = if block.statistics_md && here.len() == 1 {
        Some(here[0])
    } else if folders.len() == 1 {
        Some(folders[0])
    } else {
        None
    };
    match only {
        Some(i) => Ok(BlockMatch {
            sample: i,
            runs: (0..samples[i].n()).collect(),
            listed: 0,
            all_found: true,
            mismatches: Vec::new(),
        }),
        None => Err(format!(
            "lists no per-run values and the record has {} samples, so its figures cannot \
             be tied to one",
            folders.len()
        )),
    }
}

struct ClaimContext<'a> {
    samples: &'a [Sample],
    candidate: Option<usize>,
    baseline: Option<usize>,
    time_comparison: Option<&'a Comparison>,
    options: &'a Options,
}

/// Checks every figure of one block against sample `t` (the listed runs, when they
/// single out part of a folder).
fn check_block(
    block: &ClaimBlock,
    m: &BlockMatch,
    t: usize,
    ctx: &ClaimContext,
) -> Vec<ClaimCheck> {
    let sample = &ctx.samples[t];
    let folder_sample = &ctx.samples[m.sample];
    let mut checks = Vec::new();
    let note_lists = if m.listed > 0 {
        let missing = m.listed - m.runs.len();
        let unlisted = folder_sample.n() - m.runs.len();
        let mut parts = Vec::new();
        if missing > 0 {
            parts.push(format!(
                "{missing} of the {} listed runs have no log in {}",
                m.listed, folder_sample.label
            ));
        }
        if unlisted > 0 && missing == 0 {
            parts.push(format!(
                "the {} listed runs are {} of the {} logs in {}",
                m.listed,
                m.runs.len(),
                folder_sample.n(),
                folder_sample.label
            ));
        } else if unlisted > 0 {
            parts.push(format!(
                "{unlisted} of its {} logs are not listed",
                folder_sample.n()
            ));
        }
        parts.extend(m.mismatches.iter().cloned());
        parts.join("; ")
    } else {
        String::new()
    };

    // The number of runs: stated outright, or implied by a list.
    let mut runs_claims: Vec<(String, f64, usize)> = block
        .stated
        .iter()
        .filter(|s| s.quantity == Quantity::Runs)
        .map(|s| (s.text.clone(), s.value, s.line))
        .collect();
    if m.listed > 0 && runs_claims.is_empty() {
        runs_claims.push((format!("{} listed", m.listed), m.listed as f64, block.line));
    }
    for (text, value, line) in runs_claims {
        // With a list, every listed run must have a log; without, the sample's size
        // must match.
        let ours = if m.listed > 0 {
            m.runs.len() - m.mismatches.len()
        } else {
            sample.n()
        } as f64;
        checks.push(ClaimCheck {
            source: block.source.clone(),
            line,
            sample: sample.label.clone(),
            quantity: Quantity::Runs,
            stated: text,
            stated_value: value,
            scale: 1.0,
            ours: Some(ours),
            from_listed: (m.listed > 0).then_some(m.listed as f64),
            tolerance: 0.0,
            agrees: Some(ours == value),
            note: note_lists.clone(),
        });
    }

    let listed_l = block.losses.as_deref().unwrap_or(&[]);
    let listed_t = block.times_ms.as_deref().unwrap_or(&[]);
    let (our_l, our_t) = (sample.losses(), sample.times());
    let target = ctx.options.target_loss;
    for s in block.stated.iter().filter(|s| s.quantity != Quantity::Runs) {
        let (ours, from_listed, tolerance, note) = match s.quantity {
            Quantity::TimeWelchP => {
                let cmp = (Some(t) == ctx.candidate)
                    .then_some(ctx.time_comparison)
                    .flatten();
                let tol = tolerance_for(s, None);
                let (o, n) = welch_claim(
                    s.value,
                    tol,
                    cmp.map(|c| (c.welch_less.p, c.welch_two_sided.p)),
                );
                (o, None, tol, n)
            }
            Quantity::LossWelchP => {
                let pair = match (Some(t) == ctx.candidate, ctx.baseline) {
                    (true, Some(b)) => {
                        let b = ctx.samples[b].losses();
                        welch_t(&our_l, &b, Alternative::Less)
                            .ok()
                            .zip(welch_t(&our_l, &b, Alternative::TwoSided).ok())
                    }
                    _ => None,
                };
                let tol = tolerance_for(s, None);
                let (o, n) = welch_claim(s.value, tol, pair.map(|(l, t)| (l.p, t.p)));
                (o, None, tol, n)
            }
            q => {
                let ours = stat_of(q, &our_l, &our_t, target);
                let from_listed = stat_of(q, listed_l, listed_t, target);
                let scale = if is_time(q) {
                    mean(&our_t)
                } else {
                    mean(&our_l)
                };
                let tol = tolerance_for(s, scale);
                // Only when nothing else explains the figure: an sd that the author's
                // own list (ddof 1) reproduces differs from ours for another reason.
                let unexplained = ours.is_some_and(|o| !agrees_with(s, o, tol))
                    && from_listed.is_none_or(|f| !agrees_with(s, f, tol));
                match population_sd(q, &our_l, &our_t)
                    .filter(|&pop| unexplained && agrees_with(s, pop, tol))
                {
                    Some(pop) => (Some(pop), from_listed, tol, POPULATION_SD_NOTE.into()),
                    None => (ours, from_listed, tol, String::new()),
                }
            }
        };
        let agrees = ours.map(|o| agrees_with(s, o, tolerance));
        let note = match (ours, agrees) {
            (None, _) if note.is_empty() => "no value from the logs to compare".to_string(),
            (_, Some(false)) if !note_lists.is_empty() => [note, note_lists.clone()]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            _ => note,
        };
        checks.push(ClaimCheck {
            source: block.source.clone(),
            line: s.line,
            sample: sample.label.clone(),
            quantity: s.quantity,
            stated: s.text.clone(),
            stated_value: s.value,
            scale: s.scale,
            ours,
            from_listed,
            tolerance,
            agrees,
            note,
        });
    }
    checks
}

/// Checks a block whose listed runs have no logs against its own lists: the
/// author's arithmetic, at least, can be redone.
fn check_listed_only(block: &ClaimBlock, record: &str, target: f64) -> Vec<ClaimCheck> {
    let listed_l = block.losses.as_deref().unwrap_or(&[]);
    let listed_t = block.times_ms.as_deref().unwrap_or(&[]);
    let label = format!(
        "values listed at {}:{} (no logs)",
        strip_record(&block.source, record),
        block.line
    );
    block
        .stated
        .iter()
        .filter_map(|s| {
            let q = s.quantity;
            if matches!(
                q,
                Quantity::Runs | Quantity::TimeWelchP | Quantity::LossWelchP
            ) {
                return None;
            }
            let sample_value = stat_of(q, listed_l, listed_t, target)?;
            let scale = if is_time(q) {
                mean(listed_t)
            } else {
                mean(listed_l)
            };
            let tolerance = tolerance_for(s, scale);
            let population = population_sd(q, listed_l, listed_t).filter(|&pop| {
                !agrees_with(s, sample_value, tolerance) && agrees_with(s, pop, tolerance)
            });
            let value = population.unwrap_or(sample_value);
            let agrees = agrees_with(s, value, tolerance);
            Some(ClaimCheck {
                source: block.source.clone(),
                line: s.line,
                sample: label.clone(),
                quantity: q,
                stated: s.text.clone(),
                stated_value: s.value,
                scale: s.scale,
                ours: Some(value),
                from_listed: Some(value),
                tolerance,
                agrees: Some(agrees),
                note: if population.is_some() {
                    format!("follows from the listed values; {POPULATION_SD_NOTE}")
                } else if agrees {
                    "follows from the listed values".into()
                } else {
                    "does not follow from the listed values".into()
                },
            })
        })
        .collect()
}

/// A stated figure agrees when ours is within its tolerance, or, for a stated
/// bound, below it.
fn agrees_with(s: &crate::claims::Stated, ours: f64, tolerance: f64) -> bool {
    if s.upper_bound {
        ours < s.value
    } else {
        (ours - s.value).abs() <= tolerance
    }
}

fn is_time(q: Quantity) -> bool {
    matches!(
        q,
        Quantity::TimeMean | Quantity::TimeSd | Quantity::TimeMedian
    )
}

fn mean(values: &[f64]) -> Option<f64> {
    Summary::of(values).ok().map(|s| s.mean)
}

/// Said of a stated sd that is the population sd (`np.std`'s default, ddof 0) of the
/// runs rather than the sample sd (ddof 1) we compute: a convention, not an error.
const POPULATION_SD_NOTE: &str = "the population sd (ddof 0) of these runs, not the sample sd";

/// The population sd (ddof 0) of the runs, for an sd figure: some authors print
/// `np.std`, whose default divides by n.
fn population_sd(q: Quantity, losses: &[f64], times: &[f64]) -> Option<f64> {
    let values = match q {
        Quantity::LossSd => losses,
        Quantity::TimeSd => times,
        _ => return None,
    };
    let n = values.len() as f64;
    let sd = Summary::of(values).ok()?.sd?;
    Some(sd * ((n - 1.0) / n).sqrt())
}

/// A statistic of per-run losses and times (ms), as the claims state them.
fn stat_of(q: Quantity, losses: &[f64], times: &[f64], target: f64) -> Option<f64> {
    match q {
        Quantity::LossMean => Summary::of(losses).ok().map(|x| x.mean),
        Quantity::LossSd => Summary::of(losses).ok().and_then(|x| x.sd),
        Quantity::LossP => one_sample_t(losses, target, Alternative::Less)
            .ok()
            .map(|t| t.p),
        Quantity::TimeMean => Summary::of(times).ok().map(|x| x.mean),
        Quantity::TimeSd => Summary::of(times).ok().and_then(|x| x.sd),
        Quantity::TimeMedian => Summary::of(times).ok().map(|x| x.median),
        Quantity::Runs | Quantity::TimeWelchP | Quantity::LossWelchP => None,
    }
}

/// How far a recomputed figure may be from a stated one: half a unit in the last
/// written digit ("0.0083" allows 0.00005), plus 1e-9 relative, plus, for means,
/// sds and medians, four float32 ulps of the sample mean — the speedrun prints them
/// with `torch.std_mean` on float32 tensors, whose sd of values near 140 s is only
/// good to about 1e-5 s.
fn tolerance_for(s: &crate::claims::Stated, sample_mean: Option<f64>) -> f64 {
    let base = s.half_unit + 1e-9 * s.value.abs();
    match s.quantity {
        Quantity::LossP | Quantity::TimeWelchP | Quantity::LossWelchP | Quantity::Runs => base,
        _ => base + 4.0 * f64::from(f32::EPSILON) * sample_mean.unwrap_or(0.0).abs(),
    }
}

/// A Welch p-value claim states no side: it agrees if it is our one-sided or our
/// two-sided value; `ours` is whichever is closer.
fn welch_claim(stated: f64, tolerance: f64, ours: Option<(f64, f64)>) -> (Option<f64>, String) {
    let Some((one, two)) = ours else {
        return (
            None,
            "no same-hardware baseline sample to recompute it from".into(),
        );
    };
    let (value, side) = if (one - stated).abs() <= (two - stated).abs() {
        (one, "one-sided")
    } else {
        (two, "two-sided")
    };
    let note = if (value - stated).abs() <= tolerance {
        format!("matches our {side} Welch p")
    } else {
        format!("ours: one-sided {one:.3e}, two-sided {two:.3e}")
    };
    (Some(value), note)
}

fn decide(r: &RecordAudit, options: &Options) -> (Verdict, String) {
    let Some(c) = r.candidate_sample() else {
        let why = if r.log_files == 0 {
            "no log files in the folder".to_string()
        } else {
            let mut why = format!(
                "none of the {} log files holds a finished run of its own ({})",
                r.log_files,
                summarize_problems(&r.problems)
            );
            if let Some(d) = &r.duplicates_note {
                why.push_str(&format!("; {d}"));
            }
            why
        };
        return (Verdict::LogsMissing, why);
    };
    let bad: Vec<&ClaimCheck> = r
        .claims
        .iter()
        .filter(|c| c.agrees == Some(false))
        .collect();
    let checked = r.claims.iter().filter(|c| c.agrees.is_some()).count();
    if !bad.is_empty() {
        let first: Vec<String> = bad
            .iter()
            .take(3)
            .map(|b| {
                format!(
                    "{} stated {} ({}:{}), logs give {}",
                    b.quantity.as_str(),
                    b.stated,
                    b.source,
                    b.line,
                    b.ours
                        .map_or("nothing".into(), |o| format_like(o / b.scale, &b.stated)),
                )
            })
            .collect();
        return (
            Verdict::ClaimsDisagree,
            format!(
                "{} of {} checked figures disagree: {}",
                bad.len(),
                checked,
                first.join("; ")
            ),
        );
    }
    if let Some(why) = &r.claims_without_logs {
        let logs = match &c.loss_test {
            Some(t) => format!(
                "; the {} logs of {} give loss p = {}",
                c.n(),
                c.label,
                fmt_p(t.p)
            ),
            None => format!("; {} has {} finished run(s)", c.label, c.n()),
        };
        return (Verdict::LogsMissing, format!("{why}{logs}"));
    }
    if c.n() == 1 {
        return (
            Verdict::SingleRun,
            format!("one finished run in {}", c.label),
        );
    }
    let Some(t) = &c.loss_test else {
        return (
            Verdict::Insufficient,
            format!(
                "loss test not possible: {}",
                c.loss_test_error.as_deref().unwrap_or("unknown")
            ),
        );
    };
    let th = options.threshold;
    let loss_ok = t.p < th;
    let mut reason = format!(
        "loss p = {} {} {th} (n = {})",
        fmt_p(t.p),
        if loss_ok { "<" } else { "≥" },
        c.n()
    );
    if r.objective == Objective::Steps
        && let Some(steps) = c.total_steps
    {
        reason = format!("{steps} steps to target {}: {reason}", r.target_loss);
    }
    let mut time_ok = true;
    if let Some(b) = r.baseline_sample() {
        match &r.time_comparison {
            Some(cmp) => {
                time_ok = cmp.welch_less.p < th;
                reason.push_str(&format!(
                    "; time vs {}: p = {} {} {th}",
                    b.label,
                    fmt_p(cmp.welch_less.p),
                    if time_ok { "<" } else { "≥" }
                ));
            }
            None => {
                time_ok = false;
                reason.push_str(&format!(
                    "; time vs {}: no test ({})",
                    b.label,
                    r.time_comparison_error.as_deref().unwrap_or("unknown")
                ));
            }
        }
    }
    if loss_ok && time_ok {
        (Verdict::EvidenceSufficient, reason)
    } else {
        (Verdict::Insufficient, reason)
    }
}

fn summarize_problems(problems: &[LogProblem]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for p in problems {
        *kinds.entry(p.kind.as_str()).or_default() += 1;
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A p-value as people write them: 4 significant digits, scientific below 1e-4.
pub fn fmt_p(p: f64) -> String {
    if p == 0.0 {
        "0".into()
    } else if p < 1e-4 {
        format!("{p:.3e}")
    } else {
        format!("{p:.4}")
    }
}

/// Our value printed the way the stated one is written, with two more digits:
/// "0.0045" → "0.004615", "4.9e-12" → "4.912e-12", "13" → "13".
pub fn format_like(ours: f64, stated: &str) -> String {
    // "8 listed", "79.684923 s": the number is the first word.
    let stated = stated.split_whitespace().next().unwrap_or("");
    if let Some(at) = stated.find(['e', 'E']) {
        let decimals = stated[..at].split_once('.').map_or(0, |(_, f)| f.len());
        return format!("{ours:.*e}", decimals + 2);
    }
    match stated.split_once('.') {
        Some((_, frac)) => format!("{ours:.*}", frac.len() + 2),
        None if stated.bytes().all(|b| b.is_ascii_digit()) && ours.fract() == 0.0 => {
            format!("{ours:.0}")
        }
        None => format!("{ours:.2}"),
    }
}
