//! Bundle verification for the tables: exactly what `speedcert verify` does
//! (speedcert-bundle: signatures against records/keys/, every file re-hashed, no file
//! added or missing, then every signed figure recomputed from the raw files).
//!
//! A bundle that cannot be verified for any reason — including a missing trust store —
//! becomes a list of reasons, never a silently counted or silently dropped row.

use std::path::{Path, PathBuf};

use speedcert_attest::TrustStore;

use crate::error::{AnalysisError, Result};

/// The outcome of verifying one bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Genuine,
    /// One line per failed check, as the verifier words it ("FAIL digest
    /// runs/run-001/run.json: sha256 is …", "FAIL statistics: the signed summary
    /// disagrees with the runs: …").
    NotGenuine(Vec<String>),
}

/// The trust store of a records folder, or why there is none.
#[derive(Debug, Clone)]
pub struct Trust {
    dir: PathBuf,
    store: Option<TrustStore>,
    /// Why no store could be used (no keys folder, no keys in it).
    missing: Option<String>,
}

/// One trusted signature suffices for the tables; co-signing thresholds are a policy
/// of `speedcert verify --threshold`, not of publication.
const THRESHOLD: usize = 1;

impl Trust {
    /// Loads every public key in `dir`. A missing or empty folder is not an error here
    /// (a records folder with no bundles needs no keys) but makes every bundle fail
    /// verification with that reason; an unreadable or private key *is* an error, since
    /// a trust store that is silently smaller than it looks is worse than none.
    pub fn load(dir: &Path) -> Result<Self> {
        let missing = |why: String| {
            Ok(Trust {
                dir: dir.to_path_buf(),
                store: None,
                missing: Some(why),
            })
        };
        if !dir.exists() {
            return missing(format!("no trusted keys: {} does not exist", dir.display()));
        }
        match TrustStore::load(dir) {
            Ok(store) => Ok(Trust {
                dir: dir.to_path_buf(),
                store: Some(store),
                missing: None,
            }),
            Err(e @ speedcert_attest::Error::EmptyTrustStore { .. }) => {
                missing(format!("no trusted keys: {e}"))
            }
            Err(e) => Err(AnalysisError::TrustStore {
                path: dir.to_path_buf(),
                problem: e.to_string(),
            }),
        }
    }

    /// The folder the keys came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loaded keys, or why there are none: the attempt ledger's lines are checked
    /// against the same keys as the bundles.
    pub fn store(&self) -> std::result::Result<&TrustStore, &str> {
        self.store
            .as_ref()
            .ok_or_else(|| self.missing.as_deref().unwrap_or("no trusted keys"))
    }

    /// The number of trusted signatures a bundle or ledger line needs here.
    pub fn threshold(&self) -> usize {
        THRESHOLD
    }

    /// Verifies the bundle folder `bundle`. Never an `Err` for a bad bundle: an
    /// unreadable one is `NotGenuine` with the read error as its reason.
    pub fn verify(&self, bundle: &Path) -> Result<Verification> {
        let Some(store) = &self.store else {
            return Ok(Verification::NotGenuine(vec![
                self.missing.clone().unwrap_or_default(),
            ]));
        };
        match speedcert_bundle::verify_bundle(bundle, store, THRESHOLD) {
            Ok(report) if report.is_genuine() => Ok(Verification::Genuine),
            Ok(report) => Ok(Verification::NotGenuine(
                report.failures().map(|c| c.to_string()).collect(),
            )),
            Err(e) => Ok(Verification::NotGenuine(vec![format!(
                "could not be verified: {e}"
            )])),
        }
    }
}
