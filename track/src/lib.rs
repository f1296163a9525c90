//! Track specs: the unit of comparison. A track is a TOML file in `records/tracks/`
//! that fixes the data, the reference model and recipe, the target, the hardware pins
//! and how certification is run. Records exist per track.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use speedcert_data::synthetic::SyntheticSpec;
use thiserror::Error;

pub mod memory;
mod validate;
pub use validate::{
    FieldProblem, MAX_BATCH_TOKENS, MAX_CERTIFICATION_RUNS, MAX_COPY_DISTANCE, MAX_EVAL_TOKENS,
    MAX_LANGUAGE_ENTRIES, MAX_PARAMS, MAX_RUN_TIMEOUT_S, MAX_STEPS, head_shape_problem,
    reference_params,
};

/// The track `speedcert run` uses when given none: embedded so a fresh checkout (or a
/// bare binary) trains with no file or download.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../records/tracks/synthetic-tiny.toml");
pub const EMBEDDED_DEFAULT_NAME: &str = "synthetic-tiny";

#[derive(Debug, Error)]
pub enum TrackError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: field `{field}` {problem}")]
    Invalid {
        path: PathBuf,
        field: String,
        problem: String,
    },
    /// Several values no run can train with: one line per field, each naming the file.
    #[error("{}", invalid_lines(path, problems))]
    InvalidFields {
        path: PathBuf,
        problems: Vec<FieldProblem>,
    },
    #[error(
        "no track named `{name}` (looked for {tried}); pass a path to a .toml file or one of: {known}"
    )]
    NotFound {
        name: String,
        tried: String,
        known: String,
    },
}

fn invalid_lines(path: &Path, problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {p}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parsed track, plus the exact bytes it came from (the bundle stores those).
#[derive(Debug, Clone)]
pub struct Track {
    pub spec: TrackSpec,
    /// The TOML text as read, byte for byte.
    pub source_text: String,
    /// Where it came from (`<embedded>` for the default).
    pub origin: String,
}

impl Track {
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.source_text.as_bytes()))
    }

    pub fn embedded_default() -> Self {
        Self::parse(
            EMBEDDED_DEFAULT,
            Path::new("<embedded synthetic-tiny.toml>"),
        )
        .expect("the embedded default track is valid (checked by tests)")
    }

    /// Parses and validates a track's TOML text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, TrackError> {
        let spec: TrackSpec = toml::from_str(text).map_err(|e| TrackError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        spec.validate(path)?;
        Ok(Self {
            spec,
            source_text: text.to_owned(),
            origin: path.display().to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Self, TrackError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrackError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Resolves `name_or_path`: an existing file, else `DIR/NAME.toml` in each track
    /// directory, else the embedded default by its name.
    pub fn resolve(name_or_path: &str, dirs: &[PathBuf]) -> Result<Self, TrackError> {
        let as_path = Path::new(name_or_path);
        if as_path.is_file() {
            return Self::load(as_path);
        }
        let mut tried = vec![as_path.display().to_string()];
        for dir in dirs {
            let candidate = dir.join(format!("{name_or_path}.toml"));
            if candidate.is_file() {
                return Self::load(&candidate);
            }
            tried.push(candidate.display().to_string());
        }
        if name_or_path == EMBEDDED_DEFAULT_NAME {
            return Ok(Self::embedded_default());
        }
        let mut known = vec![EMBEDDED_DEFAULT_NAME.to_owned()];
        for dir in dirs {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml")
                        && let Some(stem) = p.file_stem()
                    {
                        known.push(stem.to_string_lossy().into_owned());
                    }
                }
            }
        }
        known.sort();
        known.dedup();
        Err(TrackError::NotFound {
            name: name_or_path.to_owned(),
            tried: tried.join(", "),
            known: known.join(", "),
        })
    }
}

/// Directories searched for tracks by name: `$SPEEDCERT_TRACKS` then `records/tracks`.
pub fn default_track_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("SPEEDCERT_TRACKS") {
        dirs.extend(std::env::split_paths(&d));
    }
    dirs.push(PathBuf::from("records/tracks"));
    dirs
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub data: DataSpec,
    pub validation: ValidationSpec,
    pub model: ModelSpec,
    /// The reference submission's recipe; other submissions may read it.
    pub reference: RecipeSpec,
    pub target: TargetSpec,
    pub hardware: HardwareSpec,
    #[serde(default)]
    pub certification: CertificationSpec,
}

/// Where tokens come from. Validation and held-out slices are owned by the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DataSpec {
    /// Generated in-process from seeds: no files, a known floor.
    Synthetic(SyntheticData),
    /// modded-nanogpt token shards on disk (fetched or prepared).
    Shards(ShardData),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticData {
    /// Stream seed of the training data (the same for every run: seeds vary the init).
    pub train_seed: u64,
    /// Stream seed of the public validation slice.
    pub val_seed: u64,
    pub language: SyntheticSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardData {
    /// Folder holding the shards, relative to the working directory.
    pub dir: PathBuf,
    /// Base URL the shards are fetched from (`speedcert data fetch`).
    #[serde(default)]
    pub base_url: Option<String>,
    pub train: Vec<ShardRef>,
    pub val: Vec<ShardRef>,
    /// A shard of the same corpus that neither list holds (for FineWeb, a training shard
    /// past those the track lists), so the training stream never reads it: each run's
    /// certifier-only held-out slice is `validation.heldout_tokens` of it at an offset
    /// drawn from the run's held-out seed ([`heldout_offset`]), and overfitting the
    /// public validation slice shows. Absent: the held-out slice follows the public one
    /// in the val shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout: Option<ShardRef>,
}

/// Where a run's held-out slice of `heldout_tokens` starts in a held-out shard of
/// `shard_tokens` tokens: the run's held-out seed modulo the number of places the slice
/// (and the one token more its last target needs) fits. `None` when it does not fit.
/// One definition, for the harness that reads the slice and for verify, which recomputes
/// the offset from the plan's seed.
pub fn heldout_offset(seed: u64, shard_tokens: u64, heldout_tokens: u64) -> Option<u64> {
    let places = shard_tokens.checked_sub(heldout_tokens + 1)? + 1;
    Some(seed % places)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRef {
    pub name: String,
    /// Pinned digest; absent means trust on first use (recorded in the data lock).
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    /// Tokens in the public validation slice.
    pub tokens: u64,
    /// Tokens in the held-out slice only the certifier holds (0 disables it).
    #[serde(default)]
    pub heldout_tokens: u64,
    /// Sequences per validation forward pass.
    pub batch_size: usize,
    /// Validate every this many steps (and always after the last step).
    pub every_steps: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub vocab_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
    pub seq_len: usize,
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: usize,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
}

fn default_mlp_ratio() -> usize {
    4
}
fn default_rope_theta() -> f64 {
    10_000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

/// AdamW with linear warmup, a flat middle and a linear cooldown (the speedrun's
/// trapezoid), in steps of `batch_size` sequences of `model.seq_len` tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeSpec {
    pub batch_size: usize,
    /// Sequences per forward and backward pass; gradients of `batch_size / micro_batch_size`
    /// passes are accumulated into one optimizer step, so a batch larger than the device
    /// holds trains as one (absent: the whole batch at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_batch_size: Option<usize>,
    pub steps: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    /// Fraction of `steps` over which the learning rate decays linearly to zero.
    pub cooldown_frac: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    #[serde(default)]
    pub precision: Precision,
}

impl RecipeSpec {
    /// Sequences per forward and backward pass: `micro_batch_size`, else the whole batch.
    pub fn micro_batch(&self) -> usize {
        self.micro_batch_size.unwrap_or(self.batch_size)
    }

    /// Sequences per pass on each of `ranks` data-parallel ranks: the recipe's micro-batch,
    /// or a rank's share of the batch when that is smaller.
    pub fn rank_micro_batch(&self, ranks: usize) -> usize {
        self.micro_batch()
            .min((self.batch_size / ranks.max(1)).max(1))
    }

    /// Forward and backward passes accumulated into one optimizer step.
    pub fn passes(&self) -> usize {
        self.batch_size / self.micro_batch().max(1)
    }
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.95
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Mean final validation loss a record must be significantly below.
    pub val_loss: f64,
    /// The loss no model can beat. Synthetic tracks compute it and may omit it.
    #[serde(default)]
    pub loss_floor: Option<f64>,
    /// Training tokens a run may use (absent: unlimited).
    #[serde(default)]
    pub token_budget: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        })
    }
}

/// What official runs must be made on. Unset pins are not checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareSpec {
    pub device: DeviceKind,
    #[serde(default)]
    pub gpu_model: Option<String>,
    #[serde(default)]
    pub gpu_count: Option<u32>,
    /// Driver version prefix, e.g. "580." or "580.159".
    #[serde(default)]
    pub driver: Option<String>,
    /// CUDA driver API version prefix, e.g. "13.0".
    #[serde(default)]
    pub cuda: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificationSpec {
    #[serde(default = "default_runs")]
    pub runs: usize,
    #[serde(default = "default_p")]
    pub p_threshold: f64,
    /// A run taking longer than this (wall clock, whole child process) is killed as failed.
    #[serde(default = "default_timeout")]
    pub run_timeout_s: u64,
    /// Whether times stored in a record bundle from another machine (by env fingerprint)
    /// may make a new record. Off by default: machines differ by more than most gains.
    #[serde(default)]
    pub allow_cross_machine_baseline: bool,
    /// The fences every run must have been in for a bundle to be official (run.json
    /// `fences`). An official track names those its machines can set: a run outside them
    /// could have reached the network or the validation data. Empty: none required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_fences: Vec<Fence>,
}

/// A fence around a run of a submission's code (evaluator/src/fence.rs sets them; run.json
/// lists those in force by these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fence {
    /// A new user and network namespace: nothing but a loopback that is down.
    NetworkNamespace,
    /// Landlock on files: read the system and the track's data, write the run's folder.
    LandlockFilesystem,
    /// Landlock on TCP: no bind, no connect.
    LandlockNetwork,
    /// Landlock scopes: no signals or abstract Unix sockets out of the fence.
    LandlockScope,
    /// A seccomp filter: no sockets but Unix ones, no access to other processes' memory,
    /// no kernel interfaces a training run never needs (see evaluator/src/fence.rs).
    Seccomp,
}

impl Fence {
    pub const ALL: [Fence; 5] = [
        Fence::NetworkNamespace,
        Fence::LandlockFilesystem,
        Fence::LandlockNetwork,
        Fence::LandlockScope,
        Fence::Seccomp,
    ];

    /// The name in a track and in run.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Fence::NetworkNamespace => "network-namespace",
            Fence::LandlockFilesystem => "landlock-filesystem",
            Fence::LandlockNetwork => "landlock-network",
            Fence::LandlockScope => "landlock-scope",
            Fence::Seccomp => "seccomp",
        }
    }
}

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Default for CertificationSpec {
    fn default() -> Self {
        Self {
            runs: default_runs(),
            p_threshold: default_p(),
            run_timeout_s: default_timeout(),
            allow_cross_machine_baseline: false,
            required_fences: Vec::new(),
        }
    }
}

fn default_runs() -> usize {
    5
}
fn default_p() -> f64 {
    0.01
}
fn default_timeout() -> u64 {
    3600
}

impl TrackSpec {
    /// The floor: computed exactly for synthetic data, else as the track states.
    pub fn loss_floor(&self) -> Option<f64> {
        match &self.data {
            DataSpec::Synthetic(s) => Some(s.language.entropy_floor()),
            DataSpec::Shards(_) => self.target.loss_floor,
        }
    }

    /// Tokens of one training step of the reference recipe.
    pub fn tokens_per_step(&self) -> u64 {
        (self.reference.batch_size * self.model.seq_len) as u64
    }

    /// Refuses a track with any [`TrackSpec::problems`]: one problem as
    /// [`TrackError::Invalid`], several as [`TrackError::InvalidFields`].
    pub fn validate(&self, path: &Path) -> Result<(), TrackError> {
        let mut problems = self.problems();
        match problems.len() {
            0 => Ok(()),
            1 => {
                let FieldProblem { field, problem } = problems.remove(0);
                Err(TrackError::Invalid {
                    path: path.to_owned(),
                    field,
                    problem,
                })
            }
            _ => Err(TrackError::InvalidFields {
                path: path.to_owned(),
                problems,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_is_above_its_floor() {
        let t = Track::embedded_default();
        assert_eq!(t.spec.name, EMBEDDED_DEFAULT_NAME);
        let floor = t.spec.loss_floor().unwrap();
        assert!(
            t.spec.target.val_loss > floor + 0.1,
            "target too close to floor"
        );
    }

    #[test]
    fn malformed_field_is_named_with_the_file() {
        let text = EMBEDDED_DEFAULT.replace("val_loss = ", "val_loss = \"x\" #");
        let e = Track::parse(&text, Path::new("records/tracks/bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("records/tracks/bad.toml:"), "{e}");
        assert!(e.contains("val_loss"), "{e}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = format!("{EMBEDDED_DEFAULT}\n[extra]\nx = 1\n");
        let e = Track::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("extra"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let text = EMBEDDED_DEFAULT.replace("n_head = 2", "n_head = 3");
        let e = Track::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.d_model"), "{e}");
    }

    #[test]
    fn required_fences_parse_by_name_and_an_unknown_one_is_named() {
        let with = |list: &str| {
            let text = EMBEDDED_DEFAULT.replace(
                "[certification]\n",
                &format!("[certification]\nrequired_fences = {list}\n"),
            );
            assert_ne!(
                text, EMBEDDED_DEFAULT,
                "the track has a [certification] table"
            );
            Track::parse(&text, Path::new("t.toml"))
        };
        let t = with(r#"["network-namespace", "landlock-filesystem"]"#).unwrap();
        assert_eq!(
            t.spec.certification.required_fences,
            [Fence::NetworkNamespace, Fence::LandlockFilesystem]
        );
        // Every name as_str gives is the one a track spells.
        let all = with(&format!("{:?}", Fence::ALL.map(Fence::as_str))).unwrap();
        assert_eq!(all.spec.certification.required_fences, Fence::ALL);
        let e = with(r#"["apparmor"]"#).unwrap_err().to_string();
        assert!(
            e.contains("t.toml") && e.contains("required_fences") && e.contains("apparmor"),
            "{e}"
        );
        assert!(
            e.contains("network-namespace"),
            "the error lists the known fences: {e}"
        );
    }

    #[test]
    fn unknown_track_lists_known_ones() {
        let e = Track::resolve("nope", &[]).unwrap_err().to_string();
        assert!(e.contains("synthetic-tiny"), "{e}");
    }
}

#[cfg(test)]
mod heldout_tests {
    use super::heldout_offset;

    /// A slice of n tokens needs n + 1 (its last target); every seed lands on a place it fits.
    #[test]
    fn held_out_offsets_keep_the_slice_inside_its_shard() {
        assert_eq!(heldout_offset(7, 10, 9), Some(0));
        assert_eq!(heldout_offset(7, 10, 10), None);
        assert_eq!(heldout_offset(7, 11, 9), Some(1));
        for seed in [0, 1, 12345, u64::MAX] {
            let o = heldout_offset(seed, 4096, 1024).unwrap();
            assert!(o + 1025 <= 4096, "{seed}: {o}");
        }
    }
}
