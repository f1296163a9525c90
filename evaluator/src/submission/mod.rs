//! The submission contract: what a training recipe may do, and what it may not see.
//!
//! A submission gets the track, a device and its seed in an *untimed* `init` (which has
//! no access to training data, so only set-up and kernel warm-up on random tokens can
//! hide there), then pulls every training batch from the harness's [`TrainStream`] in
//! timed `train_step`s. It never sees a path or a byte of validation data: the harness
//! computes validation loss itself from the submission's logits.

pub mod reference;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};
use thiserror::Error;

use crate::data::TrainStream;
use crate::track::TrackSpec;

/// What `init` may know: no data handles.
pub struct InitContext<'a, B: AutodiffBackend> {
    pub track: &'a TrackSpec,
    pub device: &'a B::Device,
    /// This run's seed; every run of a certification gets its own.
    pub seed: u64,
    /// Position of this run in its certification (0 for a lone `speedcert run`).
    pub run_index: usize,
}

/// What a step says about itself. Informational only: the harness never trusts it for
/// the validation loss, but a non-finite train loss ends the run as failed.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    pub train_loss: Option<f64>,
    pub learning_rate: Option<f64>,
}

#[derive(Debug, Error)]
pub enum SubmissionError {
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Data(#[from] crate::data::StreamError),
}

pub trait Submission<B: AutodiffBackend>: Sized {
    /// Untimed set-up: build the model and optimizer; may warm kernels on random tokens.
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError>;
    /// One timed training step; training batches come only from `data`.
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError>;
    /// True once the submission's own schedule is done (`step` steps have run).
    fn finished(&self, step: usize) -> bool;
    /// Next-token logits `[batch, seq, vocab]`; the harness computes losses from them.
    fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3>;
}

/// A submission for every backend: the registry's unit. `For<B>` is the concrete type.
pub trait Family: Send + Sync + 'static {
    type For<B: AutodiffBackend>: Submission<B>;
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The submission's source text, digested into every bundle (identity check).
    fn source(&self) -> &'static str;
}
