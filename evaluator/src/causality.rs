//! The causality probe: the one anti-gaming check that needs the trained model, so the
//! harness runs it after training, off the clock; its result goes into run.json and the
//! `causality` check of summary.json (speedcert-bundle) reads it from there.

use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use speedcert_bundle::run::CausalityResult;

use crate::data::EvalSet;
use crate::submission::Submission;

/// Perturbs token t of a validation window for several t and checks that no logit
/// before t moves: a submission whose predictions look at the future fails.
pub fn causality_probe<B: AutodiffBackend, S: Submission<B>>(
    sub: &S,
    set: &EvalSet,
    device: &B::Device,
) -> CausalityResult {
    let (inputs, _) = set.batch::<B::InnerBackend>(0, 1, device);
    let [_, t] = inputs.dims();
    let base: Vec<i64> = inputs
        .into_data()
        .convert::<i64>()
        .to_vec()
        .expect("int tokens");
    let to_tensor = |v: Vec<i64>| {
        Tensor::<B::InnerBackend, 2, Int>::from_data(TensorData::new(v, [1, t]), device)
    };
    let reference = sub.logits(to_tensor(base.clone()));
    let vocab = reference.dims()[2] as i64;
    let logit_scale: f64 = reference.clone().abs().max().into_scalar().elem::<f64>();
    let mut positions: Vec<usize> = vec![1, t / 4, t / 2, t - 1];
    positions.retain(|&p| p > 0 && p < t);
    positions.dedup();
    let mut max_leak = 0.0f64;
    for &p in &positions {
        let mut perturbed = base.clone();
        perturbed[p] = (perturbed[p] + 1 + vocab / 2) % vocab;
        let out = sub.logits(to_tensor(perturbed));
        let before = (out.narrow(1, 0, p) - reference.clone().narrow(1, 0, p)).abs();
        let leak: f64 = before.max().into_scalar().elem::<f64>();
        max_leak = max_leak.max(if leak.is_nan() { f64::INFINITY } else { leak });
    }
    CausalityResult {
        passed: CausalityResult::within_tolerance(max_leak, logit_scale),
        max_leak,
        probed_positions: positions,
        logit_scale,
    }
}

/// Logits moved by more than this fraction of their scale (or 1e-5 absolute) between two
/// evaluations of the same probe batch mean the model changed: recomputing the same
/// forward pass on the same weights agrees far more closely, and one training step of
/// any useful learning rate moves logits by far more.
pub const UNCHANGED_REL_TOL: f64 = 1e-4;

/// The submission's logits on a fixed probe window, kept to compare after work done off
/// the clock (validation passes, the held-out pass, the causality probe): a submission
/// that trains inside `logits` changes them.
pub struct ModelProbe<B: AutodiffBackend> {
    tokens: Tensor<B::InnerBackend, 2, Int>,
    logits: Vec<f32>,
    scale: f64,
}

impl<B: AutodiffBackend> ModelProbe<B> {
    /// Probes on the last window of `set`, read through the submission's own `logits`.
    pub fn take<S: Submission<B>>(sub: &S, set: &EvalSet, device: &B::Device) -> Self {
        let (tokens, _) = set.batch::<B::InnerBackend>(set.windows().saturating_sub(1), 1, device);
        let logits = Self::read(sub, &tokens);
        let scale = logits
            .iter()
            .fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
        Self {
            tokens,
            logits,
            scale,
        }
    }

    pub(crate) fn read<S: Submission<B>>(
        sub: &S,
        tokens: &Tensor<B::InnerBackend, 2, Int>,
    ) -> Vec<f32> {
        sub.logits(tokens.clone())
            .into_data()
            .convert::<f32>()
            .to_vec()
            .unwrap_or_default()
    }

    /// The probe window, to read another replica's logits on.
    pub fn tokens(&self) -> burn::tensor::TensorData {
        self.tokens.to_data()
    }

    /// Largest difference between the probe's logits and `now` (infinite for a shape
    /// mismatch or a NaN), and the tolerance it is held to.
    fn distance(&self, now: &[f32]) -> (f64, f64) {
        let moved = if now.len() == self.logits.len() {
            self.logits
                .iter()
                .zip(now)
                .map(|(a, b)| f64::from(a - b).abs())
                .fold(
                    0.0f64,
                    |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
                )
        } else {
            f64::INFINITY
        };
        (moved, (UNCHANGED_REL_TOL * self.scale).max(1e-5))
    }

    /// `Err` naming `what` when the logits moved beyond [`UNCHANGED_REL_TOL`].
    pub fn unchanged_after<S: Submission<B>>(&self, sub: &S, what: &str) -> Result<(), String> {
        let (moved, tolerance) = self.distance(&Self::read(sub, &self.tokens));
        if moved <= tolerance {
            Ok(())
        } else {
            Err(format!(
                "the model changed during {what}, off the clock: logits on a fixed probe window moved by {moved:.3e} (tolerance {tolerance:.1e}); a submission may not train while it is being evaluated"
            ))
        }
    }

    /// `Err` when `logits`, another replica's on [`ModelProbe::tokens`], differ from the
    /// probe's beyond the same tolerance: replicas of one data-parallel run must agree.
    pub fn agrees(&self, logits: &[f32], rank: usize, when: &str) -> Result<(), String> {
        let (moved, tolerance) = self.distance(logits);
        if moved <= tolerance {
            Ok(())
        } else {
            Err(format!(
                "rank {rank}'s replica differs from rank 0's {when}: logits on a fixed probe window differ by {moved:.3e} (tolerance {tolerance:.1e}); every rank must start from rank 0's weights (Ranks::broadcast) and average its gradients with Ranks::all_reduce before each step"
            ))
        }
    }
}
