//! The submissions a binary can run, by name: each [`Family`] wrapped as an object-safe
//! [`Entry`] that runs it through the harness on the chosen backend. Kept apart from
//! the submission contract so a submission depends on the contract only, and the
//! harness on neither.

use std::marker::PhantomData;

use sha2::{Digest, Sha256};

use crate::backend::BackendChoice;
use crate::harness::{self, RunObserver, RunOptions, RunOutcome};
use crate::submission::{Family, reference};
use crate::track::Track;

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
