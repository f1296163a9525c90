//! records/nightly.csv: one row per track per nightly rerun of its current record
//! (`speedcert nightly`, DESIGN.md "Scale-out and scheduling").
//!
//! Unlike runs.csv and records.csv, which `rebuild` derives from bundles and may
//! rewrite at will, nightly.csv is a log: each night adds a row and nothing else may
//! change. So appending refuses to touch a file it cannot fully parse (rewriting it would
//! drop the rows it could not read), and the new file replaces the old one atomically so
//! a reader never sees half a row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dates::{days_from_iso, iso_from_days};
use crate::error::{AnalysisError, Result};
use crate::table::to_csv_bytes;

/// File name of the nightly table inside the records folder.
pub const NIGHTLY_CSV: &str = "nightly.csv";
/// Folder of the nightly bundles inside the records folder (`nightly/DATE/TRACK/`).
pub const NIGHTLY_DIR: &str = "nightly";

use speedcert_bundle::drift::DriftVerdict;
use speedcert_fsio::{Mode, write_atomic};

/// One night of one track: a row of nightly.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NightlyRow {
    /// The night (UTC, YYYY-MM-DD).
    pub date: String,
    /// When the row was made (RFC 3339); orders nights of the same date.
    pub created_at: String,
    pub track: String,
    /// The record's submission, rerun tonight.
    pub submission: String,
    /// The record's bundle, relative to the records folder (as in records.csv).
    pub record_bundle: String,
    /// The record's position in the track's chain.
    pub record_number: u32,
    /// Tonight's signed bundle, relative to the records folder.
    pub bundle: String,
    /// Runs planned.
    pub runs: u32,
    pub failed: u32,
    pub time_mean_ms: Option<f64>,
    pub time_sd_ms: Option<f64>,
    /// Mean of the record's certified run times (NaN when the record had none usable).
    pub record_time_mean_ms: f64,
    pub record_time_sd_ms: Option<f64>,
    /// Tonight's mean time against the record's, in percent (positive = slower).
    pub time_change_pct: Option<f64>,
    pub time_change_ci_low_pct: Option<f64>,
    pub time_change_ci_high_pct: Option<f64>,
    /// Two-sided Welch p-value of tonight's times against the record's.
    pub time_p: Option<f64>,
    pub loss_mean: Option<f64>,
    pub record_loss_mean: Option<f64>,
    pub loss_change_pct: Option<f64>,
    pub loss_p: Option<f64>,
    /// The track's significance threshold.
    pub threshold: f64,
    /// True when the night raised the alarm (`speedcert nightly` exited 3).
    pub drift: bool,
    pub env_changed: bool,
    /// What changed against the record's environment ("driver 570.1 -> 580.159; ...").
    pub env_changes: String,
    /// One of [`DriftVerdict`]'s names.
    pub verdict: String,
}

/// Column names of nightly.csv, in file order (the order of [`NightlyRow`]'s fields).
pub const NIGHTLY_COLUMNS: &[&str] = &[
    "date",
    "created_at",
    "track",
    "submission",
    "record_bundle",
    "record_number",
    "bundle",
    "runs",
    "failed",
    "time_mean_ms",
    "time_sd_ms",
    "record_time_mean_ms",
    "record_time_sd_ms",
    "time_change_pct",
    "time_change_ci_low_pct",
    "time_change_ci_high_pct",
    "time_p",
    "loss_mean",
    "record_loss_mean",
    "loss_change_pct",
    "loss_p",
    "threshold",
    "drift",
    "env_changed",
    "env_changes",
    "verdict",
];

impl NightlyRow {
    /// True when tonight's mean time is known and finite, i.e. the night has a point on
    /// the plot.
    pub fn has_time(&self) -> bool {
        self.time_mean_ms.is_some_and(f64::is_finite)
    }
}

/// Reads records_dir/nightly.csv; a missing file is an empty table (no night has run).
/// Columns are matched by name, so a file with extra columns still reads.
pub fn read_nightly(records_dir: &Path) -> Result<Vec<NightlyRow>> {
    let path = records_dir.join(NIGHTLY_CSV);
    match std::fs::read(&path) {
        Ok(bytes) => parse(&path, &bytes, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(AnalysisError::io(&path, e)),
    }
}

/// Appends `row` to records_dir/nightly.csv (creating it, header first) and returns the
/// file's path.
///
/// The whole file is rewritten with [`write_atomic`], after the existing one parsed in
/// full with exactly our columns: a file that does not is reported with its line and
/// left as it is, since rewriting it would lose what could not be read. On Unix the
/// records folder is locked (flock) from read to rename, so two `speedcert nightly`
/// processes finishing together (cron entries per track, a Slurm array) cannot drop
/// each other's row.
pub fn append_nightly(records_dir: &Path, row: &NightlyRow) -> Result<PathBuf> {
    let path = records_dir.join(NIGHTLY_CSV);
    validate(&path, row)?;
    std::fs::create_dir_all(records_dir).map_err(|e| AnalysisError::io(records_dir, e))?;
    let _lock = lock_dir(records_dir)?;
    let mut rows = match std::fs::read(&path) {
        Ok(bytes) => parse(&path, &bytes, true)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(AnalysisError::io(&path, e)),
    };
    rows.push(row.clone());
    let bytes = to_csv_bytes(&rows, NIGHTLY_COLUMNS).map_err(|e| match e {
        AnalysisError::Csv { problem, .. } => AnalysisError::csv(&path, problem),
        other => other,
    })?;
    write_atomic(&path, &bytes, Mode::Public)?;
    Ok(path)
}

/// An exclusive lock on the folder, released when dropped. A lock on nightly.csv itself
/// would not do: the rename replaces the file, so a waiter would hold a lock on the old
/// one.
#[cfg(unix)]
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let f = std::fs::File::open(dir).map_err(|e| AnalysisError::io(dir, e))?;
    f.lock().map_err(|e| AnalysisError::io(dir, e))?;
    Ok(f)
}

#[cfg(not(unix))]
fn lock_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Checks what the plot and the page rely on before the row becomes permanent.
fn validate(path: &Path, row: &NightlyRow) -> Result<()> {
    let real_date = row.date.len() == 10
        && days_from_iso(&row.date).is_some_and(|d| iso_from_days(d) == row.date);
    if !real_date {
        return Err(AnalysisError::field(
            path,
            "date",
            format!("must be a date YYYY-MM-DD, got {:?}", row.date),
        ));
    }
    if row.track.is_empty() {
        return Err(AnalysisError::field(path, "track", "must not be empty"));
    }
    if !DriftVerdict::ALL.iter().any(|v| v.as_str() == row.verdict) {
        return Err(AnalysisError::field(
            path,
            "verdict",
            format!(
                "must be one of {:?}, got {:?}",
                DriftVerdict::ALL.map(DriftVerdict::as_str),
                row.verdict
            ),
        ));
    }
    Ok(())
}

/// Parses nightly.csv bytes, naming the line of the first problem. `exact_header`
/// demands our columns in our order (for appending, which rewrites the header); an
/// empty file has no rows.
fn parse(path: &Path, bytes: &[u8], exact_header: bool) -> Result<Vec<NightlyRow>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| AnalysisError::csv(path, format!("line 1 (header): {e}")))?
        .clone();
    let got: Vec<&str> = headers.iter().collect();
    if exact_header && got != NIGHTLY_COLUMNS {
        let problem = match got.iter().zip(NIGHTLY_COLUMNS).position(|(a, b)| a != b) {
            Some(i) => format!(
                "column {} is `{}`, expected `{}`",
                i + 1,
                got[i],
                NIGHTLY_COLUMNS[i]
            ),
            None => format!("{} columns, expected {}", got.len(), NIGHTLY_COLUMNS.len()),
        };
        return Err(AnalysisError::csv(
            path,
            format!("line 1 (header): {problem}; not rewriting a file with other columns"),
        ));
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            let problem = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields, the header has {expected_len}"),
                _ => e.to_string(),
            };
            AnalysisError::csv(path, format!("line {line}: {problem}"))
        })?;
        let line = rec.position().map_or(0, csv::Position::line);
        let row: NightlyRow = rec.deserialize(Some(&headers)).map_err(|e| {
            let problem = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    match err.field().and_then(|i| headers.get(i as usize)) {
                        Some(col) => format!("column `{col}`: {}", err.kind()),
                        None => err.kind().to_string(),
                    }
                }
                _ => e.to_string(),
            };
            AnalysisError::csv(path, format!("line {line}: {problem}"))
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// The rows of each track, in night order (date, then creation time; file order breaks
/// ties), so a back-filled `--date` lands where it belongs.
pub fn by_track(rows: &[NightlyRow]) -> BTreeMap<String, Vec<NightlyRow>> {
    let mut out: BTreeMap<String, Vec<NightlyRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.track.clone()).or_default().push(r.clone());
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| (&a.date, &a.created_at).cmp(&(&b.date, &b.created_at)));
    }
    out
}
