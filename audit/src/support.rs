//! How well a record's claim is supported by its logs: the audit's fixed grading
//! vocabulary.

use serde::{Deserialize, Serialize};

/// How well an audited record's claim is supported by its own logs, in a fixed
/// vocabulary. Serialised as its [`Support::as_str`] text, so JSON, CSV and markdown
/// use the same words (in the reports' `verdict` field and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Support {
    /// The candidate's mean loss is below target at p < threshold and, where the
    /// record has a same-hardware baseline, its time is below the baseline's at
    /// p < threshold.
    #[serde(rename = "evidence sufficient")]
    EvidenceSufficient,
    /// Several runs, but a test misses the threshold.
    #[serde(rename = "insufficient")]
    Insufficient,
    /// One run: no test is possible.
    #[serde(rename = "single run")]
    SingleRun,
    /// No finished run in the record's folder, or the runs behind the record's
    /// stated loss evidence have no logs there.
    #[serde(rename = "logs missing")]
    LogsMissing,
    /// A figure the authors state is not what their own logs give.
    #[serde(rename = "claims disagree")]
    ClaimsDisagree,
}

impl Support {
    pub const ALL: [Support; 5] = [
        Support::EvidenceSufficient,
        Support::Insufficient,
        Support::SingleRun,
        Support::LogsMissing,
        Support::ClaimsDisagree,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Support::EvidenceSufficient => "evidence sufficient",
            Support::Insufficient => "insufficient",
            Support::SingleRun => "single run",
            Support::LogsMissing => "logs missing",
            Support::ClaimsDisagree => "claims disagree",
        }
    }
}

impl std::fmt::Display for Support {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
