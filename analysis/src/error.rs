//! One error type for the crate. Every variant names the file it concerns and what was
//! wrong with it, so a maintainer can act on the message without reading code (STYLE.md,
//! "Errors a person can act on").

use std::path::PathBuf;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON for {what}: {source}")]
    Json {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {problem}")]
    Csv { path: PathBuf, problem: String },
    #[error("{path}: field `{field}` {problem}")]
    Field {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error("{path}: cannot load the trust store: {problem}")]
    TrustStore { path: PathBuf, problem: String },
    #[error("{path}: verification could not run: {problem}")]
    Verify { path: PathBuf, problem: String },
    /// A bundle file that cannot be read; speedcert-bundle's message names the file.
    #[error("bundle {path}: {problem}")]
    Bundle { path: PathBuf, problem: String },
    /// A table or page that could not be written (the message names the file).
    #[error(transparent)]
    Write(#[from] speedcert_fsio::FsError),
    #[error("{path}: cannot draw plot: {problem}")]
    Plot { path: PathBuf, problem: String },
    #[error("table work failed ({context}): {source}")]
    Polars {
        context: &'static str,
        #[source]
        source: polars::error::PolarsError,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = AnalysisError> = std::result::Result<T, E>;

impl AnalysisError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn csv(path: impl Into<PathBuf>, problem: impl std::fmt::Display) -> Self {
        Self::Csv {
            path: path.into(),
            problem: problem.to_string(),
        }
    }

    pub(crate) fn field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::Field {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Wraps a polars error with the step that produced it; polars' own messages name
/// columns but not which of our computations asked for them.
pub(crate) fn polars_ctx(
    context: &'static str,
) -> impl FnOnce(polars::error::PolarsError) -> AnalysisError {
    move |source| AnalysisError::Polars { context, source }
}
