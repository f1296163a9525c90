//! Finding what to audit: the track folders of a records folder, each track's record
//! folders (or lone logs), and every file in them; what is not audited is listed as
//! [`Skipped`] with the reason.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::error::AuditError;
use crate::logfile::is_log_file;
use crate::options::Options;
use crate::paths::{file_name, relative};
use crate::tracks::TrackSpec;

/// A file or folder the audit did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path relative to the folder audited.
    pub path: String,
    pub reason: String,
}

/// One record to audit: a folder, or a log lying directly in a records folder.
pub(crate) struct RecordPlan {
    pub(crate) name: String,
    /// The record folder (for a lone log, the folder holding it).
    pub(crate) dir: PathBuf,
    pub(crate) files: Vec<PathBuf>,
}

/// One track to audit.
pub(crate) struct TrackPlan {
    pub(crate) name: String,
    pub(crate) spec: TrackSpec,
    pub(crate) target_loss: f64,
    pub(crate) root: PathBuf,
    pub(crate) records: Vec<RecordPlan>,
    pub(crate) skipped: Vec<Skipped>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| AuditError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Which tracks `dir` holds: every `track_*` folder of a `records/` folder, or
/// `dir` itself as one track (named like a known one, or not).
pub(crate) fn plan_tracks(dir: &Path, options: &Options) -> Result<Vec<TrackPlan>, AuditError> {
    if !dir.is_dir() {
        return Err(AuditError::NotARecordsDir {
            path: dir.to_path_buf(),
        });
    }
    let top = sorted_entries(dir)?;
    let track_dirs: Vec<&PathBuf> = top
        .iter()
        .filter(|p| p.is_dir() && file_name(p).starts_with("track_"))
        .collect();
    if track_dirs.is_empty() {
        return Ok(vec![plan_track(dir, dir, options)?]);
    }
    let mut plans = Vec::new();
    for t in &track_dirs {
        plans.push(plan_track(dir, t, options)?);
    }
    // What lies beside the track folders is not a record.
    if let Some(first) = plans.first_mut() {
        for p in top.iter().filter(|p| !track_dirs.contains(p)) {
            first.skipped.push(Skipped {
                path: relative(dir, p),
                reason: "beside the track folders, not in one".into(),
            });
        }
    }
    Ok(plans)
}

fn plan_track(base: &Path, track_dir: &Path, options: &Options) -> Result<TrackPlan, AuditError> {
    let name = file_name(track_dir);
    let spec = TrackSpec::named(&name);
    let root = if spec.records_in.is_empty() {
        track_dir.to_path_buf()
    } else {
        track_dir.join(spec.records_in)
    };
    let mut skipped = Vec::new();
    if root != track_dir {
        for p in sorted_entries(track_dir)? {
            if p != root {
                skipped.push(Skipped {
                    path: relative(base, &p),
                    reason: format!(
                        "outside {}/, where the track keeps its results (the track's own \
                         README, code and figures)",
                        spec.records_in
                    ),
                });
            }
        }
    }
    let mut records = Vec::new();
    if root.is_dir() {
        for p in sorted_entries(&root)? {
            if p.is_dir() {
                records.push(RecordPlan {
                    name: file_name(&p),
                    files: list_files(&p),
                    dir: p,
                });
            } else if is_log_file(&p) {
                // A log directly in the records folder: the track's README links
                // such logs as records of their own.
                records.push(RecordPlan {
                    name: file_name(&p),
                    dir: root.clone(),
                    files: vec![p],
                });
            } else {
                skipped.push(Skipped {
                    path: relative(base, &p),
                    reason: "a file directly in the records folder that is not a log".into(),
                });
            }
        }
    } else {
        skipped.push(Skipped {
            path: relative(base, &root),
            reason: "missing".into(),
        });
    }
    Ok(TrackPlan {
        name,
        spec,
        target_loss: spec.target_loss.unwrap_or(options.target_loss),
        root,
        records,
        skipped,
    })
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}
