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
    /// The interleaved pair this slot belongs to (one candidate and one baseline run
    /// back to back, in an order drawn per pair); `None` for an unpaired run and in plans
    /// written before pairing. The paired time test pairs runs by this number only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<usize>,
}

/// How the slots are run, which decides whether verify can hold the journal to plan
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// One after another in slot order, on this machine: seals must follow plan order.
    Sequential,
    /// As Slurm array tasks, in any order: seals are checked once-only, not for order.
    Parallel,
}

/// Where this certification stands in the certifier's attempt ledger when it was planned
/// ([`crate::ledger`]): how many earlier attempts of the same submission on the same
/// track the ledger held, so a record's attempt count can be checked against the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first certification of this submission digest on this track.
    pub number: usize,
    /// sha256 of the ledger's last line before this attempt's (empty for an empty ledger).
    pub ledger_head_sha256: String,
}

/// The record bundle's times, when compared against stored results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBaseline {
    pub bundle: String,
    /// sha256 of the record bundle's attestation.dsse.json: which signed result this is.
    pub attestation_sha256: String,
    pub submission: String,
    pub times_ms: Vec<f64>,
    /// [`crate::env::Environment::machine_fingerprint`] of the record's env.json: a
    /// stored-time comparison from another machine cannot make a record unless the
    /// track allows it. `None` in plans written before this check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_fingerprint: Option<String>,
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
    /// `None` in plans written before the journal (summary v1, v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
    /// The runners built from a submission folder, one per submission that is not built
    /// into the referee (empty when both are built in). Each one's source is shipped in
    /// the bundle under its digest ([`crate::source`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builds: Vec<RunnerBuild>,
    /// The synthetic language every run of this certification trained and was validated
    /// on, drawn when the plan was made and given to each run's process on its stdin. The
    /// track's own `language_seed` is public, so a submission could have learned that
    /// language before the clock started; the floor does not depend on the seed.
    /// `None` on shard tracks and in plans written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_seed: Option<u64>,
    /// The command submissions among the candidate and baseline (empty when both train
    /// in the harness). Each one's source is shipped under its digest, like a build's.
    /// The two kinds are never mixed in one certification: times of a self-reported clock
    /// are not compared with the harness's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<crate::command::CommandSpec>,
}

/// How the referee built a submission's runner: from which source, with which tools, into
/// which binary. `verify` checks the source against the copy in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerBuild {
    /// The submission's name (its manifest's).
    pub submission: String,
    /// The source digest ([`crate::source::SourceTree::digest`]): the submission's
    /// identity in the plan and in every run.json.
    pub source_sha256: String,
    /// sha256 of the runner binary every run of the submission executed.
    pub runner_sha256: String,
    /// sha256 of the runner's Cargo.lock (the referee's lock plus the submission's crate).
    pub cargo_lock_sha256: String,
    /// `rustc -V` of the toolchain that built it.
    pub rustc: String,
    /// The speedcert revision whose harness the runner links.
    pub speedcert_revision: String,
    /// The cargo profile it was built with.
    pub profile: String,
}

impl Plan {
    /// The runner build of the submission with source digest `sha256`, if it was built
    /// from a folder.
    pub fn build_of(&self, sha256: &str) -> Option<&RunnerBuild> {
        self.builds.iter().find(|b| b.source_sha256 == sha256)
    }

    /// The command submission with source digest `sha256`, if it is one.
    pub fn command_of(&self, sha256: &str) -> Option<&crate::command::CommandSpec> {
        self.commands.iter().find(|c| c.source_sha256 == sha256)
    }

    /// Whose clock the certification's times are: self-reported when it runs commands.
    pub fn clock(&self) -> crate::command::Clock {
        if self.commands.is_empty() {
            crate::command::Clock::Harness
        } else {
            crate::command::Clock::SelfReported
        }
    }

    /// The (candidate, baseline) slot indices of each complete planned pair, by pair
    /// number.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        let mut by_pair: std::collections::BTreeMap<usize, (Option<usize>, Option<usize>)> =
            Default::default();
        for s in &self.slots {
            if let Some(p) = s.pair {
                let e = by_pair.entry(p).or_default();
                match s.role {
                    Role::Candidate => e.0 = Some(s.index),
                    Role::Baseline => e.1 = Some(s.index),
                }
            }
        }
        by_pair
            .into_values()
            .filter_map(|(c, b)| Some((c?, b?)))
            .collect()
    }
}
