//! The on-disk layout of runs and bundles (docs/bundle-format.md). Every file is written
//! to a temporary name in its folder and renamed, so a crash never leaves half a file
//! under a final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::harness::{RunOutcome, RunRecord};
use crate::telemetry::{GPU_CSV_HEADER, StepLog};

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

/// The `map_err` for an I/O failure on `path`, so every message names the file.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| BundleError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), BundleError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| BundleError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BundleError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| BundleError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// `runs/run-NNN` inside a bundle.
pub fn run_dir(bundle: &Path, index: usize) -> PathBuf {
    bundle.join("runs").join(format!("run-{index:03}"))
}

/// Creates run `index`'s folder (and `runs/`) and returns its path.
pub fn create_run_dir(bundle: &Path, index: usize) -> Result<PathBuf, BundleError> {
    let dir = run_dir(bundle, index);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

/// Writes a run's files; run.json goes last, so its presence marks a finished run.
pub fn write_run(
    dir: &Path,
    outcome: &RunOutcome,
    gpu_csv: Option<&[u8]>,
) -> Result<(), BundleError> {
    write_atomic(&dir.join("steps.csv"), &outcome.steps.to_csv())?;
    write_atomic(
        &dir.join("gpu.csv"),
        gpu_csv.unwrap_or(GPU_CSV_HEADER.as_bytes()),
    )?;
    write_json(&dir.join("run.json"), &outcome.record)
}

pub fn read_run(dir: &Path) -> Result<(RunRecord, StepLog), BundleError> {
    let record: RunRecord = read_json(&dir.join("run.json"))?;
    let steps_path = dir.join("steps.csv");
    let steps = StepLog::read_csv(&steps_path).map_err(|message| BundleError::Format {
        path: steps_path.clone(),
        message,
    })?;
    Ok((record, steps))
}
