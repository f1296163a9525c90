//! The in-toto predicate speedcert signs: the summary, and for a nightly bundle the
//! drift. Typed here once, so signing and verification cannot disagree on its shape.

use std::path::Path;

use serde::{Deserialize, Serialize};
use speedcert_attest::{SignedBundle, Signer};

use crate::drift::Drift;
use crate::io::{self, BundleError};
use crate::layout;
use crate::summary::Summary;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

/// Writes summary.json (and drift.json), then signs every file of the bundle with the
/// two as the predicate: the last step of a certification or a nightly rerun.
pub fn seal(
    dir: &Path,
    signers: &[Signer],
    summary: &Summary,
    drift: Option<&Drift>,
) -> Result<SignedBundle, BundleError> {
    io::write_json(&dir.join(layout::SUMMARY), summary)?;
    if let Some(drift) = drift {
        io::write_json(&dir.join(layout::DRIFT), drift)?;
    }
    let predicate = Predicate {
        summary: summary.clone(),
        drift: drift.cloned(),
    };
    let value = serde_json::to_value(&predicate)
        .map_err(|e| BundleError::format(&dir.join(layout::SUMMARY), e.to_string()))?;
    Ok(speedcert_attest::sign_bundle(dir, signers, value)?)
}

/// The predicate of a bundle folder as its files state it: summary.json, and drift.json
/// when there is one; `None` for a folder with no summary (not a certification). For
/// re-signing a bundle by hand (`speedcert sign`), in the same shape [`seal`] signs.
pub fn read_predicate(dir: &Path) -> Result<Option<Predicate>, BundleError> {
    let summary_path = dir.join(layout::SUMMARY);
    if !summary_path.is_file() {
        return Ok(None);
    }
    let summary: Summary = io::read_json(&summary_path)?;
    let drift_path = dir.join(layout::DRIFT);
    let drift = if drift_path.is_file() {
        Some(io::read_json::<Drift>(&drift_path)?)
    } else {
        None
    };
    Ok(Some(Predicate { summary, drift }))
}
