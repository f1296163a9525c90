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
