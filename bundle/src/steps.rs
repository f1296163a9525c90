//! `runs/run-NNN/steps.csv`: one row per training step.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The largest steps.csv a reader loads: about 100 bytes a row, so room for ten million
/// steps (the harness's own step limit), far beyond any real run.
pub const MAX_STEP_LOG_BYTES: u64 = 1 << 30;

/// One row of steps.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub step: usize,
    /// Training tokens handed out up to and including this step.
    pub tokens: u64,
    /// Timed training time up to the end of this step.
    pub train_time_ms: f64,
    pub train_loss: Option<f64>,
    /// Set on the step after which a validation pass ran.
    pub val_loss: Option<f64>,
    pub lr: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepLog {
    pub rows: Vec<StepRow>,
}

impl StepLog {
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if self.rows.is_empty() {
            w.write_record([
                "step",
                "tokens",
                "train_time_ms",
                "train_loss",
                "val_loss",
                "lr",
            ])
            .expect("in-memory csv");
        }
        for r in &self.rows {
            w.serialize(r).expect("in-memory csv");
        }
        w.into_inner().expect("in-memory csv")
    }

    pub fn read_csv(path: &Path) -> Result<Self, String> {
        let rows = crate::io::read_csv_rows(path, MAX_STEP_LOG_BYTES, "MAX_STEP_LOG_BYTES")?;
        Ok(Self { rows })
    }
}
