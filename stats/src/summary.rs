//! Descriptive statistics of one sample.

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// n, mean, standard deviation, median and range of one sample: the figures a
/// report prints as "mean ± sd (n runs), range min … max".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation with Bessel's correction (divides by n − 1, as
    /// `numpy.std(ddof=1)`, `torch.std` and the speedrun's own scripts do). `None` for
    /// a single value, where it does not exist; never a NaN.
    pub sd: Option<f64>,
    /// Middle value; the mean of the two middle values for even n (as `numpy.median`).
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises `values`. Fails on an empty sample or a non-finite value.
    pub fn of(values: &[f64]) -> Result<Self, StatsError> {
        Self::of_named("sample", values)
    }

    /// As [`Summary::of`], naming the sample in errors ("candidate", "baseline").
    pub fn of_named(sample: &'static str, values: &[f64]) -> Result<Self, StatsError> {
        check_sample(sample, values, 1, "summary")?;
        let n = values.len();
        let mean = mean(values);
        let sd = (n >= 2).then(|| variance(values, mean).sqrt());
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        };
        Ok(Self {
            n,
            mean,
            sd,
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }

    /// Standard error of the mean, sd / √n; `None` for a single value.
    pub fn standard_error(&self) -> Option<f64> {
        self.sd.map(|sd| sd / (self.n as f64).sqrt())
    }
}

/// Fails unless `values` has at least `min` values, all finite.
pub(crate) fn check_sample(
    sample: &'static str,
    values: &[f64],
    min: usize,
    statistic: &'static str,
) -> Result<(), StatsError> {
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(StatsError::NonFinite {
            sample,
            index,
            value,
        });
    }
    if values.len() < min {
        return Err(StatsError::TooFew {
            sample,
            n: values.len(),
            min,
            statistic,
        });
    }
    Ok(())
}

/// Arithmetic mean. Two-pass (mean, then a correction term) so that samples with a
/// large common offset, such as times near 80 000 ms that differ by tens of ms, keep
/// their precision.
pub(crate) fn mean(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    let correction = values.iter().map(|v| v - first).sum::<f64>() / n;
    first + correction
}

/// Sample variance (n − 1 in the denominator) about a given mean, by the corrected
/// two-pass algorithm (Chan, Golub & LeVeque 1983), which stays accurate when the
/// spread is tiny relative to the values. Needs n ≥ 2.
pub(crate) fn variance(values: &[f64], mean: f64) -> f64 {
    let n = values.len() as f64;
    let (sum_sq, sum) = values.iter().fold((0.0, 0.0), |(sq, s), v| {
        let d = v - mean;
        (sq + d * d, s + d)
    });
    (sum_sq - sum * sum / n) / (n - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_value_has_no_sd() {
        let s = Summary::of(&[3.2]).unwrap();
        assert_eq!(s.n, 1);
        assert_eq!(s.sd, None);
        assert_eq!(s.median, 3.2);
        assert_eq!(s.standard_error(), None);
    }

    #[test]
    fn even_median_is_midpoint() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!((s.min, s.max), (1.0, 4.0));
    }

    #[test]
    fn empty_and_nan_are_errors() {
        assert!(matches!(
            Summary::of(&[]),
            Err(StatsError::TooFew { n: 0, .. })
        ));
        assert!(matches!(
            Summary::of(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            Summary::of(&[f64::INFINITY]),
            Err(StatsError::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn variance_keeps_precision_with_large_offset() {
        let xs = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let s = Summary::of(&xs).unwrap();
        assert!((s.sd.unwrap() - 30.0f64.sqrt()).abs() < 1e-9);
    }
}
