//! Statistics for speedcert: descriptive summaries, the one-sample and Welch t-tests,
//! the paired t-test and sign-flip test on interleaved pairs, power and minimum
//! detectable effect, effect size, a seeded bootstrap CI and the Mann–Whitney U test.
//!
//! Used by certify (is the candidate's loss below target, is it faster than the
//! record), verify (recompute and compare), nightly (drift) and audit (the speedrun's
//! published records). The conventions match scipy so that every figure can be
//! re-checked with one line of Python; `fixtures/make_fixtures.py` writes the scipy
//! reference values the tests compare against.
//!
//! Inputs are plain `&[f64]` samples. Nothing here panics on user data and no
//! function returns a NaN p-value: too few values, non-finite values and samples
//! with no spread are [`StatsError`]s. Results are `serde` types, and none of them
//! carries a verdict; deciding "new record" from them is the caller's job.
//!
//! Hand-written numerics, where a library exists: the mean and variance (two-pass,
//! for precision with large offsets), the type-7 quantile, the exact Mann–Whitney
//! distribution and the noncentral t (statrs has neither). Distributions (Student's
//! t, the normal tail via `erfc`, log-gamma) come from `statrs`.

mod bootstrap;
mod compare;
mod effect;
mod error;
pub mod format;
mod mann_whitney;
mod paired;
mod power;
mod summary;
mod ttest;

pub use bootstrap::{
    BootstrapCi, BootstrapConfig, ConfidenceInterval, DEFAULT_SEED, bootstrap_mean_difference,
    quantile_sorted,
};
pub use compare::{Comparison, compare};
pub use effect::{EffectSize, effect_size};
pub use error::StatsError;
pub use mann_whitney::{MannWhitney, MannWhitneyMethod, mann_whitney_u, mann_whitney_u_with};
pub use paired::{
    PAIRED_CI_LEVEL, PairedTest, SIGN_FLIP_EXACT_MAX_PAIRS, SignFlip, SignFlipConfig,
    SignFlipMethod, paired_t, sign_flip,
};
pub use power::{noncentral_t_sf, paired_mde, paired_power, welch_mde, welch_power};
pub use summary::Summary;
pub use ttest::{Alternative, TTest, one_sample_t, welch_t};

/// The speedrun's loss target for the short track.
pub const SPEEDRUN_TARGET_LOSS: f64 = 3.28;

/// One-sided test that the mean of `losses` is below `target` (H1: μ < target): the
/// certification loss test, `scipy.stats.ttest_1samp(losses, target,
/// alternative="less")`.
pub fn mean_below(losses: &[f64], target: f64) -> Result<TTest, StatsError> {
    one_sample_t(losses, target, Alternative::Less)
}
