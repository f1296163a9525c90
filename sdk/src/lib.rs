//! speedcert-sdk: the submission contract, and nothing of the referee.
//!
//! A submission is a crate that depends on this one. It implements [`Submission`] for
//! every autodiff backend and names itself through a [`Family`]; speedcert generates the
//! runner's `main`, builds it from the submission's source and runs it as a fenced child
//! process. What a submission gets:
//!
//! * an *untimed* `init` with a [`TrackView`]: the model shape, the reference recipe and
//!   the budgets, but no seed of the track's data, no path and nothing of the held-out
//!   slice, and no handle on data, so only set-up and kernel warm-up on random tokens can
//!   hide there;
//! * timed `train_step`s that pull every training batch from the harness's
//!   [`TrainStream`];
//! * never a byte of validation data: the harness computes validation loss itself from
//!   the submission's logits;
//! * on a machine with several devices, one replica per device ([`Ranks`]), each with its
//!   slice of every batch; the submission averages gradients across them.
//!
//! [`model`] and [`reference`] are the track's reference GPT and AdamW recipe, the
//! starting point every track's records are measured against.

pub mod model;
pub mod ranks;
pub mod reference;
pub mod stream;
pub mod testing;
pub mod view;

pub use burn;
pub use ranks::Ranks;
pub use speedcert_track::{ModelSpec, Precision, RecipeSpec};
pub use stream::{Batch, Dealer, StreamError, TokenSource, TrainStream};
pub use view::TrackView;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};
use thiserror::Error;

/// What `init` may know: the redacted track, the device and this run's seed; no data.
pub struct InitContext<'a, B: AutodiffBackend> {
    pub track: &'a TrackView,
    pub device: &'a B::Device,
    /// This run's seed; every run of a certification gets its own.
    pub seed: u64,
    /// Position of this run in its certification (0 for a lone `speedcert run`).
    pub run_index: usize,
    /// This replica among the run's data-parallel ranks ([`Ranks::SOLO`] on one device).
    /// Every rank's `init` gets the same seed, so replicas start equal; the harness
    /// checks that they still agree when training ends.
    pub ranks: Ranks,
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
    Data(#[from] StreamError),
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
    /// True once the submission's own schedule is done (`step` steps have run). Called on
    /// the clock: work done here is training time.
    fn finished(&self, step: usize) -> bool;
    /// Next-token logits `[batch, seq, vocab]`; the harness computes losses from them.
    /// Called off the clock, so it must not change the model: the harness checks that
    /// validation leaves the logits on a probe batch unchanged.
    fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3>;
}

/// A submission for every backend: what a runner is generated for. `For<B>` is the
/// concrete type.
pub trait Family: Send + Sync + 'static {
    type For<B: AutodiffBackend>: Submission<B>;
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The built-in submissions' source text, digested as their identity. A submission
    /// built from a folder is identified by the digest speedcert computes of the folder
    /// itself; what it returns here is ignored.
    fn source(&self) -> &'static str {
        ""
    }
}
