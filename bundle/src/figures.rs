//! The figures of summary.json computed from samples: run counts, descriptive time
//! statistics, the time comparison and the loss test.

use serde::{Deserialize, Serialize};
use speedcert_stats::{Alternative, BootstrapConfig, Comparison, StatsError, TTest};

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

/// Which test decides the time comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeTest {
    /// One-sided paired t on the within-pair differences of the plan's interleaved pairs
    /// (summary v3 on, same-machine baselines): the pair's shared machine state cancels.
    PairedT,
    /// One-sided Welch t: stored-time comparisons (nothing to pair with), and every
    /// comparison before summary v3.
    Welch,
}

/// The paired comparison of the plan's interleaved pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedStats {
    /// Planned pairs whose two runs both finished.
    pub pairs: usize,
    /// Planned pairs left out because one of their runs failed.
    pub broken_pairs: usize,
    /// How many of the pairs ran the candidate first (the plan draws the order per pair).
    pub candidate_first: usize,
    /// mean(candidate − baseline) over pairs; negative: candidate faster.
    pub mean_diff_ms: f64,
    pub sd_diff_ms: f64,
    pub t: f64,
    pub df: f64,
    /// One-sided, H1: candidate faster.
    pub p_value: f64,
    pub ci95_diff_ms: [f64; 2],
    /// Correlation of the two arms across pairs: how much noise the pairing removes.
    pub correlation: Option<f64>,
    /// Exact sign-flip randomization p (robustness figure) and its floor 1/2^pairs.
    pub sign_flip_p: Option<f64>,
    pub sign_flip_min_p: Option<f64>,
}

/// Minimum detectable effect of the deciding test at the track's threshold: the smallest
/// true speed-up these runs' noise lets it certify with the stated power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mde {
    pub power: f64,
    pub alpha: f64,
    pub ms: f64,
    /// As a percentage of the baseline mean time.
    pub pct: Option<f64>,
}

/// The power at which [`Mde`] is stated.
pub const MDE_POWER: f64 = 0.8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeStats {
    pub candidate: TimeSample,
    pub baseline: Option<TimeSample>,
    /// The baseline sample itself (needed to recompute a stored-record comparison).
    pub baseline_sample_ms: Vec<f64>,
    /// The deciding test; absent before summary v3 (always Welch then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TimeTest>,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    /// The deciding one-sided p-value, H1: candidate faster. The paired t's when `test`
    /// is `paired-t`, else Welch's.
    pub p_value: Option<f64>,
    /// Welch's one-sided p, reported beside a paired decision (summary v3 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welch_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<PairedStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde: Option<Mde>,
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

/// The planned pairs' times, for the paired test: `(candidate_ms, baseline_ms,
/// candidate_ran_first)` of each pair whose runs both finished, and the count of pairs
/// left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pairs {
    pub times: Vec<(f64, f64, bool)>,
    pub broken: usize,
}

pub(crate) fn time_stats(
    cand: &[f64],
    base: &[f64],
    kind: TimeBaseline,
    boot: &BootstrapConfig,
    paired: Option<&Pairs>,
    alpha: f64,
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
        test: None,
        welch_t: None,
        welch_df: None,
        p_value: None,
        welch_p: None,
        paired: None,
        mde: None,
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
    // Summary v3 on: the test is named, and a same-machine comparison is paired.
    if let Some(pairs) = paired {
        t.welch_p = t.p_value;
        let base_mean = t.baseline.as_ref().map(|b| b.mean_ms);
        if kind == TimeBaseline::SameMachine {
            t.test = Some(TimeTest::PairedT);
            t.p_value = None;
            t.mde = None;
            match paired_stats(pairs) {
                Ok(p) => {
                    t.p_value = Some(p.p_value);
                    t.mde = speedcert_stats::paired_mde(p.sd_diff_ms, p.pairs, alpha, MDE_POWER)
                        .ok()
                        .map(|ms| mde(ms, alpha, base_mean));
                    t.comparison_error = None;
                    t.paired = Some(p);
                }
                Err(e) => {
                    t.comparison_error = Some(format!(
                        "paired test impossible ({} complete pairs, {} broken): {e}",
                        pairs.times.len(),
                        pairs.broken
                    ))
                }
            }
        } else {
            t.test = Some(TimeTest::Welch);
            if let (Some(c), Some(b)) = (t.candidate.sd_ms, t.baseline.as_ref()) {
                t.mde = b
                    .sd_ms
                    .and_then(|sb| {
                        speedcert_stats::welch_mde(c, t.candidate.n, sb, b.n, alpha, MDE_POWER).ok()
                    })
                    .map(|ms| mde(ms, alpha, base_mean));
            }
        }
    }
    Some(t)
}

fn mde(ms: f64, alpha: f64, base_mean: Option<f64>) -> Mde {
    Mde {
        power: MDE_POWER,
        alpha,
        ms,
        pct: base_mean.filter(|m| *m != 0.0).map(|m| 100.0 * ms / m),
    }
}

fn paired_stats(pairs: &Pairs) -> Result<PairedStats, StatsError> {
    let c: Vec<f64> = pairs.times.iter().map(|p| p.0).collect();
    let b: Vec<f64> = pairs.times.iter().map(|p| p.1).collect();
    let t = speedcert_stats::paired_t(&c, &b, Alternative::Less)?;
    let flip = speedcert_stats::sign_flip(
        &c,
        &b,
        Alternative::Less,
        &speedcert_stats::SignFlipConfig::default(),
    )
    .ok();
    Ok(PairedStats {
        pairs: t.n,
        broken_pairs: pairs.broken,
        candidate_first: pairs.times.iter().filter(|p| p.2).count(),
        mean_diff_ms: t.mean_difference,
        sd_diff_ms: t.sd_difference,
        t: t.t,
        df: t.df,
        p_value: t.p,
        ci95_diff_ms: [t.ci.lower, t.ci.upper],
        correlation: t.correlation,
        sign_flip_p: flip.as_ref().map(|f| f.p),
        sign_flip_min_p: flip.as_ref().map(|f| f.min_p),
    })
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
