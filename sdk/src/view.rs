//! The track as a submission sees it.

use speedcert_track::{ModelSpec, RecipeSpec, TrackSpec};

/// The redacted track: what a recipe needs to build and schedule its model, and nothing
/// from which data could be predicted. Seeds of the synthetic language and streams, shard
/// paths and digests, and the held-out slice stay with the harness (on a synthetic track
/// the language seed determines the exact next-token distribution: a submission that had
/// it could reach the target without training).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackView {
    pub name: String,
    /// The model shape every record of the track uses.
    pub model: ModelSpec,
    /// The reference submission's recipe; a submission may start from it.
    pub reference: RecipeSpec,
    /// Mean final validation loss a record must be significantly below.
    pub target_val_loss: f64,
    /// Training tokens a run may use (absent: unlimited).
    pub token_budget: Option<u64>,
    /// The harness validates every this many steps (and after the last), off the clock.
    pub validation_every_steps: usize,
}

impl TrackView {
    pub fn of(spec: &TrackSpec) -> Self {
        Self {
            name: spec.name.clone(),
            model: spec.model.clone(),
            reference: spec.reference.clone(),
            target_val_loss: spec.target.val_loss,
            token_budget: spec.target.token_budget,
            validation_every_steps: spec.validation.every_steps,
        }
    }
}
