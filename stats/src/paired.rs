//! Paired comparisons: the paired t-test and the exact sign-flip randomization test
//! on within-pair differences d_i = candidate_i − baseline_i.
//!
//! Certification runs are interleaved in pairs so that both arms of a pair see the
//! same machine state; the pair's common term cancels in d_i, which is why the
//! verdict's time test is [`paired_t`] and not Welch (which treats the runs as
//! independent and leaves that term in the noise).
//!
//! Why the verdict uses the paired t and not the sign-flip test, although the latter
//! needs no normality: a randomization test over n pairs cannot give a p-value below
//! 1/2^n. At n = 5 pairs that is 1/32 ≈ 0.031, above the 0.01 threshold tracks use,
//! so it could never certify anything however large the speed-up (the exact Wilcoxon
//! signed-rank test has the same floor). [`sign_flip`] is therefore a reported
//! robustness figure, with its floor ([`SignFlip::min_p`]) beside it.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::bootstrap::{ConfidenceInterval, DEFAULT_SEED};
use crate::summary::{check_sample, mean, variance};
use crate::ttest::t_p_value;
use crate::{Alternative, StatsError};

/// Level of [`PairedTest::ci`].
pub const PAIRED_CI_LEVEL: f64 = 0.95;

/// Result of a paired t-test of candidate against baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Number of pairs.
    pub n: usize,
    pub candidate_mean: f64,
    pub baseline_mean: f64,
    /// mean(d), d_i = candidate_i − baseline_i; negative means the candidate is faster.
    pub mean_difference: f64,
    /// Sample standard deviation of the d_i (n − 1 denominator).
    pub sd_difference: f64,
    /// sd_difference / √n.
    pub standard_error: f64,
    pub t: f64,
    /// n − 1.
    pub df: f64,
    /// p-value for `alternative`; `Less` is H1: the candidate is faster.
    pub p: f64,
    pub alternative: Alternative,
    /// Two-sided 95 % t interval of the mean difference, whatever `alternative` is:
    /// a one-sided interval has an infinite end, which JSON cannot carry, and the
    /// two-sided one is what readers expect to see printed. Its upper end is the
    /// one-sided 97.5 % bound. Same as scipy's
    /// `ttest_rel(c, b).confidence_interval(0.95)`.
    pub ci: ConfidenceInterval,
    /// 100 · mean_difference / baseline_mean; `None` when the baseline mean is 0.
    pub percent_change: Option<f64>,
    /// Pearson correlation of candidate and baseline across pairs: how much of the
    /// noise the pairing removes. `None` when either arm is constant.
    pub correlation: Option<f64>,
}

/// Paired t-test on d_i = candidate_i − baseline_i, the same as
/// `scipy.stats.ttest_rel(candidate, baseline, alternative=...)`.
///
/// Errors: samples of different lengths, fewer than 2 pairs, a non-finite value, or
/// differences with zero variance. The last is an error rather than p = 0 (all d_i
/// equal and non-zero, t = ±∞) or p = NaN (all d_i zero, t = 0/0): identical or
/// exactly shifted times do not happen on a real machine, so they point at a cached
/// or fabricated result, and no verdict should rest on them.
pub fn paired_t(
    candidate: &[f64],
    baseline: &[f64],
    alternative: Alternative,
) -> Result<PairedTest, StatsError> {
    let d = differences(candidate, baseline, 2, "paired_t")?;
    let n = d.len();
    let nf = n as f64;
    let m = mean(&d);
    let var = variance(&d, m);
    if var <= 0.0 {
        return Err(StatsError::ZeroVariance {
            statistic: "paired_t",
            detail: format!("all {n} differences candidate − baseline equal {m}"),
        });
    }
    let sd = var.sqrt();
    let se = sd / nf.sqrt();
    let t = m / se;
    let df = nf - 1.0;
    let (candidate_mean, baseline_mean) = (mean(candidate), mean(baseline));
    // df ≥ 1 here, so the distribution exists.
    let q = StudentsT::new(0.0, 1.0, df)
        .map(|dist| dist.inverse_cdf(0.5 + PAIRED_CI_LEVEL / 2.0))
        .unwrap_or(f64::NAN);
    let ci = ConfidenceInterval {
        estimate: m,
        lower: m - q * se,
        upper: m + q * se,
        level: PAIRED_CI_LEVEL,
    };
    Ok(PairedTest {
        n,
        candidate_mean,
        baseline_mean,
        mean_difference: m,
        sd_difference: sd,
        standard_error: se,
        t,
        df,
        p: t_p_value(t, df, alternative),
        alternative,
        ci,
        percent_change: (baseline_mean != 0.0).then(|| 100.0 * m / baseline_mean),
        correlation: correlation(candidate, candidate_mean, baseline, baseline_mean),
    })
}

/// Up to this many pairs [`sign_flip`] enumerates all 2^n sign assignments
/// (about a million at 20); beyond, it samples.
pub const SIGN_FLIP_EXACT_MAX_PAIRS: usize = 20;

/// Monte-Carlo settings of [`sign_flip`], used only above
/// [`SIGN_FLIP_EXACT_MAX_PAIRS`] pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignFlipConfig {
    /// Random sign assignments; 100 000 puts the standard error of a p near 0.01
    /// at 0.0003.
    pub resamples: usize,
    /// ChaCha20 seed, stored with the result so the figure can be recomputed.
    pub seed: u64,
}

impl Default for SignFlipConfig {
    fn default() -> Self {
        Self {
            resamples: 100_000,
            seed: DEFAULT_SEED,
        }
    }
}

/// How a [`SignFlip`] p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SignFlipMethod {
    /// All 2^n assignments.
    Exact { assignments: u64 },
    /// `resamples` random assignments from ChaCha20 seeded with `seed`; the p-value is
    /// (1 + hits) / (1 + resamples), so it is never 0 (as scipy's `permutation_test`).
    MonteCarlo { resamples: u64, seed: u64 },
}

/// Result of the sign-flip randomization test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignFlip {
    pub n: usize,
    /// Σ d_i. Under sign flips Σ d_i² is fixed, so ordering assignments by the sum
    /// orders them by the paired t statistic: this is the randomization version of
    /// [`paired_t`].
    pub sum_difference: f64,
    pub p: f64,
    pub alternative: Alternative,
    pub method: SignFlipMethod,
    /// The smallest p this test can give with n pairs: 1/2^n one-sided (exact),
    /// twice that two-sided; 1/(1 + resamples) for Monte Carlo.
    pub min_p: f64,
}

/// Sign-flip randomization test of the mean difference: under H0 (no difference
/// between the arms, the order within a pair exchangeable) each d_i is equally likely
/// to have either sign. Exact for n ≤ [`SIGN_FLIP_EXACT_MAX_PAIRS`], Monte Carlo with
/// `config` above. Matches `scipy.stats.permutation_test((c, b), lambda x, y, axis:
/// np.mean(x - y, axis=axis), permutation_type="samples", n_resamples=np.inf,
/// alternative=...)` in the exact range.
///
/// Draw order (part of the reproducibility contract): per resample, one `u64` from
/// the generator per 64 pairs; bit i % 64 of word i / 64 set flips pair i.
///
/// Errors: unequal lengths, no pairs, a non-finite value, or zero resamples when
/// Monte Carlo is needed. All-zero differences give p = 1, not an error: no
/// assignment is more extreme, and this test has no variance to divide by.
pub fn sign_flip(
    candidate: &[f64],
    baseline: &[f64],
    alternative: Alternative,
    config: &SignFlipConfig,
) -> Result<SignFlip, StatsError> {
    let d = differences(candidate, baseline, 1, "sign_flip")?;
    let n = d.len();
    let observed: f64 = d.iter().sum();
    // Sums that differ only by rounding count as ties: the relative error of a sum of
    // n terms is far below 1e-12, and real differences are far above it.
    let tol = 1e-12 * d.iter().map(|v| v.abs()).sum::<f64>();
    let hit = |s: f64| match alternative {
        Alternative::Less => s <= observed + tol,
        Alternative::Greater => s >= observed - tol,
        Alternative::TwoSided => s.abs() >= observed.abs() - tol,
    };

    if n <= SIGN_FLIP_EXACT_MAX_PAIRS {
        // Split into halves: every total is one low-half sum plus one high-half sum,
        // each computed directly, so no rounding accumulates over the 2^n steps.
        let half = n / 2;
        let low = subset_sums(&d[..half]);
        let high = subset_sums(&d[half..]);
        let hits: u64 = high
            .iter()
            .map(|&h| low.iter().filter(|&&l| hit(l + h)).count() as u64)
            .sum();
        let total = 1u64 << n;
        let floor = 1.0 / total as f64;
        return Ok(SignFlip {
            n,
            sum_difference: observed,
            p: (hits as f64 / total as f64).clamp(0.0, 1.0),
            alternative,
            method: SignFlipMethod::Exact { assignments: total },
            min_p: match alternative {
                Alternative::TwoSided => 2.0 * floor,
                _ => floor,
            },
        });
    }

    if config.resamples == 0 {
        return Err(StatsError::InvalidParameter {
            name: "resamples",
            detail: format!("must be at least 1 for a Monte-Carlo sign-flip test of {n} pairs"),
        });
    }
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let mut words = vec![0u64; n.div_ceil(64)];
    let mut hits = 0u64;
    for _ in 0..config.resamples {
        for w in words.iter_mut() {
            *w = rng.next_u64();
        }
        let s: f64 = d
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if words[i / 64] >> (i % 64) & 1 == 1 {
                    -v
                } else {
                    v
                }
            })
            .sum();
        if hit(s) {
            hits += 1;
        }
    }
    let r = config.resamples as f64;
    Ok(SignFlip {
        n,
        sum_difference: observed,
        p: ((1.0 + hits as f64) / (1.0 + r)).clamp(0.0, 1.0),
        alternative,
        method: SignFlipMethod::MonteCarlo {
            resamples: config.resamples as u64,
            seed: config.seed,
        },
        min_p: 1.0 / (1.0 + r),
    })
}

/// Σ ±x_i for every sign assignment of `xs`, indexed by the bit mask of flipped
/// signs.
fn subset_sums(xs: &[f64]) -> Vec<f64> {
    (0..1usize << xs.len())
        .map(|mask| {
            xs.iter()
                .enumerate()
                .map(|(i, &v)| if mask >> i & 1 == 1 { -v } else { v })
                .sum()
        })
        .collect()
}

/// Checks both arms and returns candidate_i − baseline_i.
fn differences(
    candidate: &[f64],
    baseline: &[f64],
    min: usize,
    statistic: &'static str,
) -> Result<Vec<f64>, StatsError> {
    check_sample("candidate", candidate, 0, statistic)?;
    check_sample("baseline", baseline, 0, statistic)?;
    if candidate.len() != baseline.len() {
        return Err(StatsError::InvalidParameter {
            name: "baseline",
            detail: format!(
                "{statistic} pairs runs one to one, but candidate has {} values and baseline {}",
                candidate.len(),
                baseline.len()
            ),
        });
    }
    check_sample("candidate", candidate, min, statistic)?;
    Ok(candidate.iter().zip(baseline).map(|(c, b)| c - b).collect())
}

/// Pearson r of two equal-length samples about given means; `None` if either has
/// no spread.
fn correlation(a: &[f64], ma: f64, b: &[f64], mb: f64) -> Option<f64> {
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    let denom = (saa * sbb).sqrt();
    (denom > 0.0 && denom.is_finite()).then(|| (sab / denom).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        let e = paired_t(&[1.0, 2.0, 3.0], &[1.0, 2.0], Alternative::Less).unwrap_err();
        assert!(
            e.to_string()
                .contains("candidate has 3 values and baseline 2"),
            "{e}"
        );
        assert!(matches!(
            paired_t(&[1.0], &[2.0], Alternative::Less),
            Err(StatsError::TooFew { n: 1, min: 2, .. })
        ));
        assert!(matches!(
            paired_t(&[1.0, 2.0], &[2.0, f64::NAN], Alternative::Less),
            Err(StatsError::NonFinite {
                sample: "baseline",
                index: 1,
                ..
            })
        ));
        let e = paired_t(&[3.0, 4.0, 5.0], &[4.0, 5.0, 6.0], Alternative::Less).unwrap_err();
        assert!(matches!(e, StatsError::ZeroVariance { .. }), "{e}");
        assert!(e.to_string().contains("differences"), "{e}");
        assert!(sign_flip(&[1.0], &[], Alternative::Less, &SignFlipConfig::default()).is_err());
    }

    #[test]
    fn five_pairs_cannot_reach_one_percent() {
        // Every pair faster: the most extreme assignment, p = 1/32.
        let c = [79.0, 79.1, 79.2, 79.3, 79.4];
        let b = [80.0, 80.2, 80.1, 80.4, 80.3];
        let r = sign_flip(&c, &b, Alternative::Less, &SignFlipConfig::default()).unwrap();
        assert_eq!(r.p, 1.0 / 32.0);
        assert_eq!(r.min_p, 1.0 / 32.0);
        assert!(r.p > 0.01);
        assert_eq!(r.method, SignFlipMethod::Exact { assignments: 32 });
        assert!(paired_t(&c, &b, Alternative::Less).unwrap().p < 0.01);
    }

    #[test]
    fn all_zero_differences_give_p_one() {
        let x = [1.0, 2.0, 3.0];
        for alt in [
            Alternative::Less,
            Alternative::Greater,
            Alternative::TwoSided,
        ] {
            let r = sign_flip(&x, &x, alt, &SignFlipConfig::default()).unwrap();
            assert_eq!(r.p, 1.0);
        }
    }

    #[test]
    fn monte_carlo_is_seeded() {
        let c: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 7) - 1.5).collect();
        let b: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 5)).collect();
        let cfg = SignFlipConfig {
            resamples: 2000,
            seed: 1,
        };
        let x = sign_flip(&c, &b, Alternative::Less, &cfg).unwrap();
        assert_eq!(x, sign_flip(&c, &b, Alternative::Less, &cfg).unwrap());
        assert!(matches!(x.method, SignFlipMethod::MonteCarlo { .. }));
        assert!(x.p >= x.min_p && x.p <= 1.0);
    }

    #[test]
    fn correlation_is_none_for_a_constant_arm() {
        let r = paired_t(&[1.0, 1.0, 1.0], &[2.0, 3.0, 5.0], Alternative::Less).unwrap();
        assert_eq!(r.correlation, None);
    }
}
