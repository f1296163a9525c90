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

pub struct Registered<F: Family> {
    family: F,
    /// The source digest the referee computed, for a submission built from a folder;
    /// `None` for one compiled into this binary (digest of [`Family::source`]).
    source_sha256: Option<String>,
    _marker: PhantomData<F>,
}

impl<F: Family> Registered<F> {
    pub fn new(family: F) -> Self {
        Self {
            family,
            source_sha256: None,
            _marker: PhantomData,
        }
    }
}

impl<F: Family> Entry for Registered<F> {
    fn name(&self) -> &'static str {
        self.family.name()
    }
    fn description(&self) -> &'static str {
        self.family.description()
    }
    fn source_sha256(&self) -> String {
        match &self.source_sha256 {
            Some(digest) => digest.clone(),
            None => hex::encode(Sha256::digest(self.family.source().as_bytes())),
        }
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

/// A submission name that is already registered.
#[derive(Debug, thiserror::Error)]
#[error(
    "a submission named `{0}` is already registered: names are unique, and a built-in name cannot be taken"
)]
pub struct NameTaken(pub String);

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

    /// Adds a submission. A name is taken once: replacing an entry would let a binary run
    /// something else under a built-in's name (a slowed `reference` as the baseline), so a
    /// second entry of the same name is a bug in the binary and stops it at once.
    pub fn with<F: Family>(self, family: F) -> Self {
        self.try_with(family).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds the submission of a runner that speedcert generated for a submission folder
    /// (crate::runner): its identity is the digest the referee computed of the folder.
    /// `name` is the manifest's: a Family that calls itself something else stops the
    /// runner at once, before it can run under a name it was not built for.
    pub fn with_folder<F: Family>(self, family: F, name: &str, source_sha256: &str) -> Self {
        assert!(
            family.name() == name,
            "the submission's Family::name() is {:?}, but its Cargo.toml [package.metadata.speedcert] name is {name:?}; make them equal",
            family.name()
        );
        self.try_push(Box::new(Registered {
            family,
            source_sha256: Some(source_sha256.to_owned()),
            _marker: PhantomData,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Registry::with`], returning the clash instead of stopping.
    pub fn try_with<F: Family>(self, family: F) -> Result<Self, NameTaken> {
        self.try_push(Box::new(Registered::new(family)))
    }

    fn try_push(mut self, entry: Box<dyn Entry>) -> Result<Self, NameTaken> {
        if self.get(entry.name()).is_some() {
            return Err(NameTaken(entry.name().to_owned()));
        }
        self.entries.push(entry);
        Ok(self)
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
