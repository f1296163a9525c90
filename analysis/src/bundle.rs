//! Reading the files of a bundle, as docs/bundle-format.md defines them.
//!
//! These structs are our own rather than the evaluator's: the analysis crate must build
//! without burn, and a reader should only insist on the fields it uses. Unknown fields
//! are ignored (the format is forward compatible) and fields that may be `null` are
//! `Option`s, so a newer writer never breaks an older reader.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{AnalysisError, Result};

/// Name of the DSSE envelope that marks a folder as a bundle.
pub const ATTESTATION_FILE: &str = "attestation.dsse.json";

/// `runs/run-NNN/run.json`: one timed run.
#[derive(Debug, Clone, Deserialize)]
pub struct RunJson {
    #[serde(default)]
    pub schema: Option<String>,
    pub track: String,
    pub submission: String,
    pub role: String,
    pub run_index: u32,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub device: Option<String>,
    pub status: String,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub train_tokens: Option<u64>,
    #[serde(default)]
    pub train_time_ms: Option<f64>,
    #[serde(default)]
    pub time_to_target_ms: Option<f64>,
    #[serde(default)]
    pub final_val_loss: Option<f64>,
    #[serde(default)]
    pub heldout_val_loss: Option<f64>,
    #[serde(default)]
    pub official: Option<bool>,
}

/// Time statistics of one side of a comparison (`summary.json` → `time.candidate`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimeSample {
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub mean_ms: Option<f64>,
    #[serde(default)]
    pub sd_ms: Option<f64>,
    #[serde(default)]
    pub min_ms: Option<f64>,
    #[serde(default)]
    pub max_ms: Option<f64>,
}

/// `summary.json` → `time`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimeStats {
    #[serde(default)]
    pub candidate: TimeSample,
    #[serde(default)]
    pub baseline: Option<TimeSample>,
    #[serde(default)]
    pub p_value: Option<f64>,
    #[serde(default)]
    pub change_pct: Option<f64>,
    #[serde(default)]
    pub ci95_diff_ms: Option<[f64; 2]>,
}

/// `summary.json` → `loss`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LossStats {
    #[serde(default)]
    pub mean: Option<f64>,
    #[serde(default)]
    pub sd: Option<f64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub p_value: Option<f64>,
}

/// `summary.json`: statistics, checks and the verdict of a certification.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryJson {
    #[serde(default)]
    pub schema: Option<String>,
    pub track: String,
    pub submission: String,
    #[serde(default)]
    pub baseline_submission: Option<String>,
    #[serde(default)]
    pub comparison: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub target_val_loss: Option<f64>,
    #[serde(default)]
    pub time: TimeStats,
    #[serde(default)]
    pub loss: Option<LossStats>,
    #[serde(default)]
    pub official: Option<bool>,
    pub verdict: String,
}

/// The fixed verdict vocabulary of docs/bundle-format.md, defined once (STYLE.md,
/// criterion.rs). Only "new record" makes a row of records.csv.
pub const VERDICT_NEW_RECORD: &str = "new record";

/// One row of `steps.csv`; only the columns the plots need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPoint {
    pub step: u64,
    pub train_time_ms: f64,
    /// Present only on steps where a validation pass ran.
    pub val_loss: Option<f64>,
}

/// A bundle read from disk (after it was verified; reading does not verify).
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle folder.
    pub path: PathBuf,
    /// sha256 (hex) of attestation.dsse.json: names the exact signed content.
    pub digest: String,
    pub summary: SummaryJson,
    /// Runs ordered by `run_index`.
    pub runs: Vec<RunJson>,
    /// Folder of each run, parallel to `runs` (for steps.csv).
    pub run_dirs: Vec<PathBuf>,
}

/// Every bundle folder under `root` (a folder holding attestation.dsse.json), sorted by
/// path so that every later step sees them in the same order on every machine.
pub fn discover_bundles(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            AnalysisError::io(path, e.into())
        })?;
        if entry.file_type().is_file()
            && entry.file_name() == ATTESTATION_FILE
            && let Some(dir) = entry.path().parent()
        {
            found.push(dir.to_path_buf());
        }
    }
    found.sort();
    Ok(found)
}

/// sha256 (lower-case hex) of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| AnalysisError::io(path, e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| AnalysisError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| AnalysisError::Json {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// Reads summary.json and every runs/*/run.json of the bundle at `dir`.
pub fn read_bundle(dir: &Path) -> Result<Bundle> {
    let digest = sha256_file(&dir.join(ATTESTATION_FILE))?;
    let summary: SummaryJson = read_json(&dir.join("summary.json"), "summary.json")?;
    let runs_dir = dir.join("runs");
    let mut run_dirs = Vec::new();
    if runs_dir.exists() {
        for entry in std::fs::read_dir(&runs_dir).map_err(|e| AnalysisError::io(&runs_dir, e))? {
            let entry = entry.map_err(|e| AnalysisError::io(&runs_dir, e))?;
            if entry.path().join("run.json").is_file() {
                run_dirs.push(entry.path());
            }
        }
    }
    let mut runs: Vec<(RunJson, PathBuf)> = Vec::with_capacity(run_dirs.len());
    for run_dir in run_dirs {
        let run: RunJson = read_json(&run_dir.join("run.json"), "run.json")?;
        runs.push((run, run_dir));
    }
    runs.sort_by(|a, b| {
        a.0.run_index
            .cmp(&b.0.run_index)
            .then_with(|| a.1.cmp(&b.1))
    });
    let (runs, run_dirs) = runs.into_iter().unzip();
    Ok(Bundle {
        path: dir.to_path_buf(),
        digest,
        summary,
        runs,
        run_dirs,
    })
}

/// Reads the step log of one run: `step,tokens,train_time_ms,train_loss,val_loss,lr`,
/// located by header name so added columns do not break it.
pub fn read_steps(path: &Path) -> Result<Vec<StepPoint>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| AnalysisError::csv(path, e))?;
    let headers = rdr
        .headers()
        .map_err(|e| AnalysisError::csv(path, e))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| AnalysisError::field(path, name, "is missing from the header"))
    };
    let (i_step, i_time, i_val) = (col("step")?, col("train_time_ms")?, col("val_loss")?);
    let mut out = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| AnalysisError::csv(path, e))?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let row = line + 2;
        let step = get(i_step).parse::<u64>().map_err(|_| {
            AnalysisError::field(
                path,
                "step",
                format!("row {row}: expected an integer, got {:?}", get(i_step)),
            )
        })?;
        let train_time_ms = get(i_time).parse::<f64>().map_err(|_| {
            AnalysisError::field(
                path,
                "train_time_ms",
                format!("row {row}: expected a number, got {:?}", get(i_time)),
            )
        })?;
        let val_loss = match get(i_val) {
            "" => None,
            s => Some(s.parse::<f64>().map_err(|_| {
                AnalysisError::field(
                    path,
                    "val_loss",
                    format!("row {row}: expected a number or empty, got {s:?}"),
                )
            })?),
        };
        out.push(StepPoint {
            step,
            train_time_ms,
            val_loss,
        });
    }
    Ok(out)
}
