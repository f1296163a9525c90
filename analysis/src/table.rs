//! The two published tables, records/runs.csv and records/records.csv: their row types
//! and their byte-stable CSV form.
//!
//! We write CSV ourselves (the csv crate, fixed column order, Rust's shortest
//! round-trip float formatting) instead of through polars' writer, because rerunning
//! `rebuild` must give byte-identical files and a reviewer diffs them in git.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::{AnalysisError, Result};

/// File name of the run table inside the records folder.
pub const RUNS_CSV: &str = "runs.csv";
/// File name of the record-chain table inside the records folder.
pub const RECORDS_CSV: &str = "records.csv";

/// One certified run: a row of runs.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub track: String,
    pub submission: String,
    /// "candidate" or "baseline".
    pub role: String,
    /// Bundle folder relative to the records folder, `/`-separated.
    pub bundle: String,
    /// sha256 of the bundle's attestation.dsse.json.
    pub bundle_digest: String,
    pub run_index: u32,
    pub seed: Option<u64>,
    /// "ok" or "failed".
    pub status: String,
    pub train_time_ms: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub heldout_val_loss: Option<f64>,
    pub train_tokens: Option<u64>,
    /// Day the run started (UTC, YYYY-MM-DD).
    pub date: String,
    pub device: String,
    pub official: bool,
    /// Verdict of the bundle the run belongs to.
    pub verdict: String,
}

impl RunRow {
    /// True for a run that finished with a time and a loss, i.e. one that can be placed
    /// on the frontier.
    pub fn is_measured(&self) -> bool {
        self.status == "ok"
            && self.train_time_ms.is_some_and(f64::is_finite)
            && self.final_val_loss.is_some_and(f64::is_finite)
    }
}

/// One record of a track's chain: a row of records.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRow {
    pub track: String,
    /// 1-based position in the track's chain.
    pub number: u32,
    /// Day the bundle was certified (YYYY-MM-DD).
    pub date: String,
    pub submission: String,
    pub baseline_submission: Option<String>,
    pub bundle: String,
    pub bundle_digest: String,
    /// Candidate runs behind the mean.
    pub n: u32,
    pub time_mean_ms: Option<f64>,
    pub time_sd_ms: Option<f64>,
    /// Previous record's mean minus this mean; empty for a track's first record.
    pub improvement_ms: Option<f64>,
    /// `improvement_ms` as a percentage of the previous record's mean.
    pub improvement_pct: Option<f64>,
    /// One-sided Welch p-value of the time comparison, as certified.
    pub p_value: Option<f64>,
    /// The significance threshold the certification used.
    pub threshold: Option<f64>,
    /// Time change against the baseline measured on the same machine (%), as certified.
    pub change_pct: Option<f64>,
    pub loss_mean: Option<f64>,
    /// How the baseline was timed: "same-machine", "stored-record" or "none".
    pub comparison: String,
    pub official: bool,
    /// Full certification timestamp; orders records certified on the same day.
    pub created_at: String,
}

/// Serialises rows to CSV bytes (header first, even with no rows).
pub fn to_csv_bytes<T: Serialize>(rows: &[T], header: &[&str]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // The header is written explicitly so that an empty table still has its columns.
    w.write_record(header)
        .map_err(|e| AnalysisError::csv("<memory>", e))?;
    for row in rows {
        w.serialize(row)
            .map_err(|e| AnalysisError::csv("<memory>", e))?;
    }
    w.into_inner()
        .map_err(|e| AnalysisError::csv("<memory>", e.error()))
}

/// Column names of runs.csv, in file order.
pub const RUN_COLUMNS: &[&str] = &[
    "track",
    "submission",
    "role",
    "bundle",
    "bundle_digest",
    "run_index",
    "seed",
    "status",
    "train_time_ms",
    "final_val_loss",
    "heldout_val_loss",
    "train_tokens",
    "date",
    "device",
    "official",
    "verdict",
];

/// Column names of records.csv, in file order.
pub const RECORD_COLUMNS: &[&str] = &[
    "track",
    "number",
    "date",
    "submission",
    "baseline_submission",
    "bundle",
    "bundle_digest",
    "n",
    "time_mean_ms",
    "time_sd_ms",
    "improvement_ms",
    "improvement_pct",
    "p_value",
    "threshold",
    "change_pct",
    "loss_mean",
    "comparison",
    "official",
    "created_at",
];

/// Writes runs.csv atomically.
pub fn write_runs(path: &Path, rows: &[RunRow]) -> Result<()> {
    let bytes = to_csv_bytes(rows, RUN_COLUMNS).map_err(|e| relabel(e, path))?;
    write_atomic(path, &bytes)
}

/// Writes records.csv atomically.
pub fn write_records(path: &Path, rows: &[RecordRow]) -> Result<()> {
    let bytes = to_csv_bytes(rows, RECORD_COLUMNS).map_err(|e| relabel(e, path))?;
    write_atomic(path, &bytes)
}

fn relabel(e: AnalysisError, path: &Path) -> AnalysisError {
    match e {
        AnalysisError::Csv { problem, .. } => AnalysisError::csv(path, problem),
        other => other,
    }
}

/// Reads a CSV file of `T` rows by header name (extra columns are ignored).
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                AnalysisError::csv(
                    path,
                    "does not exist; run `speedcert records rebuild` to create it",
                )
            }
            _ => AnalysisError::csv(path, e),
        })?;
    let mut out = Vec::new();
    for row in rdr.deserialize() {
        out.push(row.map_err(|e| AnalysisError::csv(path, e))?);
    }
    Ok(out)
}

/// Reads runs.csv.
pub fn read_runs(path: &Path) -> Result<Vec<RunRow>> {
    read_csv(path)
}

/// Reads records.csv.
pub fn read_records(path: &Path) -> Result<Vec<RecordRow>> {
    read_csv(path)
}
