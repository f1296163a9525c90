//! The memory a training step of a track's model needs at its peak, estimated before a
//! run so that a recipe that cannot fit its device is refused in words and numbers
//! instead of dying of an out-of-memory error hours into a certification.
//!
//! The counts follow the reference GPT's forward pass (sdk/src/model.rs) as burn's
//! autodiff keeps it for the backward pass, with attention computed naively (burn 0.21's
//! `attention` materialises the `[batch, head, seq, seq]` scores on every backend), and
//! the multipliers were checked against peaks measured on the CPU (tests/tests/memory.rs).

use serde::{Deserialize, Serialize};

use crate::{ModelSpec, Precision, RecipeSpec};

/// Values kept per token and layer in units of `d_model`: the block's input, two RMSNorm
/// inputs and outputs, the fused QKV output and its three contiguous copies, q and k
/// normalised and rotated, the attention output and the projections' inputs.
const PER_D: u64 = 25;
/// Values kept per token and layer in units of the MLP width (`mlp_ratio * d_model`): the
/// up-projection's output, its ReLU, the square and the down-projection's input.
const PER_MLP: u64 = 4;
/// Values kept per token, layer and head in units of `seq_len`: the attention scores,
/// masked, and their softmax, as burn's op-by-op attention kept them. The attention node
/// of vendor/burn-autodiff keeps only the softmax, so this over-plans; it stays because
/// verify recomputes run.json's memory.plan with it (tests/tests/memory.rs).
const PER_SCORES: u64 = 3;
/// Logit-sized values alive at once in the loss's backward pass: the logits, their log
/// softmax (f32) and one gradient of their size (measured: 2.98 on the CPU with a
/// 4,096-token vocabulary, tests/tests/memory.rs).
const PER_LOGIT: u64 = 3;

/// Bytes by part; `total` is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPlan {
    /// Sequences per forward and backward pass the plan is for.
    pub micro_batch: u64,
    /// Parameters, f32.
    pub parameters: u64,
    /// One gradient per parameter, f32.
    pub gradients: u64,
    /// AdamW's two moments per parameter, f32.
    pub optimizer: u64,
    /// Activations kept for the backward pass of one micro-batch, in the run's precision.
    pub activations: u64,
    /// Logits of one micro-batch and what the loss keeps of them, f32.
    pub logits: u64,
    pub total: u64,
}

impl MemoryPlan {
    /// The plan for each device of a run with `ranks` data-parallel ranks, one per
    /// device: a rank's passes hold at most its share of the batch.
    pub fn per_rank(model: &ModelSpec, recipe: &RecipeSpec, ranks: usize) -> Self {
        let mut share = recipe.clone();
        share.micro_batch_size = Some(recipe.rank_micro_batch(ranks));
        Self::estimate(model, &share)
    }

    /// The plan for `recipe` on `model`: one pass of `recipe.micro_batch()` sequences.
    pub fn estimate(model: &ModelSpec, recipe: &RecipeSpec) -> Self {
        let [v, l, h, d, t, r] = [
            model.vocab_size,
            model.n_layer,
            model.n_head,
            model.d_model,
            model.seq_len,
            model.mlp_ratio,
        ]
        .map(|x| x as u64);
        let micro_batch = recipe.micro_batch() as u64;
        let tokens = micro_batch.saturating_mul(t);
        let params = (2 * v * d).saturating_add(l.saturating_mul((4 + 2 * r) * d * d));
        let element = match recipe.precision {
            Precision::F32 => 4,
            Precision::Bf16 => 2,
        };
        let per_token_layer = (PER_D * d)
            .saturating_add(PER_MLP * r * d)
            .saturating_add(PER_SCORES * h * t);
        let activations = tokens
            .saturating_mul(l)
            .saturating_mul(per_token_layer)
            .saturating_mul(element);
        let logits = tokens.saturating_mul(v).saturating_mul(PER_LOGIT * 4);
        let [parameters, gradients, optimizer] = [4, 4, 8].map(|b| params.saturating_mul(b));
        Self {
            micro_batch,
            parameters,
            gradients,
            optimizer,
            activations,
            logits,
            total: [parameters, gradients, optimizer, activations, logits]
                .into_iter()
                .fold(0u64, u64::saturating_add),
        }
    }

    /// Why the plan cannot fit `device_bytes`, in words and numbers; `None` when it fits.
    pub fn refusal(&self, device_bytes: u64, device: &str) -> Option<String> {
        (self.total > device_bytes).then(|| {
            format!(
                "a training step needs about {} ({} parameters, {} gradients, {} optimizer \
                 state, {} activations and {} logits for a micro-batch of {} sequences) but \
                 {device} has {}; set reference.micro_batch_size to a smaller divisor of the batch",
                gib(self.total),
                gib(self.parameters),
                gib(self.gradients),
                gib(self.optimizer),
                gib(self.activations),
                gib(self.logits),
                self.micro_batch,
                gib(device_bytes),
            )
        })
    }
}

/// Bytes as GiB with two decimals, the unit device memory is sold in.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Track;
    use std::path::Path;

    /// An H100 80GB HBM3 as NVML reports it: 81,559 MiB.
    const H100: u64 = 81_559 << 20;

    fn fineweb() -> Track {
        Track::parse(
            include_str!("../../records/tracks/fineweb-gpt2-1xh100.toml"),
            Path::new("records/tracks/fineweb-gpt2-1xh100.toml"),
        )
        .unwrap()
    }

    #[test]
    fn the_speedrun_batch_fits_an_h100_only_in_micro_batches() {
        let spec = fineweb().spec;
        let plan = MemoryPlan::estimate(&spec.model, &spec.reference);
        assert_eq!(plan.micro_batch, 16);
        assert_eq!(plan.refusal(H100, "GPU 0"), None, "{plan:?}");

        let mut whole = spec.reference.clone();
        whole.micro_batch_size = None;
        let plan = MemoryPlan::estimate(&spec.model, &whole);
        let why = plan.refusal(H100, "GPU 0 (NVIDIA H100 80GB HBM3)").unwrap();
        assert!(
            why.contains("micro-batch of 512 sequences")
                && why.contains("GPU 0 (NVIDIA H100 80GB HBM3) has 79.65 GiB")
                && why.contains("reference.micro_batch_size"),
            "{why}"
        );
        // The f32 logits of 512 x 1024 tokens alone are 105 GB (issue 18's figure).
        assert!(plan.logits >= 512 * 1024 * 50304 * 4, "{plan:?}");
        assert!(plan.total > 1000 << 30, "{plan:?}");
    }

    #[test]
    fn the_parts_add_up_and_scale_with_the_micro_batch() {
        let spec = fineweb().spec;
        let mut recipe = spec.reference.clone();
        let at = |m: usize, r: &mut RecipeSpec| {
            r.micro_batch_size = Some(m);
            MemoryPlan::estimate(&spec.model, r)
        };
        let (a, b) = (at(8, &mut recipe), at(16, &mut recipe));
        for p in [a, b] {
            let sum = p.parameters + p.gradients + p.optimizer + p.activations + p.logits;
            assert_eq!(p.total, sum);
        }
        assert_eq!(b.activations, 2 * a.activations);
        assert_eq!(b.logits, 2 * a.logits);
        assert_eq!((a.parameters, a.optimizer), (b.parameters, b.optimizer));
    }
}
