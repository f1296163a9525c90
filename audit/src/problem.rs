//! Why a log file did not yield a usable run.

use serde::{Deserialize, Serialize};

use crate::parse::{LogFormat, RunLog};

/// The kind of problem, a fixed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The file could not be read.
    Unreadable,
    /// The file is empty.
    Empty,
    /// No `step:N/M` (or llm.c `s:N`) lines: notes, a script, or garbage.
    NotATrainingLog,
    /// The run stopped before its last step.
    Truncated,
    /// The run reached its last step but logged no validation loss there.
    NoFinalValidation,
    /// A finished run without a train time (llm.c logs); its loss is still used.
    NoTrainTime,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Empty => "empty",
            ProblemKind::NotATrainingLog => "not a training log",
            ProblemKind::Truncated => "truncated",
            ProblemKind::NoFinalValidation => "no final validation",
            ProblemKind::NoTrainTime => "no train time",
        }
    }

    /// Whether the run is left out of the statistics (everything but a missing
    /// train time, which only leaves it out of the time statistics).
    pub fn excludes_run(self) -> bool {
        self != ProblemKind::NoTrainTime
    }
}

/// A problem with one file, reported by path and never fatal to the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogProblem {
    /// Path relative to the records folder.
    pub file: String,
    pub kind: ProblemKind,
    /// What was expected and what was found.
    pub detail: String,
}

/// Classifies a parsed log: `None` when it is a finished run with a time.
pub fn problem_of(log: &RunLog, bytes: usize) -> Option<(ProblemKind, String)> {
    if bytes == 0 {
        return Some((ProblemKind::Empty, "the file is empty".into()));
    }
    let Some(format) = log.format else {
        return Some((
            ProblemKind::NotATrainingLog,
            format!(
                "no `step:N/M` lines (nor llm.c `s:N tel:X` lines) in {bytes} bytes{}",
                if log.code_lines > 0 {
                    format!("; {} lines of printed script", log.code_lines)
                } else {
                    String::new()
                }
            ),
        ));
    };
    if !log.is_complete() {
        let total = log.total_steps.map_or("?".to_string(), |t| t.to_string());
        let last = log.last_step.map_or("?".to_string(), |t| t.to_string());
        let last_val = log
            .val_points
            .last()
            .map_or("no validation at all".to_string(), |v| {
                format!(
                    "last validation at step {} (val_loss {})",
                    v.step, v.val_loss
                )
            });
        return Some(
            if log.last_step.is_some() && log.last_step == log.total_steps {
                (
                    ProblemKind::NoFinalValidation,
                    format!("reached step {last}/{total} but logged no val_loss there; {last_val}"),
                )
            } else {
                (
                    ProblemKind::Truncated,
                    format!("log ends at step {last} of {total}; {last_val}"),
                )
            },
        );
    }
    if log.train_time_ms.is_none() {
        let why = match format {
            LogFormat::LlmC => "llm.c logs carry no train time",
            LogFormat::TrainGpt => "the final step line has no train_time",
        };
        return Some((
            ProblemKind::NoTrainTime,
            format!("{why}; the final loss is used, the time is not"),
        ));
    }
    None
}
