//! The certification verdict: its fixed vocabulary, defined once. Records, the CLI's
//! exit code and the site all read it from here.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "new record")]
    NewRecord,
    #[serde(rename = "not significant")]
    NotSignificant,
    #[serde(rename = "loss target missed")]
    LossTargetMissed,
    #[serde(rename = "check failed")]
    CheckFailed,
    #[serde(rename = "unofficial environment")]
    UnofficialEnvironment,
    #[serde(rename = "no valid runs")]
    NoValidRuns,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NewRecord => "new record",
            Verdict::NotSignificant => "not significant",
            Verdict::LossTargetMissed => "loss target missed",
            Verdict::CheckFailed => "check failed",
            Verdict::UnofficialEnvironment => "unofficial environment",
            Verdict::NoValidRuns => "no valid runs",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
