//! One certification, several exports (issue 17, item 4): the summary and the runs it
//! was computed from, as JSON, CSV, markdown or MLPerf `:::MLLOG` lines.
//!
//! The pattern is hyperfine's (`src/export/`): one `Exporter` trait, one implementation
//! per format, every implementation fed the same result type (`Certification`: the
//! summary and its bundle's files), so the formats cannot drift apart in what they report and a command line needs one call,
//! [`export`]. Every p-value, loss and time meant for people goes through
//! `speedcert_stats::format`; the machine formats (JSON, CSV, MLLOG) carry the numbers as
//! they are.
//!
//! - [`json`]: the summary, byte for byte what summary.json holds;
//! - [`csv`]: one row per planned run;
//! - [`markdown`]: the report for people, with the statistics and every check;
//! - [`mllog`]: MLPerf training log lines for every run, and [`check_mllog`], the MLPerf
//!   logging rules that apply to them.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::summary::{BundleInputs, Summary};

pub mod csv;
pub mod json;
pub mod markdown;
pub mod mllog;

pub use mllog::check_mllog;

/// An export format, named on a command line as `json`, `csv`, `markdown` (or `md`) and
/// `mllog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Csv,
    Markdown,
    Mllog,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Json, Format::Csv, Format::Markdown, Format::Mllog];

    /// The name `FromStr` reads and `Display` writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Mllog => "mllog",
        }
    }

    /// The usual file extension, for a caller that names the output after the format
    /// (MLPerf result logs are `result_N.txt`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Mllog => "txt",
        }
    }

    fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Json => &json::JsonExporter,
            Format::Csv => &csv::CsvExporter,
            Format::Markdown => &markdown::MarkdownExporter,
            Format::Mllog => &mllog::MllogExporter,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is none of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown export format `{0}` (expected json, csv, markdown (or md) or mllog)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Case-insensitive, so `--format JSON` works as users type it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        if name.eq_ignore_ascii_case("md") {
            return Ok(Format::Markdown);
        }
        Format::ALL
            .into_iter()
            .find(|f| name.eq_ignore_ascii_case(f.as_str()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Why an export could not be written. Each names what in the bundle stopped it.
#[derive(Debug, Error)]
pub enum ExportError {
    #[error("JSON serialization failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("CSV serialization failed: {0}")]
    Csv(#[from] ::csv::Error),
    /// A run's `started_at`, the origin of its MLLOG timestamps, does not parse.
    #[error("run-{run:03}: started_at {value:?} is not an RFC 3339 time: {reason}")]
    StartedAt {
        run: usize,
        value: String,
        reason: String,
    },
    /// A run's steps.csv, which the MLLOG epochs and evaluations come from, could not
    /// be read.
    #[error("run-{run:03}: no step log to export: {reason}")]
    Steps { run: usize, reason: String },
}

/// What every exporter is fed: a summary and the bundle files it was computed from.
///
/// The summary is passed in, not recomputed, so an export shows exactly the summary the
/// caller holds (summary.json as signed, or a fresh `summary::compute`).
#[derive(Clone, Copy)]
pub(crate) struct Certification<'a> {
    pub(crate) inputs: &'a BundleInputs,
    pub(crate) summary: &'a Summary,
}

/// One output format (hyperfine's `Exporter`).
trait Exporter {
    fn export(&self, cert: &Certification<'_>) -> Result<String, ExportError>;
}

/// The certification in `format`: the one call a command line makes.
pub fn export(
    inputs: &BundleInputs,
    summary: &Summary,
    format: Format,
) -> Result<String, ExportError> {
    format.exporter().export(&Certification { inputs, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
        let err = "yaml".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`yaml`"), "{err}");
    }
}
