//! Mann–Whitney U test, a rank-based robustness check beside the t-tests.
//!
//! Matches `scipy.stats.mannwhitneyu(a, b, use_continuity=True, alternative=...,
//! method="auto")` (scipy 1.17):
//! - the statistic is U for `a`: U_a = R_a − n_a(n_a + 1)/2, with average ranks for
//!   ties;
//! - `method="auto"` uses the exact null distribution when either sample has at most
//!   8 values and there are no ties, and the normal approximation otherwise;
//! - the normal approximation has the tie correction
//!   σ = √(n_a n_b / 12 · ((n + 1) − Σ(t³ − t) / (n(n − 1)))) and a continuity
//!   correction of 0.5 toward the mean;
//! - one-sided p-values are survival functions of U_b ("less") or U_a ("greater");
//!   the two-sided p is twice the survival function of max(U_a, U_b), capped at 1.
//!
//! When every value in both samples is tied, σ = 0 and the p-value is 1 (scipy gives
//! the same through z = −∞), never NaN.

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

use crate::summary::check_sample;
use crate::{Alternative, StatsError};

/// How to compute the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MannWhitneyMethod {
    /// scipy's rule: exact if min(n_a, n_b) ≤ 8 and no ties, else asymptotic.
    Auto,
    /// The exact permutation distribution of U. Refused when there are ties (the
    /// exact distribution assumes none).
    Exact,
    /// Normal approximation with tie and continuity corrections.
    Asymptotic,
}

impl MannWhitneyMethod {
    /// The name scipy uses: "auto", "exact", "asymptotic".
    pub fn as_str(self) -> &'static str {
        match self {
            MannWhitneyMethod::Auto => "auto",
            MannWhitneyMethod::Exact => "exact",
            MannWhitneyMethod::Asymptotic => "asymptotic",
        }
    }
}

/// Result of a Mann–Whitney U test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U for sample a (scipy's `statistic`): the number of pairs (x from a, y from b)
    /// with x > y, ties counting one half.
    pub u: f64,
    pub p: f64,
    pub alternative: Alternative,
    /// The method actually used (never `Auto`).
    pub method: MannWhitneyMethod,
    /// Whether any values were tied.
    pub ties: bool,
}

/// Mann–Whitney U test of a against b with scipy's `method="auto"`.
/// `Alternative::Less` is H1: values of a tend to be smaller than those of b.
pub fn mann_whitney_u(
    a: &[f64],
    b: &[f64],
    alternative: Alternative,
) -> Result<MannWhitney, StatsError> {
    mann_whitney_u_with(a, b, alternative, MannWhitneyMethod::Auto)
}

/// As [`mann_whitney_u`] with an explicit method.
///
/// Errors: an empty sample, a non-finite value, `Exact` with ties, or `Exact` for
/// sizes whose permutation counts overflow 128-bit integers (about n_a = n_b = 65;
/// `Auto` falls back to the normal approximation there).
pub fn mann_whitney_u_with(
    a: &[f64],
    b: &[f64],
    alternative: Alternative,
    method: MannWhitneyMethod,
) -> Result<MannWhitney, StatsError> {
    check_sample("a", a, 1, "mann_whitney_u")?;
    check_sample("b", b, 1, "mann_whitney_u")?;
    let (n1, n2) = (a.len(), b.len());
    let (rank_sum_a, tie_term) = rank_sum_and_ties(a, b);
    let ties = tie_term > 0.0;
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_a - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };

    let exact = match method {
        MannWhitneyMethod::Asymptotic => None,
        MannWhitneyMethod::Auto => {
            if (n1 <= 8 || n2 <= 8) && !ties {
                exact_sf(u, n1, n2)
            } else {
                None
            }
        }
        MannWhitneyMethod::Exact => {
            if ties {
                return Err(StatsError::InvalidParameter {
                    name: "method",
                    detail: "the exact Mann-Whitney distribution assumes no ties".into(),
                });
            }
            Some(
                exact_sf(u, n1, n2).ok_or_else(|| StatsError::InvalidParameter {
                    name: "method",
                    detail: format!("exact counts for n = {n1} + {n2} overflow i128"),
                })?,
            )
        }
    };
    let (sf, used) = match exact {
        Some(sf) => (sf, MannWhitneyMethod::Exact),
        None => (
            asymptotic_sf(u, n1f, n2f, tie_term),
            MannWhitneyMethod::Asymptotic,
        ),
    };
    Ok(MannWhitney {
        u: u1,
        p: (sf * factor).clamp(0.0, 1.0),
        alternative,
        method: used,
        ties,
    })
}

/// Sum of the average ranks of a in the pooled sample, and Σ(t³ − t) over tie groups.
fn rank_sum_and_ties(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut rank_sum, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i + 1;
        while j < pooled.len() && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let avg = (i + 1 + j) as f64 / 2.0;
        let in_a = pooled[i..j].iter().filter(|p| p.1).count();
        rank_sum += avg * in_a as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    (rank_sum, tie_term)
}

/// P(U ≥ u) under the normal approximation with tie and continuity corrections.
fn asymptotic_sf(u: f64, n1: f64, n2: f64, tie_term: f64) -> f64 {
    let n = n1 + n2;
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let numerator = u - n1 * n2 / 2.0 - 0.5;
    if s.is_nan() || s <= 0.0 {
        // Every value tied: U sits at its mean, the corrected numerator is −0.5 and
        // z = −∞, so the survival function is 1.
        return 1.0;
    }
    let z = numerator / s;
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Exact P(U ≥ u) for samples of sizes n1, n2 without ties, or `None` if the
/// permutation counts overflow i128.
///
/// The number of arrangements with U = k is the coefficient of q^k in the Gaussian
/// binomial [n1 + n2 choose m]_q = Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i), with
/// m = min(n1, n2), n = max(n1, n2). Multiplying by (1 − q^{n+i}) and dividing by
/// (1 − q^i) are both exact integer recurrences, so the counts carry no rounding;
/// only the final ratio is a float.
fn exact_sf(u: f64, n1: usize, n2: usize) -> Option<f64> {
    let (m, n) = (n1.min(n2), n1.max(n2));
    let max_u = m.checked_mul(n)?;
    let mut c = vec![0i128; max_u + n + m + 1];
    c[0] = 1;
    let mut deg = 0usize;
    for i in 1..=m {
        let shift = n + i;
        for k in (shift..=deg + shift).rev() {
            c[k] = c[k].checked_sub(c[k - shift])?;
        }
        for k in i..=deg + n {
            c[k] = c[k].checked_add(c[k - i])?;
        }
        for v in c.iter_mut().skip(deg + n + 1) {
            *v = 0;
        }
        deg += n;
    }
    let counts = &c[..=max_u];
    let total: i128 = counts
        .iter()
        .try_fold(0i128, |acc, &v| acc.checked_add(v))?;
    // U is an integer without ties; ceil guards against representation noise.
    let from = (u - 1e-9).ceil().max(0.0) as usize;
    let upper: i128 = counts.iter().skip(from).sum();
    Some(upper as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_counts_are_gaussian_binomial() {
        // Sizes 2 and 2: U takes 0,1,2,2,3,4 over the C(4,2) = 6 arrangements.
        assert_eq!(exact_sf(0.0, 2, 2), Some(1.0));
        assert!((exact_sf(2.0, 2, 2).unwrap() - 4.0 / 6.0).abs() < 1e-15);
        assert!((exact_sf(4.0, 2, 2).unwrap() - 1.0 / 6.0).abs() < 1e-15);
        assert_eq!(exact_sf(5.0, 2, 2), Some(0.0));
    }

    #[test]
    fn all_tied_gives_p_one() {
        for alt in [
            Alternative::Less,
            Alternative::Greater,
            Alternative::TwoSided,
        ] {
            let r = mann_whitney_u(&[1.0; 10], &[1.0; 12], alt).unwrap();
            assert_eq!(r.p, 1.0);
            assert_eq!(r.method, MannWhitneyMethod::Asymptotic);
        }
    }

    #[test]
    fn exact_with_ties_is_refused_auto_falls_back() {
        let a = [1.0, 2.0, 2.0];
        let b = [3.0, 4.0];
        assert!(mann_whitney_u_with(&a, &b, Alternative::Less, MannWhitneyMethod::Exact).is_err());
        let r = mann_whitney_u(&a, &b, Alternative::Less).unwrap();
        assert_eq!(r.method, MannWhitneyMethod::Asymptotic);
    }

    #[test]
    fn large_exact_overflows_to_none() {
        assert!(exact_sf(10.0, 200, 200).is_none());
        assert!(exact_sf(10.0, 8, 2000).is_some());
    }
}
