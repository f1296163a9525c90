//! Student's one-sample t-test and Welch's two-sample t-test.
//!
//! Conventions follow `scipy.stats.ttest_1samp` and `scipy.stats.ttest_ind(...,
//! equal_var=False)` exactly (same statistic, same degrees of freedom, same
//! `alternative` names) so that a figure printed by speedcert can be re-checked with
//! one line of Python. The t distribution comes from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::erf::erfc;

use crate::StatsError;
use crate::summary::{check_sample, mean, variance};

/// Which way the alternative hypothesis points, with scipy's names.
///
/// For the one-sample test `Less` means H1: μ < target; for two-sample tests it
/// means H1: mean(a) < mean(b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    Less,
    Greater,
    TwoSided,
}

impl Alternative {
    /// scipy's spelling: "less", "greater", "two-sided".
    pub fn as_str(self) -> &'static str {
        match self {
            Alternative::Less => "less",
            Alternative::Greater => "greater",
            Alternative::TwoSided => "two-sided",
        }
    }
}

/// Result of a t-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TTest {
    /// The t statistic: estimate / standard_error.
    pub t: f64,
    /// Degrees of freedom: n − 1 for one sample; the Welch–Satterthwaite value
    /// (generally not an integer) for two samples.
    pub df: f64,
    /// p-value for `alternative`, in [0, 1].
    pub p: f64,
    pub alternative: Alternative,
    /// mean − target (one sample) or mean(a) − mean(b) (two samples).
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub standard_error: f64,
}

/// One-sample t-test of the mean of `values` against `target`.
///
/// The certification question "is the mean final validation loss below 3.28?" is
/// `one_sample_t(losses, 3.28, Alternative::Less)`, the same call as the speedrun's
/// `scipy.stats.ttest_1samp(losses, 3.28, alternative="less")`.
///
/// Errors: fewer than two values, a non-finite value or target, or zero variance.
pub fn one_sample_t(
    values: &[f64],
    target: f64,
    alternative: Alternative,
) -> Result<TTest, StatsError> {
    check_sample("sample", values, 2, "one_sample_t")?;
    if !target.is_finite() {
        return Err(StatsError::InvalidParameter {
            name: "target",
            detail: format!("must be finite, got {target}"),
        });
    }
    let n = values.len() as f64;
    let m = mean(values);
    let var = variance(values, m);
    if var <= 0.0 {
        return Err(StatsError::ZeroVariance {
            statistic: "one_sample_t",
            detail: format!("all {} values equal {m}", values.len()),
        });
    }
    let se = (var / n).sqrt();
    let estimate = m - target;
    let t = estimate / se;
    let df = n - 1.0;
    Ok(TTest {
        t,
        df,
        p: t_p_value(t, df, alternative),
        alternative,
        estimate,
        standard_error: se,
    })
}

/// Welch's unequal-variance t-test of mean(a) against mean(b).
///
/// "Is the candidate faster than the baseline?" is
/// `welch_t(candidate_ms, baseline_ms, Alternative::Less)`. Welch rather than
/// Student's pooled test because a change to the training code can change the spread
/// of run times as well as their mean, and Welch stays valid when it does.
///
/// Errors: either sample with fewer than two values, a non-finite value, or both
/// samples constant. One constant sample is fine (the other supplies the variance).
pub fn welch_t(a: &[f64], b: &[f64], alternative: Alternative) -> Result<TTest, StatsError> {
    check_sample("a", a, 2, "welch_t")?;
    check_sample("b", b, 2, "welch_t")?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (mean(a), mean(b));
    let (va, vb) = (variance(a, ma) / na, variance(b, mb) / nb);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return Err(StatsError::ZeroVariance {
            statistic: "welch_t",
            detail: format!("sample a is constant at {ma} and sample b at {mb}"),
        });
    }
    // Welch–Satterthwaite, written with the variance shares so that tiny variances
    // cannot underflow when squared.
    let (ra, rb) = (va / se2, vb / se2);
    let df = 1.0 / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
    let se = se2.sqrt();
    let estimate = ma - mb;
    let t = estimate / se;
    Ok(TTest {
        t,
        df,
        p: t_p_value(t, df, alternative),
        alternative,
        estimate,
        standard_error: se,
    })
}

/// p-value of a t statistic. Each tail is computed as a lower-tail CDF of a
/// non-positive argument, so tiny p-values (1e-12 for well separated run times)
/// keep their relative precision instead of being lost in `1 − cdf`.
pub(crate) fn t_p_value(t: f64, df: f64, alternative: Alternative) -> f64 {
    // The callers guarantee 1 ≤ df < ∞ (n ≥ 2 and a positive variance); should that
    // ever fail, the normal distribution (the t distribution's limit) answers rather
    // than a panic.
    let cdf: Box<dyn Fn(f64) -> f64> = match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) if df.is_finite() => Box::new(move |x| dist.cdf(x)),
        _ => Box::new(|x: f64| 0.5 * erfc(-x / std::f64::consts::SQRT_2)),
    };
    let lower = |x: f64| {
        if x <= 0.0 { cdf(x) } else { 1.0 - cdf(-x) }
    };
    let p = match alternative {
        Alternative::Less => lower(t),
        Alternative::Greater => lower(-t),
        Alternative::TwoSided => 2.0 * cdf(-t.abs()),
    };
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_sample_is_an_error() {
        let err = one_sample_t(&[3.0, 3.0, 3.0], 3.28, Alternative::Less).unwrap_err();
        assert!(matches!(err, StatsError::ZeroVariance { .. }), "{err}");
        let err = welch_t(&[1.0, 1.0], &[2.0, 2.0], Alternative::Less).unwrap_err();
        assert!(matches!(err, StatsError::ZeroVariance { .. }), "{err}");
    }

    #[test]
    fn one_constant_sample_is_fine() {
        let r = welch_t(&[1.0, 1.0, 1.0], &[2.0, 2.5, 3.0], Alternative::Less).unwrap();
        assert!(r.p < 0.05);
        assert!((r.df - 2.0).abs() < 1e-12);
    }

    #[test]
    fn too_few_and_nan_are_errors() {
        assert!(matches!(
            one_sample_t(&[3.0], 3.28, Alternative::Less),
            Err(StatsError::TooFew { n: 1, min: 2, .. })
        ));
        assert!(matches!(
            welch_t(&[1.0, 2.0], &[f64::NAN, 1.0], Alternative::Less),
            Err(StatsError::NonFinite { sample: "b", .. })
        ));
        assert!(matches!(
            one_sample_t(&[1.0, 2.0], f64::NAN, Alternative::Less),
            Err(StatsError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn tiny_variances_do_not_underflow_df() {
        // Variances near 1e-200: their squares underflow to zero.
        let a = [0.0, 1e-100, 2e-100];
        let b = [5e-100, 6e-100, 7.5e-100];
        let r = welch_t(&a, &b, Alternative::Less).unwrap();
        assert!(r.df.is_finite() && r.df > 0.0, "df {}", r.df);
        assert!((0.0..=1.0).contains(&r.p));
    }

    #[test]
    fn infinite_df_falls_back_to_normal() {
        let p = t_p_value(-1.959963984540054, f64::INFINITY, Alternative::Less);
        assert!((p - 0.025).abs() < 1e-10, "{p}");
    }

    #[test]
    fn alternative_names_match_scipy() {
        assert_eq!(
            serde_json::to_string(&Alternative::TwoSided).unwrap(),
            "\"two-sided\""
        );
        assert_eq!(Alternative::Less.as_str(), "less");
    }
}
