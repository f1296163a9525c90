//! Reading verified bundles for the tables, through speedcert-bundle's own types: the
//! tables read exactly the files `speedcert verify` recomputed, with no second copy of
//! their definitions here.

use std::path::{Path, PathBuf};

use speedcert_bundle::layout;
use speedcert_bundle::{BundleInputs, Summary};

use crate::error::{AnalysisError, Result};

/// A bundle read from disk (after it was verified; reading does not verify).
#[derive(Debug)]
pub struct Bundle {
    /// The bundle folder.
    pub path: PathBuf,
    /// sha256 (hex) of attestation.dsse.json: names the exact signed content.
    pub digest: String,
    pub summary: Summary,
    /// The raw files the summary was recomputed from: track, plan, env, runs, step logs.
    pub inputs: BundleInputs,
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
            && entry.file_name() == layout::ATTESTATION
            && let Some(dir) = entry.path().parent()
        {
            found.push(dir.to_path_buf());
        }
    }
    found.sort();
    Ok(found)
}

/// Reads summary.json and the raw files of the bundle at `dir`.
pub fn read_bundle(dir: &Path) -> Result<Bundle> {
    let envelope = dir.join(layout::ATTESTATION);
    let digest = speedcert_fsio::sha256_file(&envelope)
        .map_err(|e| AnalysisError::io(&envelope, std::io::Error::other(e.to_string())))?;
    let bundle_err = |e: speedcert_bundle::BundleError| AnalysisError::Bundle {
        path: dir.to_path_buf(),
        problem: e.to_string(),
    };
    let summary: Summary =
        speedcert_bundle::io::read_json(&dir.join(layout::SUMMARY)).map_err(bundle_err)?;
    let inputs = BundleInputs::read(dir).map_err(bundle_err)?;
    Ok(Bundle {
        path: dir.to_path_buf(),
        digest,
        summary,
        inputs,
    })
}
