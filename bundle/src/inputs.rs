//! What a summary is computed from: a bundle folder's raw files, read and checked for
//! the consistency that no computation can repair ([`crate::consistency`]: a run in the
//! wrong folder or of another track, a seed not the planned one, a log edited after its
//! run).

use std::collections::BTreeMap;
use std::path::Path;

use speedcert_track::Track;

use crate::consistency::{self, Problem};
use crate::env::Environment;
use crate::io::{self, BundleError};
use crate::layout;
use crate::plan::Plan;
use crate::run::RunRecord;
use crate::steps::StepLog;

/// Everything a summary is computed from, read from a bundle folder.
#[derive(Debug)]
pub struct BundleInputs {
    pub track: Track,
    pub plan: Plan,
    pub env: Environment,
    pub runs: Vec<RunRecord>,
    /// Each finished run's steps.csv by run index, or why it could not be read.
    pub steps: BTreeMap<usize, Result<StepLog, String>>,
    /// Each command run's train.log by run index, or why it could not be read.
    pub logs: BTreeMap<usize, Result<String, String>>,
    /// The capability report of each submission built from a shipped source.
    pub capabilities: Vec<crate::source::SourceCapabilities>,
}

impl BundleInputs {
    pub fn read(dir: &Path) -> Result<Self, BundleError> {
        let track_path = dir.join(layout::TRACK);
        let track = Track::load(&track_path)
            .map_err(|e| BundleError::format(&track_path, e.to_string()))?;
        let plan: Plan = io::read_json(&dir.join(layout::PLAN))?;
        let env: Environment = io::read_json(&dir.join(layout::ENV))?;
        let mut runs = Vec::new();
        let mut steps = BTreeMap::new();
        let mut logs = BTreeMap::new();
        let mut problems = Vec::new();
        for slot in &plan.slots {
            let run_dir = layout::run_dir(dir, slot.index);
            let path = run_dir.join(layout::RUN);
            if path.is_file() {
                let record = io::read_json::<RunRecord>(&path)?;
                if record.run_index != slot.index {
                    problems.push(Problem {
                        file: layout::run_file(slot.index, layout::RUN),
                        message: format!(
                            "run_index is {}, but the file is run {} of plan.json",
                            record.run_index, slot.index
                        ),
                    });
                    continue;
                }
                if record.command.is_some() {
                    let log = run_dir.join(layout::TRAIN_LOG);
                    logs.insert(
                        slot.index,
                        std::fs::read_to_string(&log)
                            .map_err(|e| format!("{}: {e}", layout::TRAIN_LOG)),
                    );
                } else {
                    steps.insert(slot.index, StepLog::read_csv(&run_dir.join(layout::STEPS)));
                }
                runs.push(record);
            }
        }
        problems.extend(consistency::problems(dir, &track, &plan, &env, &runs));
        if !problems.is_empty() {
            return Err(BundleError::Inconsistent { problems });
        }
        let capabilities = crate::source::plan_capabilities(dir, &plan);
        Ok(Self {
            track,
            plan,
            env,
            runs,
            steps,
            logs,
            capabilities,
        })
    }
}
