//! The figures of summary.json computed from samples: run counts, descriptive time
//! statistics, the time comparison and the loss test.

use serde::{Deserialize, Serialize};
use speedcert_stats::{BootstrapConfig, Comparison, StatsError, TTest};

use crate::plan::TimeBaseline;
use crate::run::RunRecord;

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

pub(crate) fn time_stats(
    cand: &[f64],
    base: &[f64],
    kind: TimeBaseline,
    boot: &BootstrapConfig,
) -> Option<TimeStats> {
    let candidate = TimeSample::of(cand).ok()?;
    let mut t = TimeStats {
        candidate,
        baseline: TimeSample::of(base).ok(),
        baseline_sample_ms: if kind == TimeBaseline::StoredRecord {
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
    if kind == TimeBaseline::None {
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

pub(crate) fn loss_stats(cand_ok: &[&RunRecord], losses: &[f64], target: f64) -> Option<LossStats> {
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
