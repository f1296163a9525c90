//! Why a log file did not yield a usable run.

use serde::{Deserialize, Serialize};

use crate::parse::{LineDefect, LogFormat, RunLog};

/// The kind of problem, a fixed vocabulary. Serialised as its [`ProblemKind::as_str`]
/// text, so the JSON says what the markdown and CSV say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProblemKind {
    /// The file could not be read.
    #[serde(rename = "unreadable")]
    Unreadable,
    /// The file is empty.
    #[serde(rename = "empty")]
    Empty,
    /// No `step:N/M` (or llm.c `s:N`) lines: notes, a script, or garbage.
    #[serde(rename = "not a training log")]
    NotATrainingLog,
    /// The run stopped before its last step.
    #[serde(rename = "truncated")]
    Truncated,
    /// The run reached its last step but logged no validation loss there.
    #[serde(rename = "no final validation")]
    NoFinalValidation,
    /// The final validation line is cut off (`val_loss:3` at the end of the file).
    #[serde(rename = "final line cut off")]
    FinalLineCutOff,
    /// The final validation loss is NaN or infinite.
    #[serde(rename = "non-finite loss")]
    NonFiniteLoss,
    /// The same run as a log counted earlier (same content, or same run id): counted
    /// once, there.
    #[serde(rename = "duplicate")]
    Duplicate,
    /// A finished run without a train time (llm.c logs); its loss is still used.
    #[serde(rename = "no train time")]
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
            ProblemKind::FinalLineCutOff => "final line cut off",
            ProblemKind::NonFiniteLoss => "non-finite loss",
            ProblemKind::Duplicate => "duplicate",
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
    if !log.is_complete()
        && let Some(defect) = log.last_val_defect
    {
        let line = log.last_val_line.as_deref().unwrap_or("");
        return Some(match defect {
            LineDefect::CutOff => (
                ProblemKind::FinalLineCutOff,
                format!(
                    "the last validation line `{line}` is incomplete (the file ends inside \
                     it, or it lacks the digits or train time of the lines before)"
                ),
            ),
            LineDefect::NonFinite => (
                ProblemKind::NonFiniteLoss,
                format!("the last validation line `{line}` has a non-finite loss"),
            ),
        });
    }
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
