//! `{{name}}`: a speedcert submission. It starts as the track's reference recipe (the
//! reference GPT trained with AdamW) with the peak learning rate scaled by [`LR_SCALE`].
//! Change anything in this crate; `speedcert certify --submission <this folder>` builds
//! it from source, runs it fenced and judges it. README.md has the commands.

use speedcert_sdk::burn::tensor::backend::AutodiffBackend;
use speedcert_sdk::burn::tensor::{Int, Tensor};
use speedcert_sdk::reference::GptAdamW;
use speedcert_sdk::{Family, InitContext, StepReport, SubmissionError, TrainStream};

/// Multiplies the reference recipe's peak learning rate.
pub const LR_SCALE: f64 = 1.0;

/// The type Cargo.toml's `[package.metadata.speedcert] family` names.
pub struct Submission;

impl Family for Submission {
    type For<B: AutodiffBackend> = Run<B>;
    fn name(&self) -> &'static str {
        // Must equal `[package.metadata.speedcert] name`.
        "{{name}}"
    }
    fn description(&self) -> &'static str {
        "the reference recipe with its learning rate scaled by LR_SCALE"
    }
}

/// One run's state: the model and its optimizer.
pub struct Run<B: AutodiffBackend>(GptAdamW<B>);

impl<B: AutodiffBackend> speedcert_sdk::Submission<B> for Run<B> {
    /// Untimed: builds the model. No training data is available here.
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let mut recipe = ctx.track.reference.clone();
        recipe.learning_rate *= LR_SCALE;
        Ok(Self(GptAdamW::new(ctx, recipe)?))
    }

    /// Timed: one optimizer step on the next batch of the training stream.
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        self.0.step(data, step)
    }

    fn finished(&self, step: usize) -> bool {
        self.0.finished(step)
    }

    fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3> {
        self.0.logits(tokens)
    }
}
