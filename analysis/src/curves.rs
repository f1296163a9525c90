//! records/curves.csv: every validation of every valid candidate run of a verified
//! bundle, read from its steps.csv. The frontier is the best loss *attained within* a
//! time or token budget, and a run passes through many budgets on its way to its final
//! loss, so the frontier needs the whole curve, not the end point only.
//!
//! Valid means: a candidate run (baselines are reruns of someone else's record), that
//! finished, in an official environment, with a final validation loss. Failed,
//! unofficial and baseline runs never reach the frontier.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use speedcert_bundle::run::{Role, RunRecord, RunStatus};

use crate::bundle::Bundle;
use crate::error::Result;
use crate::table::{read_csv, to_csv_bytes};

/// File name of the curve table inside the records folder.
pub const CURVES_CSV: &str = "curves.csv";

/// One validation of one run: a row of curves.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveRow {
    pub track: String,
    pub submission: String,
    /// Bundle folder relative to the records folder, `/`-separated.
    pub bundle: String,
    pub run_index: u32,
    /// The step after which the validation ran (0-based, as in steps.csv).
    pub step: u64,
    /// Training tokens handed out up to that step.
    pub tokens: u64,
    /// Timed training time up to that step.
    pub train_time_ms: f64,
    pub val_loss: f64,
}

/// Column names of curves.csv, in file order.
pub const CURVE_COLUMNS: &[&str] = &[
    "track",
    "submission",
    "bundle",
    "run_index",
    "step",
    "tokens",
    "train_time_ms",
    "val_loss",
];

/// Whether a run may stand on the frontier.
pub fn is_valid_candidate(r: &RunRecord) -> bool {
    r.role == Role::Candidate
        && r.status == RunStatus::Ok
        && r.official
        && r.final_val_loss.is_some_and(f64::is_finite)
}

/// The validation points of bundle `b`'s valid candidate runs, from their step logs
/// (which verification cross-checked against run.json).
pub fn rows_of(name: &str, b: &Bundle) -> Vec<CurveRow> {
    let mut out = Vec::new();
    // A run's own `official` flag is not enough: the bundle's pins must have held too.
    if !b.summary.official {
        return out;
    }
    let mut runs: Vec<&RunRecord> = b.inputs.runs.iter().collect();
    runs.sort_by_key(|r| r.run_index);
    for r in runs.into_iter().filter(|r| is_valid_candidate(r)) {
        let Some(Ok(log)) = b.inputs.steps.get(&r.run_index) else {
            continue;
        };
        for row in &log.rows {
            if let Some(loss) = row.val_loss.filter(|l| l.is_finite()) {
                out.push(CurveRow {
                    track: r.track.clone(),
                    submission: r.submission.clone(),
                    bundle: name.to_owned(),
                    run_index: r.run_index as u32,
                    step: row.step as u64,
                    tokens: row.tokens,
                    train_time_ms: row.train_time_ms,
                    val_loss: loss,
                });
            }
        }
    }
    out
}

/// Writes curves.csv atomically.
pub fn write_curves(path: &Path, rows: &[CurveRow]) -> Result<()> {
    let bytes = to_csv_bytes(rows, CURVE_COLUMNS)?;
    Ok(speedcert_fsio::write_atomic(
        path,
        &bytes,
        speedcert_fsio::Mode::Public,
    )?)
}

/// Reads curves.csv.
pub fn read_curves(path: &Path) -> Result<Vec<CurveRow>> {
    read_csv(path)
}

/// What a budget is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// Milliseconds of timed training.
    Time,
    /// Training tokens.
    Tokens,
}

/// One step of "best validation loss attained within a budget": from `budget` on, no
/// run has done better than `loss`, attained by that run at that step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStep {
    pub budget: f64,
    pub loss: f64,
    pub submission: String,
    pub bundle: String,
    pub run_index: u32,
    pub step: u64,
}

/// The step function of best attained loss over `axis`, as its breakpoints in budget
/// order: each is a validation that beat every validation at a smaller or equal budget
/// (ties in budget keep the lower loss). O(n log n).
pub fn best_by_budget(points: &[&CurveRow], axis: Budget) -> Vec<BudgetStep> {
    let x = |p: &CurveRow| match axis {
        Budget::Time => p.train_time_ms,
        Budget::Tokens => p.tokens as f64,
    };
    let mut order: Vec<&CurveRow> = points
        .iter()
        .copied()
        .filter(|p| x(p).is_finite() && p.val_loss.is_finite())
        .collect();
    order.sort_by(|a, b| {
        x(a).total_cmp(&x(b))
            .then(a.val_loss.total_cmp(&b.val_loss))
            .then_with(|| (&a.bundle, a.run_index, a.step).cmp(&(&b.bundle, b.run_index, b.step)))
    });
    let mut out: Vec<BudgetStep> = Vec::new();
    for p in order {
        if out.last().is_none_or(|best| p.val_loss < best.loss) {
            out.push(BudgetStep {
                budget: x(p),
                loss: p.val_loss,
                submission: p.submission.clone(),
                bundle: p.bundle.clone(),
                run_index: p.run_index,
                step: p.step,
            });
        }
    }
    out
}

/// The curve points of each track.
pub fn by_track(rows: &[CurveRow]) -> BTreeMap<String, Vec<&CurveRow>> {
    let mut out: BTreeMap<String, Vec<&CurveRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.track.clone()).or_default().push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u32, step: u64, tokens: u64, ms: f64, loss: f64) -> CurveRow {
        CurveRow {
            track: "t".into(),
            submission: format!("s{run}"),
            bundle: "b".into(),
            run_index: run,
            step,
            tokens,
            train_time_ms: ms,
            val_loss: loss,
        }
    }

    #[test]
    fn the_best_loss_within_a_budget_comes_from_any_point_of_any_curve() {
        // Run 0 is fast but ends worse; run 1 passes through a better loss mid-run than
        // run 0's final one, at a time run 0 had already finished.
        let rows = [
            row(0, 9, 100, 10.0, 3.0),
            row(0, 19, 200, 20.0, 2.5),
            row(1, 9, 150, 15.0, 3.1),
            row(1, 19, 300, 30.0, 2.4),
            row(1, 29, 450, 45.0, 2.0),
        ];
        let refs: Vec<&CurveRow> = rows.iter().collect();
        let time = best_by_budget(&refs, Budget::Time);
        let got: Vec<(f64, f64)> = time.iter().map(|s| (s.budget, s.loss)).collect();
        assert_eq!(
            got,
            vec![(10.0, 3.0), (20.0, 2.5), (30.0, 2.4), (45.0, 2.0)]
        );
        let tokens = best_by_budget(&refs, Budget::Tokens);
        let got: Vec<(f64, f64)> = tokens.iter().map(|s| (s.budget, s.loss)).collect();
        assert_eq!(
            got,
            vec![(100.0, 3.0), (200.0, 2.5), (300.0, 2.4), (450.0, 2.0)]
        );
        assert_eq!(time[3].submission, "s1");
    }
}
