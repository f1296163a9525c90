//! Anti-gaming checks. Each is a named pass/fail with a detail a person can act on;
//! certification stores them in summary.json. The ones that need the trained model
//! (causality) run inside the harness, after training, off the clock.

use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::EvalSet;
use crate::submission::Submission;

/// A named check result (summary.json `checks[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl CheckResult {
    pub fn new(name: &str, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            detail: detail.into(),
        }
    }
}

/// What perturbing one input token did to the logits of earlier positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalityResult {
    pub passed: bool,
    /// Largest absolute change of any logit *before* a perturbed position.
    pub max_leak: f64,
    /// Positions that were perturbed.
    pub probed_positions: Vec<usize>,
    /// Largest absolute logit seen, for scale.
    pub logit_scale: f64,
}

/// A leak larger than this fraction of the logit scale (or 1e-4 absolute) fails:
/// enough slack for reduced-precision kernels, far below any real information leak.
pub const CAUSALITY_REL_TOL: f64 = 1e-3;

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
    let tol = (CAUSALITY_REL_TOL * logit_scale).max(1e-4);
    CausalityResult {
        passed: max_leak <= tol,
        max_leak,
        probed_positions: positions,
        logit_scale,
    }
}
