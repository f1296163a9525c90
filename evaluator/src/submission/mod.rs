//! The submission contract: what a training recipe may do, and what it may not see.
//!
//! A submission gets the track, a device and its seed in an *untimed* `init` (which has
//! no access to training data, so only set-up and kernel warm-up on random tokens can
//! hide there), then pulls every training batch from the harness's [`TrainStream`] in
//! timed `train_step`s. It never sees a path or a byte of validation data: the harness
//! computes validation loss itself from the submission's logits.

pub mod reference;

use std::marker::PhantomData;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::backend::BackendChoice;
use crate::data::TrainStream;
use crate::harness::{self, RunObserver, RunOptions, RunOutcome};
use crate::track::{Track, TrackSpec};

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

/// Object-safe face of a [`Family`], so the registry can hold different submissions.
pub trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn source_sha256(&self) -> String;
    fn run(
        &self,
        track: &Track,
        backend: BackendChoice,
        opts: &RunOptions,
        observer: &dyn RunObserver,
    ) -> RunOutcome;
}

pub struct Registered<F: Family>(pub F, PhantomData<F>);

impl<F: Family> Registered<F> {
    pub fn new(family: F) -> Self {
        Self(family, PhantomData)
    }
}

impl<F: Family> Entry for Registered<F> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn description(&self) -> &'static str {
        self.0.description()
    }
    fn source_sha256(&self) -> String {
        hex::encode(Sha256::digest(self.0.source().as_bytes()))
    }
    fn run(
        &self,
        track: &Track,
        backend: BackendChoice,
        opts: &RunOptions,
        observer: &dyn RunObserver,
    ) -> RunOutcome {
        let identity = harness::Identity {
            submission: self.name().to_owned(),
            submission_sha256: self.source_sha256(),
        };
        crate::with_backend!(backend, B, device, {
            harness::run::<B, F::For<B>>(track, &device, backend, &identity, opts, observer)
        })
    }
}

/// The submissions this binary can run, by name. Downstream binaries (a submitter's own
/// crate, the adversarial test binary) extend it with [`Registry::with`].
pub struct Registry {
    entries: Vec<Box<dyn Entry>>,
}

impl Registry {
    /// The submissions shipped with speedcert.
    pub fn builtin() -> Self {
        Self {
            entries: Vec::new(),
        }
        .with(reference::Reference)
        .with(reference::ReferenceFast)
    }

    pub fn with<F: Family>(mut self, family: F) -> Self {
        self.entries.retain(|e| e.name() != family.name());
        self.entries.push(Box::new(Registered::new(family)));
        self
    }

    pub fn get(&self, name: &str) -> Option<&dyn Entry> {
        self.entries
            .iter()
            .find(|e| e.name() == name)
            .map(|e| e.as_ref())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name()).collect()
    }

    pub fn entries(&self) -> impl Iterator<Item = &dyn Entry> {
        self.entries.iter().map(|e| e.as_ref())
    }
}
