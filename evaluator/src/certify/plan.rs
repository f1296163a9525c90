//! plan.json: what a certification will run, fixed before the first run so that seeds
//! cannot be chosen after seeing results, and so an interrupted certification resumes
//! exactly where it stopped.

use serde::{Deserialize, Serialize};

use crate::harness::Role;

pub const PLAN_SCHEMA: &str = "speedcert/plan/v1";

/// Which times the candidate's are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
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
    pub comparison: Comparison,
    pub stored_baseline: Option<StoredBaseline>,
    pub device: crate::track::DeviceKind,
    pub created_at: String,
    pub slots: Vec<Slot>,
}

/// Draws a fresh seed per slot from the OS generator, all distinct.
pub fn interleave(
    candidate: &str,
    runs: usize,
    baseline: Option<&str>,
    baseline_runs: usize,
) -> Vec<Slot> {
    let mut used = std::collections::HashSet::new();
    let mut fresh = || loop {
        let s: u64 = rand::random();
        if used.insert(s) {
            return s;
        }
    };
    let mut slots = Vec::new();
    for i in 0..runs.max(baseline_runs) {
        if i < runs {
            slots.push((Role::Candidate, candidate.to_owned()));
        }
        if let Some(b) = baseline
            && i < baseline_runs
        {
            slots.push((Role::Baseline, b.to_owned()));
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(index, (role, submission))| Slot {
            index,
            role,
            submission,
            seed: fresh(),
            heldout_seed: fresh(),
        })
        .collect()
}
