//! The named anti-gaming checks of summary.json, as typed ids: which checks exist, which
//! only make a bundle unofficial (the environment pins), and from which summary schema
//! on each is computed, so a bundle is always verified against the checks of its own
//! schema.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::SummaryVersion;

/// One check's id, serialized as its name (`causality`, `pin.driver`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CheckId {
    #[serde(rename = "causality")]
    Causality,
    #[serde(rename = "run_failures")]
    RunFailures,
    #[serde(rename = "validation_isolation")]
    ValidationIsolation,
    #[serde(rename = "loss_floor")]
    LossFloor,
    #[serde(rename = "heldout_validation")]
    HeldoutValidation,
    #[serde(rename = "independent_seeds")]
    IndependentSeeds,
    #[serde(rename = "timing_ownership")]
    TimingOwnership,
    #[serde(rename = "token_accounting")]
    TokenAccounting,
    #[serde(rename = "identity")]
    Identity,
    /// Every finished run's steps.csv agrees with its run.json (summary v2 on).
    #[serde(rename = "step_log")]
    StepLog,
    /// Every finished command run's log is whole, in order, within its wall time, and
    /// what its run.json says (summary v4 on; command certifications only).
    #[serde(rename = "command_log")]
    CommandLog,
    #[serde(rename = "pin.device")]
    PinDevice,
    #[serde(rename = "pin.gpu_model")]
    PinGpuModel,
    #[serde(rename = "pin.driver")]
    PinDriver,
    #[serde(rename = "pin.cuda")]
    PinCuda,
    #[serde(rename = "pin.gpu_count")]
    PinGpuCount,
    /// Every finished run was in the fences the track requires (only when it requires any).
    #[serde(rename = "pin.fences")]
    PinFences,
}

impl CheckId {
    pub const ALL: [CheckId; 17] = [
        CheckId::Causality,
        CheckId::RunFailures,
        CheckId::ValidationIsolation,
        CheckId::LossFloor,
        CheckId::HeldoutValidation,
        CheckId::IndependentSeeds,
        CheckId::TimingOwnership,
        CheckId::TokenAccounting,
        CheckId::Identity,
        CheckId::StepLog,
        CheckId::CommandLog,
        CheckId::PinDevice,
        CheckId::PinGpuModel,
        CheckId::PinDriver,
        CheckId::PinCuda,
        CheckId::PinGpuCount,
        CheckId::PinFences,
    ];

    /// The name in summary.json and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Causality => "causality",
            CheckId::RunFailures => "run_failures",
            CheckId::ValidationIsolation => "validation_isolation",
            CheckId::LossFloor => "loss_floor",
            CheckId::HeldoutValidation => "heldout_validation",
            CheckId::IndependentSeeds => "independent_seeds",
            CheckId::TimingOwnership => "timing_ownership",
            CheckId::TokenAccounting => "token_accounting",
            CheckId::Identity => "identity",
            CheckId::StepLog => "step_log",
            CheckId::CommandLog => "command_log",
            CheckId::PinDevice => "pin.device",
            CheckId::PinGpuModel => "pin.gpu_model",
            CheckId::PinDriver => "pin.driver",
            CheckId::PinCuda => "pin.cuda",
            CheckId::PinGpuCount => "pin.gpu_count",
            CheckId::PinFences => "pin.fences",
        }
    }

    /// An environment pin: a failed pin makes a bundle unofficial, not invalid.
    pub fn is_pin(self) -> bool {
        matches!(
            self,
            CheckId::PinDevice
                | CheckId::PinGpuModel
                | CheckId::PinDriver
                | CheckId::PinCuda
                | CheckId::PinGpuCount
                | CheckId::PinFences
        )
    }

    /// The first summary schema that computes this check.
    pub fn since(self) -> SummaryVersion {
        match self {
            CheckId::StepLog => SummaryVersion::V2,
            CheckId::CommandLog => SummaryVersion::V4,
            _ => SummaryVersion::V1,
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A check's outcome (summary.json `checks[]`): a pass or fail with a detail a person
/// can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: CheckId,
    pub passed: bool,
    pub detail: String,
}

impl CheckResult {
    pub fn new(name: CheckId, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            name,
            passed,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json() {
        for id in CheckId::ALL {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
            assert_eq!(serde_json::from_str::<CheckId>(&json).unwrap(), id);
            assert_eq!(id.is_pin(), id.as_str().starts_with("pin."));
        }
    }
}
