//! For a submission's own tests: a tiny track and a learnable token stream on the CPU,
//! so a recipe can be checked to train before it is certified. Nothing here is used by
//! the referee: a certification trains on the track's real stream.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::AutodiffBackend;
use speedcert_track::{ModelSpec, Precision, RecipeSpec};

use crate::{InitContext, StreamError, Submission, TokenSource, TrackView, TrainStream};

/// The CPU backend speedcert trains on.
pub type CpuBackend = Autodiff<Flex>;

/// A track small enough to train in a second: 64 tokens, one layer, sequences of 16.
pub fn tiny_track(steps: usize) -> TrackView {
    TrackView {
        name: "sdk-testing".into(),
        model: ModelSpec {
            vocab_size: 64,
            n_layer: 1,
            n_head: 2,
            d_model: 32,
            seq_len: 16,
            mlp_ratio: 4,
            rope_theta: 10_000.0,
        },
        reference: RecipeSpec {
            batch_size: 8,
            micro_batch_size: None,
            steps,
            learning_rate: 1e-2,
            warmup_steps: 2,
            cooldown_frac: 0.3,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.95,
            precision: Precision::F32,
        },
        target_val_loss: 1.0,
        token_budget: None,
        validation_every_steps: steps.max(1),
    }
}

/// Tokens `0, 1, 2, ...` modulo a small period: a next-token rule any model can learn.
pub struct CyclicTokens {
    next: u16,
    period: u16,
}

impl CyclicTokens {
    pub fn new(period: u16) -> Self {
        Self {
            next: 0,
            period: period.max(1),
        }
    }
}

impl TokenSource for CyclicTokens {
    fn fill(&mut self, out: &mut [u16]) -> Result<(), StreamError> {
        for t in out {
            *t = self.next;
            self.next = (self.next + 1) % self.period;
        }
        Ok(())
    }
}

/// Trains `S` on [`tiny_track`] for `steps` steps (or until it says it is finished) and
/// returns the train loss each step reported.
pub fn train_losses<B: AutodiffBackend, S: Submission<B>>(steps: usize) -> Vec<f64> {
    let track = tiny_track(steps);
    let device = B::Device::default();
    let ctx = InitContext {
        track: &track,
        device: &device,
        seed: 1,
        run_index: 0,
        ranks: crate::Ranks::SOLO,
    };
    let mut sub = S::init(&ctx).expect("init");
    let mut stream = TrainStream::<B>::new(Box::new(CyclicTokens::new(37)), device.clone(), None);
    let mut losses = Vec::new();
    for step in 0..steps {
        if sub.finished(step) {
            break;
        }
        let report = sub.train_step(&mut stream, step).expect("train_step");
        losses.extend(report.train_loss);
    }
    losses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ReferenceRun;

    #[test]
    fn the_reference_learns_the_cyclic_stream() {
        let losses = train_losses::<CpuBackend, ReferenceRun<CpuBackend>>(30);
        assert_eq!(losses.len(), 30);
        let (first, last) = (losses[0], losses[29]);
        assert!(last < first * 0.5, "loss {first} -> {last}");
    }
}
