//! Everything the reports print about "a against b", computed once.
//!
//! Deliberately verdict-neutral: a [`Comparison`] holds numbers, never "new record"
//! or "not significant". The evaluator owns the verdict vocabulary and the
//! threshold, so certify, verify, nightly and audit can each decide from the same
//! figures.

use serde::{Deserialize, Serialize};

use crate::{
    Alternative, BootstrapCi, BootstrapConfig, EffectSize, MannWhitney, StatsError, Summary, TTest,
    bootstrap_mean_difference, effect_size, mann_whitney_u, welch_t,
};

/// A two-sample comparison of a (the candidate) against b (the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: Summary,
    pub b: Summary,
    /// mean(a) − mean(b).
    pub difference: f64,
    /// 100 · (mean(a) / mean(b) − 1); `None` when mean(b) is 0.
    pub percent_change: Option<f64>,
    /// Welch, H1: mean(a) < mean(b) — the record question for times.
    pub welch_less: TTest,
    /// Welch, two-sided — for "did anything change", e.g. the loss in a pure speedup.
    pub welch_two_sided: TTest,
    pub effect: EffectSize,
    pub bootstrap: BootstrapCi,
    /// Mann–Whitney U, H1: a tends to be smaller than b.
    pub mann_whitney_less: MannWhitney,
    pub mann_whitney_two_sided: MannWhitney,
}

/// Compares a against b with every statistic of [`Comparison`].
///
/// Errors as the underlying tests: fewer than two values in a sample, a non-finite
/// value, both samples constant, or a bad bootstrap configuration.
pub fn compare(
    a: &[f64],
    b: &[f64],
    bootstrap: &BootstrapConfig,
) -> Result<Comparison, StatsError> {
    let sa = Summary::of_named("a", a)?;
    let sb = Summary::of_named("b", b)?;
    let welch_less = welch_t(a, b, Alternative::Less)?;
    let welch_two_sided = welch_t(a, b, Alternative::TwoSided)?;
    let effect = effect_size(a, b)?;
    let bootstrap = bootstrap_mean_difference(a, b, bootstrap)?;
    let mann_whitney_less = mann_whitney_u(a, b, Alternative::Less)?;
    let mann_whitney_two_sided = mann_whitney_u(a, b, Alternative::TwoSided)?;
    let percent_change = (sb.mean != 0.0).then(|| 100.0 * (sa.mean / sb.mean - 1.0));
    Ok(Comparison {
        difference: sa.mean - sb.mean,
        percent_change,
        a: sa,
        b: sb,
        welch_less,
        welch_two_sided,
        effect,
        bootstrap,
        mann_whitney_less,
        mann_whitney_two_sided,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faster_candidate_compares_as_expected() {
        let a = [79.536, 79.740, 79.814, 79.658, 79.593, 79.629, 80.231];
        let b = [80.610, 80.710, 80.678, 80.720, 80.747, 80.693, 80.659];
        let c = compare(&a, &b, &BootstrapConfig::default()).unwrap();
        assert!(c.difference < 0.0);
        assert!(c.welch_less.p < 1e-4);
        assert!(c.effect.hedges_g < 0.0 && c.effect.hedges_g > c.effect.cohen_d);
        assert!(c.bootstrap.difference.upper < 0.0);
        assert!(c.mann_whitney_less.p < 0.01);
        assert!(c.percent_change.unwrap() < 0.0);
        let json = serde_json::to_string(&c).unwrap();
        let back: Comparison = serde_json::from_str(&json).unwrap();
        // serde_json without its `float_roundtrip` feature may move the last bit.
        assert!((back.welch_less.p - c.welch_less.p).abs() <= 1e-15 * c.welch_less.p);
        assert_eq!(back.mann_whitney_less.method, c.mann_whitney_less.method);
    }
}
