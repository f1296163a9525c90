//! `runs/run-NNN/run.json`: one timed run, as the harness wrote it.

use serde::{Deserialize, Serialize};
use speedcert_track::memory::MemoryPlan;
use speedcert_track::{DeviceKind, Precision};

use crate::env::Environment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Candidate,
    Baseline,
}

impl Role {
    /// The name used in run.json, on the `--role` command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Baseline => "baseline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
}

/// `runs/run-NNN/run.json` (docs/bundle-format.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: String,
    pub track: String,
    pub track_sha256: String,
    pub submission: String,
    pub submission_sha256: String,
    pub role: Role,
    pub run_index: usize,
    pub seed: u64,
    pub heldout_seed: Option<u64>,
    pub device: DeviceKind,
    pub precision: Precision,
    pub status: RunStatus,
    pub failure: Option<String>,
    pub started_at: String,
    pub steps: usize,
    pub train_tokens: u64,
    pub train_time_ms: f64,
    /// `train_tokens / train_time`, for readers of one run.json. Derived, so bundle readers
    /// recompute and compare it ([`RunRecord::throughput_problem`]); absent in runs written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_tokens_per_s: Option<f64>,
    pub val_time_ms: f64,
    pub init_time_ms: f64,
    pub time_to_target_ms: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub heldout_val_loss: Option<f64>,
    pub target_val_loss: f64,
    pub loss_floor: Option<f64>,
    pub reached_target: bool,
    pub official: bool,
    pub throttled: bool,
    /// The final model's causality probe; `None` when the run failed before it.
    pub causality: Option<CausalityResult>,
    pub env: Environment,
    /// sha256 of steps.csv and gpu.csv as the harness wrote them, so a log edited after the
    /// run (even under a fresh signature) no longer matches its run.json. Set by
    /// [`crate::io::write_run`]; absent in runs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_sha256: Option<String>,
    /// The fences the run's process was in when the submission's code ran (names from
    /// `speedcert::fence`: `network-namespace`, `landlock-filesystem`, ...); empty for a
    /// run outside any fence, as built-in submissions run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fences: Vec<String>,
    /// The synthetic language seed the run used when it was not the track's own (a
    /// certification's secret language, plan.json's `language_seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_seed: Option<u64>,
    /// What the track's recipe was planned to need and what the run used (absent in runs
    /// made before memory was planned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<RunMemory>,
    /// Devices the run trained on. The `gpu_count` pin checks this, not only the machine:
    /// a run on one GPU of an 8-GPU machine is not an 8-GPU run. Absent in runs written
    /// before it was recorded, which, like every run of the harness so far, trained on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<u32>,
    /// Data-parallel ranks the run trained with: one per device on GPUs, threads sharing
    /// the one device on the CPU. Absent for a run on one rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<u32>,
    /// Where the held-out slice was read on a track with a held-out shard
    /// (`data.heldout`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout_window: Option<HeldoutWindow>,
    /// What the referee measured of a command submission's run (its wall time, exit code
    /// and log digest); `None` for a run of the harness. A run with it reports its own
    /// clock and loss ([`crate::command`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<crate::command::CommandRun>,
    /// The shards of a shard track the run checked before its clock started, with the
    /// digest each matched and where that digest came from; empty for a synthetic track
    /// and in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataShard>,
}

/// run.json `data[]`: one shard a run read, as checked before its clock started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataShard {
    pub name: String,
    pub sha256: String,
    pub digest: DigestOrigin,
    /// When the data lock first saw the shard (a `first_use` digest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

/// The held-out slice of a run on a track with a held-out shard: `heldout_tokens` (and
/// one more for the last target) from `offset`, which
/// [`speedcert_track::heldout_offset`] gives from the run's held-out seed and
/// `shard_tokens`, so verify recomputes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldoutWindow {
    pub shard: String,
    /// Tokens the shard holds.
    pub shard_tokens: u64,
    /// First token of the slice in the shard.
    pub offset: u64,
}

/// Where the digest a shard was checked against came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestOrigin {
    /// The track pins it.
    Pinned,
    /// The data lock recorded it when the shard was first fetched (trust on first use): it
    /// shows the shard did not change since, not that it is the right data.
    FirstUse,
}

/// The memory plan a run was checked against before training, and the measured peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMemory {
    /// The estimate for the track's reference recipe on its model.
    pub plan: MemoryPlan,
    /// Memory the device offered when the run started: the machine's available memory
    /// for a CPU run, GPU 0's total for a CUDA run (`None` when it could not be read, and
    /// then the plan was not enforced).
    pub device_bytes: Option<u64>,
    /// Resident memory of the process before the submission's `init` (CPU runs).
    pub baseline_bytes: Option<u64>,
    /// The process's peak resident memory at the end of training (CPU runs; `None` on
    /// CUDA, where host memory says nothing about the device's).
    pub peak_bytes: Option<u64>,
}

pub const RUN_SCHEMA: &str = "speedcert/run/v1";

/// Training tokens per second of training time; `None` before any timed step.
pub fn tokens_per_s(train_tokens: u64, train_time_ms: f64) -> Option<f64> {
    (train_time_ms > 0.0).then(|| train_tokens as f64 / (train_time_ms / 1e3))
}

impl RunRecord {
    /// Devices the run trained on ([`RunRecord::devices`]; one when not recorded).
    pub fn trained_devices(&self) -> u32 {
        self.devices.unwrap_or(1)
    }

    /// Why the stored `train_tokens_per_s` is not what the record's tokens and time give, if
    /// it is not (relative tolerance 1e-9: JSON round-trips f64 exactly, so only an edit
    /// differs).
    pub fn throughput_problem(&self) -> Option<String> {
        let stored = self.train_tokens_per_s?;
        let recomputed = tokens_per_s(self.train_tokens, self.train_time_ms);
        match recomputed {
            Some(r) if (stored - r).abs() <= 1e-9 * r.abs().max(1.0) => None,
            _ => Some(format!(
                "train_tokens_per_s is {stored}, but train_tokens / train_time_ms gives {}",
                recomputed.map_or("nothing (no training time)".into(), |r| r.to_string())
            )),
        }
    }
}

/// What perturbing one input token did to the logits of earlier positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalityResult {
    pub passed: bool,
    /// Largest absolute change of any logit *before* a perturbed position.
    pub max_leak: f64,
    /// Positions that were perturbed.
    pub probed_positions: Vec<usize>,
    /// Largest absolute logit seen, for scale.
    pub logit_scale: f64,
}

/// A leak larger than this fraction of the logit scale (or 1e-4 absolute) fails:
/// enough slack for reduced-precision kernels, far below any real information leak.
pub const CAUSALITY_REL_TOL: f64 = 1e-3;

impl CausalityResult {
    /// Whether `max_leak` is within [`CAUSALITY_REL_TOL`] of `logit_scale`: the rule the
    /// probe applies when it sets `passed`, and that readers apply again to check it.
    pub fn within_tolerance(max_leak: f64, logit_scale: f64) -> bool {
        max_leak <= (CAUSALITY_REL_TOL * logit_scale).max(1e-4)
    }
}
