//! The speedrun's tracks: where each keeps its records, the loss it targets and what
//! its records compete on.

use serde::{Deserialize, Serialize};

/// What a track's records compete on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Objective {
    /// Training time to the target loss (tracks 1 and 2): runs go to step N of N.
    #[serde(rename = "train time")]
    TrainTime,
    /// Steps to the target loss (track 3): runs may stop early, at their last
    /// validation, and the step count is the result; times are not compared.
    #[serde(rename = "steps")]
    Steps,
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::TrainTime => "train time",
            Objective::Steps => "steps",
        }
    }
}

/// One track of the speedrun's `records/` folder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackSpec {
    /// Folder name under `records/`.
    pub name: &'static str,
    /// Target loss as the track's README states it; `None` means
    /// [`Options::target_loss`](crate::Options::target_loss).
    pub target_loss: Option<f64>,
    pub objective: Objective,
    /// Subfolder holding the record folders ("" for the track folder itself).
    pub records_in: &'static str,
}

impl TrackSpec {
    /// The spec of a folder not named like a known track: train time, the default
    /// target, records in the folder itself.
    pub const UNKNOWN: TrackSpec = TrackSpec {
        name: "",
        target_loss: None,
        objective: Objective::TrainTime,
        records_in: "",
    };

    /// The known track named `name`, else [`TrackSpec::UNKNOWN`].
    pub fn named(name: &str) -> TrackSpec {
        TRACKS
            .iter()
            .copied()
            .find(|t| t.name == name)
            .unwrap_or(TrackSpec::UNKNOWN)
    }
}

/// The speedrun's tracks at the audited revision, with each one's own target and
/// objective (from its README).
pub const TRACKS: [TrackSpec; 3] = [
    TrackSpec {
        name: "track_1_short",
        target_loss: None,
        objective: Objective::TrainTime,
        records_in: "",
    },
    TrackSpec {
        name: "track_2_medium",
        target_loss: Some(2.92),
        objective: Objective::TrainTime,
        records_in: "",
    },
    TrackSpec {
        name: "track_3_optimization",
        target_loss: Some(3.28),
        objective: Objective::Steps,
        records_in: "results",
    },
];
