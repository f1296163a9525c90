//! Seeded percentile bootstrap of a two-sample difference of means.
//!
//! Reproducible by construction: the generator is ChaCha20 (`rand_chacha`), whose
//! output stream is fixed by its specification, seeded with
//! `ChaCha20Rng::seed_from_u64(seed)`, and indices are drawn as `u32` so that 32- and
//! 64-bit machines consume the stream identically. `speedcert verify` on another
//! machine therefore recomputes the same interval bit for bit (for the pinned `rand`
//! 0.9 / `rand_chacha` 0.9). The draw order is part of that contract: for each
//! resample, n_a indices into a, then n_b indices into b.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::summary::{check_sample, mean};

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples; 10 000 puts the Monte-Carlo error of a 95 % percentile
    /// bound well below the spread of run times.
    pub resamples: usize,
    /// Two-sided confidence level in (0, 1), e.g. 0.95.
    pub level: f64,
    /// Seed of the ChaCha20 generator; stored with the result so anyone can redo it.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 10_000,
            level: 0.95,
            seed: DEFAULT_SEED,
        }
    }
}

/// The default seed. Fixed rather than random so that two reports of the same data
/// agree; it has no meaning beyond that.
pub const DEFAULT_SEED: u64 = 0x5eed_ce27_0000_0001;

/// A point estimate with its two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    pub level: f64,
}

/// Bootstrap intervals for mean(a) − mean(b) and for the percent change
/// 100 · (mean(a) / mean(b) − 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCi {
    pub config: BootstrapConfig,
    /// In the units of the samples (ms for times).
    pub difference: ConfidenceInterval,
    /// In percent. `None` when b has values of both signs or a zero, where a ratio of
    /// resampled means can blow up; times and losses are always positive.
    pub percent_change: Option<ConfidenceInterval>,
}

/// Percentile bootstrap of mean(a) − mean(b): resample each sample with replacement,
/// independently, `config.resamples` times, and take the (1 − level)/2 and
/// (1 + level)/2 quantiles (numpy's default linear interpolation) of the resampled
/// statistic.
///
/// Errors: fewer than two values in either sample, a non-finite value, a level outside
/// (0, 1), zero resamples, or a sample too large to index with `u32`.
pub fn bootstrap_mean_difference(
    a: &[f64],
    b: &[f64],
    config: &BootstrapConfig,
) -> Result<BootstrapCi, StatsError> {
    check_sample("a", a, 2, "bootstrap")?;
    check_sample("b", b, 2, "bootstrap")?;
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "level",
            detail: format!("must be in (0, 1), got {}", config.level),
        });
    }
    if config.resamples == 0 {
        return Err(StatsError::InvalidParameter {
            name: "resamples",
            detail: "must be at least 1".to_string(),
        });
    }
    for (name, s) in [("a", a), ("b", b)] {
        if u32::try_from(s.len()).is_err() {
            return Err(StatsError::InvalidParameter {
                name,
                detail: format!("{} values is more than a u32 index can draw", s.len()),
            });
        }
    }
    let ratio_ok = b.iter().all(|&v| v > 0.0) || b.iter().all(|&v| v < 0.0);

    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let mut diffs = Vec::with_capacity(config.resamples);
    let mut pcts = Vec::with_capacity(if ratio_ok { config.resamples } else { 0 });
    for _ in 0..config.resamples {
        let ma = resampled_mean(&mut rng, a);
        let mb = resampled_mean(&mut rng, b);
        diffs.push(ma - mb);
        if ratio_ok {
            pcts.push(100.0 * (ma / mb - 1.0));
        }
    }
    let (ma, mb) = (mean(a), mean(b));
    let difference = interval(ma - mb, &mut diffs, config.level);
    let percent_change =
        ratio_ok.then(|| interval(100.0 * (ma / mb - 1.0), &mut pcts, config.level));
    Ok(BootstrapCi {
        config: *config,
        difference,
        percent_change,
    })
}

fn resampled_mean(rng: &mut ChaCha20Rng, xs: &[f64]) -> f64 {
    // The length was checked to fit in u32.
    let n = xs.len() as u32;
    let sum: f64 = (0..n).map(|_| xs[rng.random_range(0..n) as usize]).sum();
    sum / f64::from(n)
}

fn interval(estimate: f64, stats: &mut [f64], level: f64) -> ConfidenceInterval {
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    ConfidenceInterval {
        estimate,
        lower: quantile_sorted(stats, tail),
        upper: quantile_sorted(stats, 1.0 - tail),
        level,
    }
}

/// Quantile q ∈ [0, 1] of sorted, non-empty data by linear interpolation between
/// order statistics: Hyndman & Fan type 7, numpy's and R's default.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f64; 6] = [79.5, 79.7, 79.8, 79.6, 79.5, 79.6];
    const B: [f64; 6] = [80.6, 80.7, 80.7, 80.8, 80.7, 80.6];

    #[test]
    fn same_seed_same_interval_other_seed_differs() {
        let c = BootstrapConfig::default();
        let x = bootstrap_mean_difference(&A, &B, &c).unwrap();
        let y = bootstrap_mean_difference(&A, &B, &c).unwrap();
        assert_eq!(x, y);
        let z = bootstrap_mean_difference(&A, &B, &BootstrapConfig { seed: 7, ..c }).unwrap();
        assert_ne!(x.difference.lower, z.difference.lower);
    }

    #[test]
    fn interval_brackets_estimate() {
        let r = bootstrap_mean_difference(&A, &B, &BootstrapConfig::default()).unwrap();
        let d = r.difference;
        assert!(d.lower <= d.estimate && d.estimate <= d.upper, "{d:?}");
        assert!(d.upper < 0.0);
        let p = r.percent_change.unwrap();
        assert!(p.lower <= p.estimate && p.estimate <= p.upper, "{p:?}");
    }

    #[test]
    fn percent_change_needs_one_signed_denominator() {
        let r =
            bootstrap_mean_difference(&A, &[-1.0, 1.0, 2.0], &BootstrapConfig::default()).unwrap();
        assert!(r.percent_change.is_none());
    }

    #[test]
    fn bad_config_is_an_error() {
        for c in [
            BootstrapConfig {
                level: 1.0,
                ..Default::default()
            },
            BootstrapConfig {
                level: f64::NAN,
                ..Default::default()
            },
            BootstrapConfig {
                resamples: 0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                bootstrap_mean_difference(&A, &B, &c),
                Err(StatsError::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [0, 2.5, 50, 97.5, 100])
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert!((quantile_sorted(&s, 0.025) - 1.075).abs() < 1e-12);
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert!((quantile_sorted(&s, 0.975) - 3.925).abs() < 1e-12);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
    }
}
