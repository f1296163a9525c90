//! Submissions from outside this binary: a folder holding a Cargo crate that depends on
//! `speedcert-sdk`. The referee reads its [`manifest`], digests and copies its source
//! (`speedcert_bundle::source`), generates the runner's `main` and builds it with its
//! own lock file and toolchain ([`runner`]); every run is that runner as a fenced child
//! process (`speedcert run --fence`). [`scaffold`] writes a new one. A folder with
//! `speedcert.toml` instead is a [`command`] submission: a script run as it is, whose log
//! reports its own clock and loss.

pub mod command;
pub mod manifest;
pub mod runner;
pub mod scaffold;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use manifest::Manifest;
pub use runner::{BuildSettings, Runner};

#[derive(Debug, Error)]
pub enum OutsideError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(transparent)]
    Source(#[from] speedcert_bundle::source::SourceError),
    #[error("{dir}: the submission does not build ({what}):\n{output}")]
    Build {
        dir: PathBuf,
        what: String,
        output: String,
    },
    #[error("{0}")]
    Referee(String),
}

/// A submission folder and the runner built from it.
pub struct Built {
    pub dir: PathBuf,
    pub runner: Runner,
}

/// Reads, checks and builds the submission folder `dir` for `track`: its manifest must
/// name the track and a name no built-in submission has. `log` gets the build's output.
pub fn build_folder(
    dir: &Path,
    track: &str,
    builtin: &[&str],
    log: &mut dyn FnMut(&str),
) -> Result<Built, OutsideError> {
    let manifest = Manifest::read(dir)?;
    if builtin.contains(&manifest.name.as_str()) {
        return Err(OutsideError::Manifest {
            path: dir.join("Cargo.toml"),
            message: format!(
                "{} name = {:?} is a built-in submission's name; a submission cannot take it",
                manifest::TABLE,
                manifest.name
            ),
        });
    }
    manifest.check_track(dir, track)?;
    let settings = BuildSettings::for_this_binary()?;
    let runner = runner::build(dir, &settings, false, log)?;
    Ok(Built {
        dir: dir.to_owned(),
        runner,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutsideError + '_ {
    move |source| OutsideError::Io {
        path: path.to_owned(),
        source,
    }
}
