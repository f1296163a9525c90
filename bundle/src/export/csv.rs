//! The CSV export: one row per planned run, in plan order, for spreadsheets and
//! data frames.
//!
//! | column | meaning |
//! |---|---|
//! | `run_index` | the run's number in plan.json (`runs/run-NNN`) |
//! | `role` | `candidate` or `baseline` |
//! | `submission` | the submission the run trained |
//! | `seed` | its training seed |
//! | `status` | `ok`, `failed`, or `missing` (planned, but no run.json: it never finished) |
//! | `failure` | why a failed run failed |
//! | `train_time_ms` | timed training time (the record's figure) |
//! | `final_val_loss` | last validation loss on the public slice |
//! | `heldout_val_loss` | validation loss on the certifier-only slice |
//! | `train_tokens` | training tokens consumed |
//! | `train_tokens_per_s` | `train_tokens` per second of `train_time_ms` |
//! | `reached_target` | the final validation loss is at or below the track's target |
//!
//! Empty cells mean "not recorded" (a missing run has only its plan columns). Numbers are
//! written as stored, unrounded: people read the markdown export.

use serde::{Deserialize, Serialize};

use super::{Certification, ExportError, Exporter};
use crate::plan::Slot;
use crate::run::{Role, RunRecord, RunStatus, tokens_per_s};
use crate::summary::BundleInputs;

pub(super) struct CsvExporter;

impl Exporter for CsvExporter {
    fn export(&self, cert: &Certification<'_>) -> Result<String, ExportError> {
        to_csv(cert.inputs)
    }
}

/// A run's outcome as the CSV states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Ok,
    Failed,
    /// Planned, but no run.json: the run never finished.
    Missing,
}

/// One CSV row; field order is column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub run_index: usize,
    pub role: Role,
    pub submission: String,
    pub seed: u64,
    pub status: RowStatus,
    pub failure: Option<String>,
    pub train_time_ms: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub heldout_val_loss: Option<f64>,
    pub train_tokens: Option<u64>,
    pub train_tokens_per_s: Option<f64>,
    pub reached_target: Option<bool>,
}

/// The columns, in order: the header even a bundle without runs gets.
pub const COLUMNS: [&str; 12] = [
    "run_index",
    "role",
    "submission",
    "seed",
    "status",
    "failure",
    "train_time_ms",
    "final_val_loss",
    "heldout_val_loss",
    "train_tokens",
    "train_tokens_per_s",
    "reached_target",
];

impl RunRow {
    fn of(r: &RunRecord) -> Self {
        Self {
            run_index: r.run_index,
            role: r.role,
            submission: r.submission.clone(),
            seed: r.seed,
            status: match r.status {
                RunStatus::Ok => RowStatus::Ok,
                RunStatus::Failed => RowStatus::Failed,
            },
            failure: r.failure.clone(),
            train_time_ms: Some(r.train_time_ms),
            final_val_loss: r.final_val_loss,
            heldout_val_loss: r.heldout_val_loss,
            train_tokens: Some(r.train_tokens),
            // Recomputed rather than copied: runs written before run.json stored it have
            // none, and readers already refuse a run.json whose stored figure differs.
            train_tokens_per_s: tokens_per_s(r.train_tokens, r.train_time_ms),
            reached_target: Some(r.reached_target),
        }
    }

    /// A planned run that left no run.json: the summary counts it as failed.
    fn missing(slot: &Slot) -> Self {
        Self {
            run_index: slot.index,
            role: slot.role,
            submission: slot.submission.clone(),
            seed: slot.seed,
            status: RowStatus::Missing,
            failure: None,
            train_time_ms: None,
            final_val_loss: None,
            heldout_val_loss: None,
            train_tokens: None,
            train_tokens_per_s: None,
            reached_target: None,
        }
    }
}

/// One row per plan slot, in plan order: a run that never finished still appears, as
/// `missing`, because the summary counts it as a failure.
pub fn rows(inputs: &BundleInputs) -> Vec<RunRow> {
    inputs
        .plan
        .slots
        .iter()
        .map(
            |slot| match inputs.runs.iter().find(|r| r.run_index == slot.index) {
                Some(r) => RunRow::of(r),
                None => RunRow::missing(slot),
            },
        )
        .collect()
}

/// The CSV: a header and one row per planned run.
pub fn to_csv(inputs: &BundleInputs) -> Result<String, ExportError> {
    // The header is written from COLUMNS so that a plan without slots still gets one;
    // the serializer then writes rows only.
    let mut w = ::csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for row in rows(inputs) {
        w.serialize(row)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8(bytes).expect("CSV written from UTF-8 strings is UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COLUMNS is the header serde would write for RunRow, so rows land under their
    /// names.
    #[test]
    fn columns_match_the_row_fields() {
        let row = RunRow::missing(&Slot {
            index: 0,
            role: Role::Candidate,
            submission: "s".into(),
            seed: 1,
            heldout_seed: 2,
            pair: None,
        });
        let mut w = ::csv::Writer::from_writer(Vec::new());
        w.serialize(&row).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(COLUMNS.join(",").as_str()));
        assert_eq!(text.lines().nth(1), Some("0,candidate,s,1,missing,,,,,,,"));
    }
}
