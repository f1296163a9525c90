//! plan.json: what a certification will run, fixed before the first run so that seeds
//! cannot be chosen after seeing results, and so an interrupted certification resumes
//! exactly where it stopped.

use serde::{Deserialize, Serialize};
use speedcert_track::DeviceKind;

use crate::run::Role;

pub const PLAN_SCHEMA: &str = "speedcert/plan/v1";

/// Which times the candidate's are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeBaseline {
    /// The record's submission rerun on this machine, interleaved A B A B.
    SameMachine,
    /// The times stored in the record's bundle (machines differ: use with care).
    StoredRecord,
    /// No baseline: only the loss test can be made.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub index: usize,
    pub role: Role,
    pub submission: String,
    pub seed: u64,
    pub heldout_seed: u64,
}

/// The record bundle's times, when compared against stored results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBaseline {
    pub bundle: String,
    /// sha256 of the record bundle's attestation.dsse.json: which signed result this is.
    pub attestation_sha256: String,
    pub submission: String,
    pub times_ms: Vec<f64>,
    /// The record's final validation losses, same runs as `times_ms` (nightly drift
    /// compares losses too). Absent in plans written before nightly existed.
    #[serde(default)]
    pub val_losses: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: String,
    pub track: String,
    pub track_sha256: String,
    pub submission: String,
    pub submission_sha256: String,
    pub baseline_submission: Option<String>,
    pub baseline_submission_sha256: Option<String>,
    pub comparison: TimeBaseline,
    pub stored_baseline: Option<StoredBaseline>,
    pub device: DeviceKind,
    pub created_at: String,
    pub slots: Vec<Slot>,
}
