//! Why an audit could not run or its report could not be written.

use std::path::PathBuf;

/// Errors that stop the audit before it starts, or stop its report from being
/// written. Problems with single files never do; they are
/// [`LogProblem`](crate::LogProblem)s in the report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a folder of record folders (expected e.g. records/track_1_short)")]
    NotARecordsDir { path: PathBuf },
    #[error("{path}: {detail}")]
    Output { path: PathBuf, detail: String },
    /// A report file could not be written; the error names it.
    #[error(transparent)]
    Write(#[from] speedcert_fsio::FsError),
}
