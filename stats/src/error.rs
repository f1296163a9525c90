//! The one error type of this crate.
//!
//! Every failure is a typed value that names the sample and the problem, so the
//! evaluator can print "sample `candidate` has 1 value; welch_t needs at least 2"
//! instead of a NaN p-value leaking into a verdict.

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The sample has fewer values than the statistic needs (a t-test needs two, so
    /// that a standard deviation exists).
    #[error("sample `{sample}` has {n} value(s); {statistic} needs at least {min}")]
    TooFew {
        sample: &'static str,
        n: usize,
        min: usize,
        statistic: &'static str,
    },
    /// A value is NaN or infinite. Such a value is never silently dropped: a run that
    /// produced NaN is a failed run, and deciding that is the caller's job.
    #[error("sample `{sample}` value #{index} is not finite ({value})")]
    NonFinite {
        sample: &'static str,
        index: usize,
        value: f64,
    },
    /// Every value is identical (in both samples, for two-sample tests), so the
    /// standard error is zero and the t statistic is undefined. Reported instead of a
    /// t of ±inf because a sample with no spread is itself a sign that something
    /// (a cached result, a fixed seed) is wrong.
    #[error("{statistic}: zero variance ({detail}); the statistic is undefined")]
    ZeroVariance {
        statistic: &'static str,
        detail: String,
    },
    /// A configuration value outside its domain (a confidence level of 1.2, zero
    /// bootstrap resamples).
    #[error("invalid parameter `{name}`: {detail}")]
    InvalidParameter { name: &'static str, detail: String },
}
