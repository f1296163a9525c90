//! summary.json: statistics, anti-gaming checks and the verdict, computed from the
//! bundle's own files only (track.toml, plan.json, env.json and every run.json), so
//! that `speedcert verify` can recompute it and refuse a bundle whose summary lies.

use serde::{Deserialize, Serialize};
use speedcert_stats::BootstrapConfig;
use speedcert_stats::format::fmt_p;
use speedcert_track::{DataSpec, Track};

use crate::check::CheckResult;
pub use crate::checks::NotRun;
use crate::command::Clock;
pub use crate::figures::{LossStats, RunCounts, TimeSample, TimeStats};
use crate::figures::{Pairs, loss_stats, time_stats};
pub use crate::inputs::BundleInputs;
use crate::plan::TimeBaseline;
use crate::run::{Role, RunRecord, RunStatus};
use crate::verdict::Verdict;
use crate::version::SummaryVersion;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub track: String,
    pub track_sha256: String,
    pub submission: String,
    pub baseline_submission: Option<String>,
    pub comparison: TimeBaseline,
    pub created_at: String,
    pub threshold: f64,
    pub target_val_loss: f64,
    pub loss_floor: Option<f64>,
    pub bootstrap_seed: u64,
    pub bootstrap_resamples: usize,
    pub runs: RunCounts,
    pub time: Option<TimeStats>,
    pub loss: Option<LossStats>,
    pub checks: Vec<CheckResult>,
    pub official: bool,
    pub verdict: Verdict,
    pub verdict_detail: String,
    /// What a reviewer should read in each submission built from a folder (the source
    /// is in the bundle): `unsafe`, FFI, build scripts, proc-macros, and uses of
    /// `std::fs`, `std::net`, `std::process`, `std::env`. Absent when every submission
    /// was built in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<crate::source::SourceCapabilities>,
    /// Whose clock and loss the figures are (summary v4 on; absent before, when every
    /// certification was the harness's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
    /// The checks this certification could not make, and why (v4 on, command
    /// certifications only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<NotRun>,
}

/// Computes the summary this speedcert writes ([`SummaryVersion::CURRENT`]).
pub fn compute(inputs: &BundleInputs) -> Summary {
    compute_version(inputs, SummaryVersion::CURRENT)
}

/// Computes the summary by the rules of `version`: only the checks that version knew.
/// Pure: same files, same summary (the bootstrap is seeded).
pub fn compute_version(inputs: &BundleInputs, version: SummaryVersion) -> Summary {
    let BundleInputs {
        track,
        plan,
        env,
        runs,
        steps,
        logs,
        capabilities,
    } = inputs;
    let spec = &track.spec;
    let threshold = spec.certification.p_threshold;
    let target = spec.target.val_loss;
    let of_role = |role: Role| runs.iter().filter(move |r| r.role == role);
    let ok = |r: &&RunRecord| r.status == RunStatus::Ok && r.final_val_loss.is_some();

    let mut failures = Vec::new();
    for slot in &plan.slots {
        match runs.iter().find(|r| r.run_index == slot.index) {
            None => failures.push(format!(
                "run-{:03} ({}): no run.json (never finished)",
                slot.index,
                slot.role.as_str()
            )),
            Some(r) if r.status == RunStatus::Failed => failures.push(format!(
                "run-{:03} ({}): {}",
                r.run_index,
                r.role.as_str(),
                r.failure.as_deref().unwrap_or("failed")
            )),
            _ => {}
        }
    }
    let planned = |role: Role| plan.slots.iter().filter(|s| s.role == role).count();
    let cand_ok: Vec<&RunRecord> = of_role(Role::Candidate).filter(ok).collect();
    let base_ok: Vec<&RunRecord> = of_role(Role::Baseline).filter(ok).collect();
    let counts = RunCounts {
        candidate: planned(Role::Candidate),
        candidate_failed: planned(Role::Candidate) - cand_ok.len(),
        baseline: planned(Role::Baseline),
        baseline_failed: planned(Role::Baseline) - base_ok.len(),
        failures,
    };

    let boot = BootstrapConfig::default();
    let cand_times: Vec<f64> = cand_ok.iter().map(|r| r.train_time_ms).collect();
    let base_times: Vec<f64> = match plan.comparison {
        TimeBaseline::SameMachine => base_ok.iter().map(|r| r.train_time_ms).collect(),
        TimeBaseline::StoredRecord => plan
            .stored_baseline
            .as_ref()
            .map(|s| s.times_ms.clone())
            .unwrap_or_default(),
        TimeBaseline::None => Vec::new(),
    };
    let pairs = (version >= SummaryVersion::V3).then(|| planned_pairs(plan, runs));
    let time = time_stats(
        &cand_times,
        &base_times,
        plan.comparison,
        &boot,
        pairs.as_ref(),
        threshold,
    );
    let losses: Vec<f64> = cand_ok.iter().filter_map(|r| r.final_val_loss).collect();
    let loss = loss_stats(&cand_ok, &losses, target);

    let facts = crate::checks::Facts {
        track,
        plan,
        env,
        runs,
        steps,
        logs,
        cand_ok: &cand_ok,
        loss: loss.as_ref(),
        threshold,
    };
    let mut checks = crate::checks::all(&facts);
    checks.retain(|c| c.name.since() <= version);
    let official = checks.iter().filter(|c| c.name.is_pin()).all(|c| c.passed);
    checks.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));

    let comparison = (version >= SummaryVersion::V3).then(|| ComparisonKind::of(plan, env, track));
    let (verdict, mut verdict_detail) = with_comparison(
        decide(&counts, &checks, &time, &loss, official, threshold),
        comparison.as_ref(),
    );
    let clock = (version >= SummaryVersion::V4).then(|| plan.clock());
    if clock == Some(Clock::SelfReported) {
        verdict_detail = format!("{verdict_detail} [{}]", Clock::SelfReported.label());
    }
    Summary {
        schema: version.schema().to_owned(),
        track: spec.name.clone(),
        track_sha256: track.sha256(),
        submission: plan.submission.clone(),
        baseline_submission: plan.baseline_submission.clone(),
        comparison: plan.comparison,
        created_at: plan.created_at.clone(),
        threshold,
        target_val_loss: target,
        loss_floor: spec.loss_floor(),
        bootstrap_seed: boot.seed,
        bootstrap_resamples: boot.resamples,
        runs: counts,
        time,
        loss,
        checks,
        official,
        verdict,
        verdict_detail,
        capabilities: capabilities.clone(),
        clock,
        not_run: if version >= SummaryVersion::V4 {
            crate::checks::not_run(plan)
        } else {
            Vec::new()
        },
    }
}

/// The times of the plan's complete pairs (both runs finished) and the count of broken
/// ones, in pair order.
fn planned_pairs(plan: &crate::plan::Plan, runs: &[RunRecord]) -> Pairs {
    let ok_time = |index: usize| {
        runs.iter()
            .find(|r| {
                r.run_index == index && r.status == RunStatus::Ok && r.final_val_loss.is_some()
            })
            .map(|r| r.train_time_ms)
    };
    let mut pairs = Pairs::default();
    for (c, b) in plan.pairs() {
        match (ok_time(c), ok_time(b)) {
            (Some(tc), Some(tb)) => pairs.times.push((tc, tb, c < b)),
            _ => pairs.broken += 1,
        }
    }
    pairs
}

/// What the candidate's times were compared with, as the verdict names it (summary v3 on).
enum ComparisonKind {
    /// Reruns of the baseline on this machine, paired.
    Paired,
    /// A stored record's times from this machine.
    StoredSameMachine,
    /// A stored record's times from another machine (or one not fingerprinted), and
    /// whether the track lets such a comparison make a record.
    StoredOtherMachine {
        allowed: bool,
        why: String,
    },
    None,
}

impl ComparisonKind {
    fn of(plan: &crate::plan::Plan, env: &crate::env::Environment, track: &Track) -> Self {
        match plan.comparison {
            TimeBaseline::SameMachine => Self::Paired,
            TimeBaseline::None => Self::None,
            TimeBaseline::StoredRecord => {
                let here = env.machine_fingerprint();
                let allowed = track.spec.certification.allow_cross_machine_baseline;
                match plan
                    .stored_baseline
                    .as_ref()
                    .and_then(|s| s.machine_fingerprint.as_deref())
                {
                    Some(there) if there == here => Self::StoredSameMachine,
                    Some(there) => Self::StoredOtherMachine {
                        allowed,
                        why: format!(
                            "the record's machine fingerprint {} is not this machine's {}",
                            crate::io::short_digest(there),
                            crate::io::short_digest(&here)
                        ),
                    },
                    None => Self::StoredOtherMachine {
                        allowed,
                        why: "the plan does not record the record's machine fingerprint".into(),
                    },
                }
            }
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Paired => "paired comparison with baseline reruns on this machine",
            Self::StoredSameMachine => {
                "unpaired comparison with a record's stored times from this machine"
            }
            Self::StoredOtherMachine { .. } => {
                "unpaired comparison with a record's stored times from another machine"
            }
            Self::None => "no time comparison",
        }
    }
}

/// The verdict of summary v3 on: the comparison kind named first, and stored times from
/// another machine refused as a record unless the track allows them.
fn with_comparison(
    (verdict, detail): (Verdict, String),
    comparison: Option<&ComparisonKind>,
) -> (Verdict, String) {
    let Some(kind) = comparison else {
        return (verdict, detail);
    };
    if verdict == Verdict::NewRecord
        && let ComparisonKind::StoredOtherMachine {
            allowed: false,
            why,
        } = kind
    {
        return (
            Verdict::NotSignificant,
            format!(
                "{}: {why}; the track does not allow stored times from another machine to make a record (certification.allow_cross_machine_baseline), so rerun the record's submission here (--baseline-runs N)",
                kind.label()
            ),
        );
    }
    (verdict, format!("{}: {detail}", kind.label()))
}

fn decide(
    counts: &RunCounts,
    checks: &[CheckResult],
    time: &Option<TimeStats>,
    loss: &Option<LossStats>,
    official: bool,
    threshold: f64,
) -> (Verdict, String) {
    let valid = counts.candidate - counts.candidate_failed;
    if valid < 2 {
        return (
            Verdict::NoValidRuns,
            format!(
                "{valid} of {} candidate runs finished; at least 2 are needed",
                counts.candidate
            ),
        );
    }
    let failed: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| !c.passed && !c.name.is_pin())
        .collect();
    if !failed.is_empty() {
        let names: Vec<String> = failed
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return (Verdict::CheckFailed, names.join("; "));
    }
    let Some(loss) = loss else {
        return (Verdict::NoValidRuns, "no final validation loss".into());
    };
    match loss.p_value {
        Some(p) if p < threshold => {}
        Some(p) => {
            return (
                Verdict::LossTargetMissed,
                format!(
                    "mean final loss {:.4} is not significantly below the target (p = {} >= {threshold})",
                    loss.mean,
                    fmt_p(p)
                ),
            );
        }
        None => {
            return (
                Verdict::LossTargetMissed,
                format!(
                    "loss test impossible: {}",
                    loss.test_error.as_deref().unwrap_or("unknown")
                ),
            );
        }
    }
    let Some(time) = time else {
        return (Verdict::NoValidRuns, "no run times".into());
    };
    match time.p_value {
        Some(p) if p < threshold => {}
        Some(p) => {
            return (
                Verdict::NotSignificant,
                format!(
                    "time difference not significant (p = {} >= {threshold}){}",
                    fmt_p(p),
                    time.mde
                        .as_ref()
                        .map(|m| format!(
                            "; with this noise the smallest speed-up detectable with power {} is {:.1} ms{}",
                            m.power,
                            m.ms,
                            m.pct.map(|p| format!(" ({p:.2}%)")).unwrap_or_default()
                        ))
                        .unwrap_or_default()
                ),
            );
        }
        None => {
            return (
                Verdict::NotSignificant,
                format!(
                    "no time comparison: {}",
                    time.comparison_error.as_deref().unwrap_or("unknown")
                ),
            );
        }
    }
    if !official {
        let pins: Vec<String> = checks
            .iter()
            .filter(|c| c.name.is_pin() && !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return (Verdict::UnofficialEnvironment, pins.join("; "));
    }
    (
        Verdict::NewRecord,
        format!(
            "faster (p = {} < {threshold}) and below the loss target (p = {} < {threshold})",
            time.p_value.map(fmt_p).unwrap_or_default(),
            loss.p_value.map(fmt_p).unwrap_or_default()
        ),
    )
}

/// True if `data` is synthetic (isolation then rests on distinct stream seeds).
pub fn is_synthetic(track: &Track) -> bool {
    matches!(track.spec.data, DataSpec::Synthetic(_))
}

impl Summary {
    /// Whether this certification can stand as a track's record: a `new record`, or, for
    /// the bundle that opens a track's chain (no earlier record to beat), every check but
    /// the pins passed, the environment was official and the loss test passed.
    pub fn qualifies_as_record(&self) -> Result<(), String> {
        if self.verdict == Verdict::NewRecord {
            return Ok(());
        }
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        if !failed.is_empty() {
            return Err(format!("checks failed: {}", failed.join(", ")));
        }
        if !self.official {
            return Err("unofficial environment".into());
        }
        match self.loss.as_ref().and_then(|l| l.p_value) {
            Some(p) if p < self.threshold => Ok(()),
            _ => Err(format!(
                "verdict `{}`: the loss target was not met",
                self.verdict
            )),
        }
    }

    /// The schema version this summary was written with; `None` if this build does not
    /// know it.
    pub fn version(&self) -> Option<SummaryVersion> {
        SummaryVersion::parse(&self.schema)
    }
}
