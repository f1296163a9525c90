//! How to audit: the target, the p-value threshold, the track's hardware and the
//! bootstrap settings.

use serde::{Deserialize, Serialize};
use speedcert_stats::{BootstrapConfig, SPEEDRUN_TARGET_LOSS};

/// How to audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// The loss every run must beat on average on track 1 (3.28) and on folders not
    /// named like a known track; tracks 2 and 3 use their own (see
    /// [`TRACKS`](crate::TRACKS)).
    pub target_loss: f64,
    /// p-value threshold for "evidence sufficient" (the speedrun's own rule: 0.01).
    pub threshold: f64,
    /// GPUs per run on the track (8×H100): samples on other counts are side
    /// experiments and are not picked as the record's candidate or baseline.
    pub track_gpus: u32,
    pub bootstrap: BootstrapConfig,
    /// Where the records folder came from ("KellerJordan/modded-nanogpt at f411b3d"),
    /// printed in the reports so committed results say what they audited.
    pub source: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            target_loss: SPEEDRUN_TARGET_LOSS,
            threshold: 0.01,
            track_gpus: 8,
            bootstrap: BootstrapConfig::default(),
            source: None,
        }
    }
}
