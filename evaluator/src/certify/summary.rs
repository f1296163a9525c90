//! summary.json: statistics, anti-gaming checks and the verdict, computed from the
//! bundle's own files only (track.toml, plan.json, env.json and every run.json), so
//! that `speedcert verify` can recompute it and refuse a bundle whose summary lies.

use std::path::Path;

use serde::{Deserialize, Serialize};
use speedcert_stats::{BootstrapConfig, Comparison, StatsError, TTest};

use super::plan::{Comparison as ComparisonKind, Plan};
use super::report::fmt_p;
use crate::bundle::{self, BundleError};
use crate::checks::CheckResult;
use crate::envinfo::Environment;
use crate::harness::{Role, RunRecord, RunStatus};
use crate::track::{DataSpec, Track};

pub const SUMMARY_SCHEMA: &str = "speedcert/summary/v1";

/// The fixed vocabulary of verdicts, defined once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "new record")]
    NewRecord,
    #[serde(rename = "not significant")]
    NotSignificant,
    #[serde(rename = "loss target missed")]
    LossTargetMissed,
    #[serde(rename = "check failed")]
    CheckFailed,
    #[serde(rename = "unofficial environment")]
    UnofficialEnvironment,
    #[serde(rename = "no valid runs")]
    NoValidRuns,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::NewRecord => "new record",
            Verdict::NotSignificant => "not significant",
            Verdict::LossTargetMissed => "loss target missed",
            Verdict::CheckFailed => "check failed",
            Verdict::UnofficialEnvironment => "unofficial environment",
            Verdict::NoValidRuns => "no valid runs",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCounts {
    pub candidate: usize,
    pub candidate_failed: usize,
    pub baseline: usize,
    pub baseline_failed: usize,
    /// `run-NNN (role): reason` for each failed run.
    pub failures: Vec<String>,
}

/// Descriptive figures of one sample of times, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSample {
    pub n: usize,
    pub mean_ms: f64,
    pub sd_ms: Option<f64>,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl TimeSample {
    fn of(values: &[f64]) -> Result<Self, StatsError> {
        let s = speedcert_stats::Summary::of(values)?;
        Ok(Self {
            n: s.n,
            mean_ms: s.mean,
            sd_ms: s.sd,
            median_ms: s.median,
            min_ms: s.min,
            max_ms: s.max,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeStats {
    pub candidate: TimeSample,
    pub baseline: Option<TimeSample>,
    /// The baseline sample itself (needed to recompute a stored-record comparison).
    pub baseline_sample_ms: Vec<f64>,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    /// One-sided Welch p-value, H1: candidate mean time < baseline mean time.
    pub p_value: Option<f64>,
    pub change_pct: Option<f64>,
    pub ci95_diff_ms: Option<[f64; 2]>,
    pub ci95_change_pct: Option<[f64; 2]>,
    /// Hedges' g (negative: candidate faster).
    pub effect_size: Option<f64>,
    pub mann_whitney_p: Option<f64>,
    /// Why the comparison could not be made, when it could not.
    pub comparison_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossStats {
    pub n: usize,
    pub mean: f64,
    pub sd: Option<f64>,
    pub t: Option<f64>,
    pub df: Option<f64>,
    /// One-sided one-sample p-value, H1: mean final validation loss < target.
    pub p_value: Option<f64>,
    pub heldout_mean: Option<f64>,
    /// Mean of (held-out − public) loss over runs: overfitting to the public slice shows here.
    pub heldout_gap: Option<f64>,
    pub test_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub track: String,
    pub track_sha256: String,
    pub submission: String,
    pub baseline_submission: Option<String>,
    pub comparison: ComparisonKind,
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
}

/// Everything a summary is computed from, read from a bundle folder.
pub struct BundleInputs {
    pub track: Track,
    pub plan: Plan,
    pub env: Environment,
    pub runs: Vec<RunRecord>,
}

impl BundleInputs {
    pub fn read(dir: &Path) -> Result<Self, BundleError> {
        let track_path = dir.join("track.toml");
        let track = Track::load(&track_path).map_err(|e| BundleError::Format {
            path: track_path.clone(),
            message: e.to_string(),
        })?;
        let plan: Plan = bundle::read_json(&dir.join("plan.json"))?;
        let env: Environment = bundle::read_json(&dir.join("env.json"))?;
        let mut runs = Vec::new();
        for slot in &plan.slots {
            let run_dir = bundle::run_dir(dir, slot.index);
            let path = run_dir.join("run.json");
            if path.is_file() {
                let record = bundle::read_json::<RunRecord>(&path)?;
                if let Some(message) = record.throughput_problem() {
                    return Err(BundleError::Format { path, message });
                }
                runs.push(record);
            }
        }
        Ok(Self {
            track,
            plan,
            env,
            runs,
        })
    }
}

/// Computes the summary. Pure: same files, same summary (the bootstrap is seeded).
pub fn compute(inputs: &BundleInputs) -> Summary {
    let BundleInputs {
        track,
        plan,
        env,
        runs,
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
        ComparisonKind::SameMachine => base_ok.iter().map(|r| r.train_time_ms).collect(),
        ComparisonKind::StoredRecord => plan
            .stored_baseline
            .as_ref()
            .map(|s| s.times_ms.clone())
            .unwrap_or_default(),
        ComparisonKind::None => Vec::new(),
    };
    let time = time_stats(&cand_times, &base_times, plan.comparison, &boot);
    let losses: Vec<f64> = cand_ok.iter().filter_map(|r| r.final_val_loss).collect();
    let loss = loss_stats(&cand_ok, &losses, target);

    let mut checks = super::checks::all(track, plan, env, runs, &cand_ok, loss.as_ref(), threshold);
    let official = checks
        .iter()
        .filter(|c| c.name.starts_with("pin."))
        .all(|c| c.passed);
    checks.sort_by(|a, b| a.name.cmp(&b.name));

    let (verdict, verdict_detail) = decide(&counts, &checks, &time, &loss, official, threshold);
    Summary {
        schema: SUMMARY_SCHEMA.to_owned(),
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
    }
}

fn time_stats(
    cand: &[f64],
    base: &[f64],
    kind: ComparisonKind,
    boot: &BootstrapConfig,
) -> Option<TimeStats> {
    let candidate = TimeSample::of(cand).ok()?;
    let mut t = TimeStats {
        candidate,
        baseline: TimeSample::of(base).ok(),
        baseline_sample_ms: if kind == ComparisonKind::StoredRecord {
            base.to_vec()
        } else {
            Vec::new()
        },
        welch_t: None,
        welch_df: None,
        p_value: None,
        change_pct: None,
        ci95_diff_ms: None,
        ci95_change_pct: None,
        effect_size: None,
        mann_whitney_p: None,
        comparison_error: None,
    };
    if kind == ComparisonKind::None {
        t.comparison_error = Some("no baseline to compare with".into());
        return Some(t);
    }
    match speedcert_stats::compare(cand, base, boot) {
        Ok(c) => fill_comparison(&mut t, &c),
        Err(e) => t.comparison_error = Some(e.to_string()),
    }
    Some(t)
}

fn fill_comparison(t: &mut TimeStats, c: &Comparison) {
    t.welch_t = Some(c.welch_less.t);
    t.welch_df = Some(c.welch_less.df);
    t.p_value = Some(c.welch_less.p);
    t.change_pct = c.percent_change;
    t.ci95_diff_ms = Some([c.bootstrap.difference.lower, c.bootstrap.difference.upper]);
    t.ci95_change_pct = c
        .bootstrap
        .percent_change
        .as_ref()
        .map(|ci| [ci.lower, ci.upper]);
    t.effect_size = Some(c.effect.hedges_g);
    t.mann_whitney_p = Some(c.mann_whitney_less.p);
}

fn loss_stats(cand_ok: &[&RunRecord], losses: &[f64], target: f64) -> Option<LossStats> {
    let s = speedcert_stats::Summary::of(losses).ok()?;
    let test: Result<TTest, StatsError> = speedcert_stats::mean_below(losses, target);
    let pairs: Vec<(f64, f64)> = cand_ok
        .iter()
        .filter_map(|r| Some((r.final_val_loss?, r.heldout_val_loss?)))
        .collect();
    let heldout_mean =
        (!pairs.is_empty()).then(|| pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64);
    let heldout_gap = (!pairs.is_empty())
        .then(|| pairs.iter().map(|(p, h)| h - p).sum::<f64>() / pairs.len() as f64);
    Some(LossStats {
        n: s.n,
        mean: s.mean,
        sd: s.sd,
        t: test.as_ref().ok().map(|t| t.t),
        df: test.as_ref().ok().map(|t| t.df),
        p_value: test.as_ref().ok().map(|t| t.p),
        heldout_mean,
        heldout_gap,
        test_error: test.err().map(|e| e.to_string()),
    })
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
        .filter(|c| !c.passed && !c.name.starts_with("pin."))
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
                    "time difference not significant (p = {} >= {threshold})",
                    fmt_p(p)
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
            .filter(|c| c.name.starts_with("pin.") && !c.passed)
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
