//! `speedcert records rebuild`: the published tables, recomputed from signed bundles.
//!
//! runs.csv and records.csv are derived data. Rebuilding them from the bundles (never
//! editing them) means every published number traces back to a signature, and a bundle
//! that does not verify cannot reach the tables: it is reported by name with the check
//! that failed, and left out.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, Bundle, VERDICT_NEW_RECORD};
use crate::error::Result;
use crate::frame;
use crate::table::{self, RECORDS_CSV, RUNS_CSV, RecordRow, RunRow};
use crate::verify::{Trust, Verdict};

/// Folder of bundles inside the records folder.
pub const BUNDLES_DIR: &str = "bundles";
/// Folder of trusted public keys inside the records folder.
pub const KEYS_DIR: &str = "keys";

/// A bundle left out of the tables, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// Bundle folder relative to the records folder.
    pub bundle: String,
    /// One line per failed check or unreadable file, as the verifier worded it.
    pub reasons: Vec<String>,
}

/// What a rebuild did: a person reads it, CI asserts on it.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub records_dir: PathBuf,
    /// Bundles found under bundles/.
    pub bundles_found: usize,
    /// Bundles that verified and were read, relative paths, sorted.
    pub included: Vec<String>,
    /// Bundles left out, sorted by path.
    pub excluded: Vec<Excluded>,
    pub runs: usize,
    pub records: usize,
    pub runs_csv: PathBuf,
    pub records_csv: PathBuf,
}

impl RebuildReport {
    /// True when every bundle found made it into the tables.
    pub fn all_included(&self) -> bool {
        self.excluded.is_empty()
    }

    /// One block per excluded bundle: which bundle, then each failed check.
    pub fn excluded_text(&self) -> String {
        let mut s = String::new();
        for e in &self.excluded {
            s.push_str(&format!(
                "error: bundle {} failed verification and was left out:\n",
                e.bundle
            ));
            for r in &e.reasons {
                s.push_str(&format!("  {r}\n"));
            }
        }
        s
    }

    /// The one line a person quotes: what was written, from how many bundles.
    pub fn summary_line(&self) -> String {
        format!(
            "rebuilt {} ({} runs) and {} ({} records) from {} of {} bundles{}",
            self.runs_csv.display(),
            self.runs,
            self.records_csv.display(),
            self.records,
            self.included.len(),
            self.bundles_found,
            if self.excluded.is_empty() {
                String::new()
            } else {
                format!("; {} excluded", self.excluded.len())
            }
        )
    }

    /// Both, for a terminal.
    pub fn to_text(&self) -> String {
        format!("{}{}\n", self.excluded_text(), self.summary_line())
    }
}

/// Bundle path relative to the records folder, with `/` separators on every platform
/// so the CSVs are identical wherever they are rebuilt.
pub(crate) fn rel(records_dir: &Path, path: &Path) -> String {
    let r = path.strip_prefix(records_dir).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Rebuilds `records_dir/runs.csv` and `records_dir/records.csv` from the bundles in
/// `records_dir/bundles/`, verified against the keys in `records_dir/keys/`.
///
/// Errors only when the tables cannot be written or the trust store cannot be read; a
/// bad bundle is an entry of [`RebuildReport::excluded`], not an error.
pub fn rebuild(records_dir: &Path) -> Result<RebuildReport> {
    let trust = Trust::load(&records_dir.join(KEYS_DIR))?;
    let dirs = bundle::discover_bundles(&records_dir.join(BUNDLES_DIR))?;
    let mut bundles: Vec<(String, Bundle)> = Vec::new();
    let mut excluded = Vec::new();
    for dir in &dirs {
        let name = rel(records_dir, dir);
        match trust.verify(dir)? {
            Verdict::Genuine => {
                match bundle::read_bundle(dir).and_then(|b| check_consistent(b, dir)) {
                    Ok(b) => bundles.push((name, b)),
                    Err(e) => excluded.push(Excluded {
                        bundle: name,
                        reasons: vec![format!("verified, but unreadable: {e}")],
                    }),
                }
            }
            Verdict::NotGenuine(reasons) => excluded.push(Excluded {
                bundle: name,
                reasons,
            }),
        }
    }

    let mut runs: Vec<RunRow> = bundles
        .iter()
        .flat_map(|(name, b)| run_rows(name, b))
        .collect();
    runs.sort_by(|a, b| {
        (&a.track, &a.date, &a.bundle, a.run_index, &a.role).cmp(&(
            &b.track,
            &b.date,
            &b.bundle,
            b.run_index,
            &b.role,
        ))
    });
    let records = record_rows(&bundles)?;

    let runs_csv = records_dir.join(RUNS_CSV);
    let records_csv = records_dir.join(RECORDS_CSV);
    table::write_runs(&runs_csv, &runs)?;
    table::write_records(&records_csv, &records)?;
    Ok(RebuildReport {
        records_dir: records_dir.to_path_buf(),
        bundles_found: dirs.len(),
        included: bundles.iter().map(|(n, _)| n.clone()).collect(),
        excluded,
        runs: runs.len(),
        records: records.len(),
        runs_csv,
        records_csv,
    })
}

/// A genuine bundle whose runs name another track than its summary is a certifier bug;
/// counting it would put runs in the wrong track's table.
fn check_consistent(b: Bundle, dir: &Path) -> Result<Bundle> {
    for (run, run_dir) in b.runs.iter().zip(&b.run_dirs) {
        if run.track != b.summary.track {
            return Err(crate::error::AnalysisError::field(
                run_dir.join("run.json"),
                "track",
                format!(
                    "is {:?} but {}/summary.json says {:?}",
                    run.track,
                    dir.display(),
                    b.summary.track
                ),
            ));
        }
    }
    Ok(b)
}

fn day(ts: Option<&str>) -> String {
    ts.map(|t| t.get(..10).unwrap_or(t).to_string())
        .unwrap_or_default()
}

fn run_rows(name: &str, b: &Bundle) -> Vec<RunRow> {
    b.runs
        .iter()
        .map(|r| RunRow {
            track: r.track.clone(),
            submission: r.submission.clone(),
            role: r.role.clone(),
            bundle: name.to_string(),
            bundle_digest: b.digest.clone(),
            run_index: r.run_index,
            seed: r.seed,
            status: r.status.clone(),
            train_time_ms: r.train_time_ms,
            final_val_loss: r.final_val_loss,
            heldout_val_loss: r.heldout_val_loss,
            train_tokens: r.train_tokens,
            date: day(r.started_at.as_deref().or(b.summary.created_at.as_deref())),
            device: r.device.clone().unwrap_or_default(),
            official: r.official.unwrap_or(false),
            verdict: b.summary.verdict.clone(),
        })
        .collect()
}

/// When a bundle was certified: summary.created_at, else its latest run start.
fn created_at(b: &Bundle) -> String {
    b.summary
        .created_at
        .clone()
        .or_else(|| b.runs.iter().filter_map(|r| r.started_at.clone()).max())
        .unwrap_or_default()
}

fn record_rows(bundles: &[(String, Bundle)]) -> Result<Vec<RecordRow>> {
    let recs: Vec<&(String, Bundle)> = bundles
        .iter()
        .filter(|(_, b)| b.summary.verdict == VERDICT_NEW_RECORD)
        .collect();
    let chain = frame::record_chain(recs.iter().map(|(name, b)| frame::ChainInput {
        track: b.summary.track.clone(),
        created_at: created_at(b),
        bundle: name.clone(),
        time_mean_ms: b.summary.time.candidate.mean_ms,
    }))?;
    Ok(chain
        .into_iter()
        .map(|c| {
            let (_, b) = recs[c.input_index];
            let s = &b.summary;
            let n_ok = b
                .runs
                .iter()
                .filter(|r| r.role == "candidate" && r.status == "ok")
                .count() as u32;
            RecordRow {
                track: s.track.clone(),
                number: c.number,
                date: day(Some(&c.created_at)),
                submission: s.submission.clone(),
                baseline_submission: s.baseline_submission.clone(),
                bundle: c.bundle,
                bundle_digest: b.digest.clone(),
                n: s.time.candidate.n.unwrap_or(n_ok),
                time_mean_ms: s.time.candidate.mean_ms,
                time_sd_ms: s.time.candidate.sd_ms,
                improvement_ms: c.improvement_ms,
                improvement_pct: c.improvement_pct,
                p_value: s.time.p_value,
                threshold: s.threshold,
                change_pct: s.time.change_pct,
                loss_mean: s.loss.as_ref().and_then(|l| l.mean),
                comparison: s.comparison.clone().unwrap_or_default(),
                official: s.official.unwrap_or(false),
                created_at: c.created_at,
            }
        })
        .collect())
}
