//! The audit's exports, all from one [`AuditReport`] and computing nothing of their
//! own: a markdown report for people ([`to_markdown`]), a CSV with one row per record
//! for the records table ([`to_csv`], its columns documented in [`csv`]), and JSON
//! with everything ([`to_json`]). [`write_outputs`] writes them to files.

pub mod csv;
pub mod json;
pub mod markdown;

use std::path::{Path, PathBuf};

use speedcert_fsio::{Mode, write_atomic};

pub use self::csv::to_csv;
pub use self::json::to_json;
pub use self::markdown::to_markdown;
use crate::error::AuditError;
use crate::report::AuditReport;

/// Paths written by [`write_outputs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub json: Option<PathBuf>,
}

/// Writes `<stem>.md`, `<stem>.csv` and, with `json`, `<stem>.json` into `dir`
/// (created if missing), each atomically and readable by all (0644), so a reader
/// never sees half a report.
pub fn write_outputs(
    report: &AuditReport,
    dir: &Path,
    stem: &str,
    json: bool,
) -> Result<Written, AuditError> {
    let markdown = dir.join(format!("{stem}.md"));
    write_atomic(&markdown, to_markdown(report).as_bytes(), Mode::Public)?;
    let csv_path = dir.join(format!("{stem}.csv"));
    let csv_text = to_csv(report).map_err(|e| AuditError::Output {
        path: csv_path.clone(),
        detail: e.to_string(),
    })?;
    write_atomic(&csv_path, csv_text.as_bytes(), Mode::Public)?;
    let json_path = if json {
        let p = dir.join(format!("{stem}.json"));
        write_atomic(&p, to_json(report).as_bytes(), Mode::Public)?;
        Some(p)
    } else {
        None
    };
    Ok(Written {
        markdown,
        csv: csv_path,
        json: json_path,
    })
}
