//! The reference submission: the track's GPT trained with AdamW on the track's recipe
//! (linear warmup, flat, linear cooldown to zero). Every track starts from it.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};

use speedcert_track::RecipeSpec;

use crate::model::{Gpt, GptConfig};
use crate::{Family, InitContext, StepReport, Submission, SubmissionError, TrainStream};

/// The trapezoidal schedule: warmup, flat, then linear decay over the last
/// `cooldown_frac` of the steps.
pub fn learning_rate(recipe: &RecipeSpec, step: usize) -> f64 {
    let steps = recipe.steps as f64;
    let s = step as f64;
    let peak = recipe.learning_rate;
    if step < recipe.warmup_steps {
        return peak * (s + 1.0) / recipe.warmup_steps as f64;
    }
    let cooldown_start = steps * (1.0 - recipe.cooldown_frac);
    if s < cooldown_start || recipe.cooldown_frac == 0.0 {
        peak
    } else {
        peak * ((steps - s) / (steps - cooldown_start)).clamp(0.0, 1.0)
    }
}

/// The reference optimizer: AdamW with the recipe's betas and decoupled weight decay,
/// eps 1e-8 (PyTorch's default, so bench/throughput's PyTorch side matches it).
pub fn adamw(recipe: &RecipeSpec) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_1(recipe.beta1 as f32)
        .with_beta_2(recipe.beta2 as f32)
        .with_epsilon(1e-8)
        .with_weight_decay(recipe.weight_decay as f32)
}

/// The reference GPT and its optimizer, for any recipe.
pub struct GptAdamW<B: AutodiffBackend> {
    model: Option<Gpt<B>>,
    optim: OptimizerAdaptor<AdamW, Gpt<B>, B>,
    recipe: RecipeSpec,
    seq_len: usize,
}

impl<B: AutodiffBackend> GptAdamW<B> {
    pub fn new(ctx: &InitContext<'_, B>, recipe: RecipeSpec) -> Self {
        B::seed(ctx.device, ctx.seed);
        let model = GptConfig::from(&ctx.track.model).init::<B>(ctx.device);
        let optim = adamw(&recipe).init();
        Self {
            model: Some(model),
            optim,
            recipe,
            seq_len: ctx.track.model.seq_len,
        }
    }

    fn model(&self) -> &Gpt<B> {
        self.model.as_ref().expect("model is present between steps")
    }

    pub fn step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        let batch = data.next_batch(self.recipe.batch_size, self.seq_len)?;
        let model = self.model.take().expect("model is present between steps");
        let loss = model.loss(batch.inputs, batch.targets);
        let train_loss: f64 = loss.clone().into_scalar().elem::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(&self.recipe, step);
        self.model = Some(self.optim.step(lr, model, grads));
        Ok(StepReport {
            train_loss: Some(train_loss),
            learning_rate: Some(lr),
        })
    }

    pub fn finished(&self, step: usize) -> bool {
        step >= self.recipe.steps
    }

    pub fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3> {
        self.model().valid().forward(tokens)
    }
}

/// `reference`: the track's recipe as written.
pub struct Reference;

impl Family for Reference {
    type For<B: AutodiffBackend> = ReferenceRun<B>;
    fn name(&self) -> &'static str {
        "reference"
    }
    fn description(&self) -> &'static str {
        "the track's reference GPT and AdamW recipe"
    }
    fn source(&self) -> &'static str {
        include_str!("reference.rs")
    }
}

pub struct ReferenceRun<B: AutodiffBackend>(GptAdamW<B>);

impl<B: AutodiffBackend> Submission<B> for ReferenceRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(GptAdamW::new(ctx, ctx.track.reference.clone())))
    }
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

/// `reference-fast`: the same model with a 1.5x learning rate and 70% of the steps. An
/// honest improvement used to exercise certification end to end; not tuned to be best.
pub struct ReferenceFast;

impl Family for ReferenceFast {
    type For<B: AutodiffBackend> = ReferenceFastRun<B>;
    fn name(&self) -> &'static str {
        "reference-fast"
    }
    fn description(&self) -> &'static str {
        "reference GPT, 1.5x learning rate, 70% of the steps"
    }
    fn source(&self) -> &'static str {
        include_str!("reference.rs")
    }
}

pub struct ReferenceFastRun<B: AutodiffBackend>(GptAdamW<B>);

impl<B: AutodiffBackend> Submission<B> for ReferenceFastRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let mut recipe = ctx.track.reference.clone();
        recipe.learning_rate *= 1.5;
        recipe.steps = (recipe.steps * 7).div_ceil(10);
        recipe.warmup_steps = recipe.warmup_steps.min(recipe.steps / 4);
        Ok(Self(GptAdamW::new(ctx, recipe)))
    }
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
