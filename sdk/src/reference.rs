//! The reference submission: the track's GPT trained with AdamW on the track's recipe
//! (linear warmup, flat, linear cooldown to zero). Every track starts from it.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};

use speedcert_track::RecipeSpec;

use crate::model::{Gpt, GptConfig};
use crate::{Family, InitContext, Ranks, StepReport, Submission, SubmissionError, TrainStream};

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
    ranks: Ranks,
    device: B::Device,
    /// Sequences per pass on this rank, and passes per step.
    micro: usize,
    passes: usize,
}

/// burn's seed is one generator for the whole process: two models initialised at once (rank
/// threads, tests in one process) would interleave their draws and neither would be the
/// seed's model. Whoever seeds or draws holds this from the seed to the last draw.
pub(crate) fn seeded_draws() -> std::sync::MutexGuard<'static, ()> {
    static DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    DRAWS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<B: AutodiffBackend> GptAdamW<B> {
    /// The recipe's batch is the whole machine's: each of `ctx.ranks.world` ranks trains
    /// on its share, in micro-batches of at most the recipe's, and the ranks average
    /// their gradients before every step.
    pub fn new(ctx: &InitContext<'_, B>, recipe: RecipeSpec) -> Result<Self, SubmissionError> {
        let share = ctx.ranks.share(recipe.batch_size)?;
        let micro = recipe.rank_micro_batch(ctx.ranks.world);
        if !share.is_multiple_of(micro) {
            return Err(SubmissionError::Message(format!(
                "each of {} ranks trains on {share} sequences per step, which micro-batches of {micro} do not divide",
                ctx.ranks.world
            )));
        }
        let model = {
            let _draws = seeded_draws();
            B::seed(ctx.device, ctx.seed);
            GptConfig::from(&ctx.track.model).init::<B>(ctx.device)
        };
        let model = ctx.ranks.broadcast(model, ctx.device)?;
        let optim = adamw(&recipe).init();
        Ok(Self {
            model: Some(model),
            optim,
            recipe,
            seq_len: ctx.track.model.seq_len,
            ranks: ctx.ranks,
            device: ctx.device.clone(),
            micro,
            passes: share / micro,
        })
    }

    fn model(&self) -> &Gpt<B> {
        self.model.as_ref().expect("model is present between steps")
    }

    pub fn step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        let model = self.model.take().expect("model is present between steps");
        let passes = self.passes;
        let (grads, train_loss) = if passes == 1 {
            let batch = data.next_batch(self.micro, self.seq_len)?;
            let loss = model.loss(batch.inputs, batch.targets);
            let train_loss: f64 = loss.clone().into_scalar().elem::<f64>();
            (
                GradientsParams::from_grads(loss.backward(), &model),
                train_loss,
            )
        } else {
            // Equal micro-batches drawn in stream order are the whole batch's rows, and the
            // mean of their mean losses is its mean loss: scaling each pass by 1/passes
            // makes the summed gradients the whole batch's gradient.
            let mut sum = GradientsAccumulator::new();
            let mut train_loss = 0.0;
            for _ in 0..passes {
                let batch = data.next_batch(self.micro, self.seq_len)?;
                let loss = model
                    .loss(batch.inputs, batch.targets)
                    .div_scalar(passes as f64);
                train_loss += loss.clone().into_scalar().elem::<f64>();
                sum.accumulate(&model, GradientsParams::from_grads(loss.backward(), &model));
            }
            (sum.grads(), train_loss)
        };
        // Every rank's share is equal, so the mean of their gradients (and losses) is the
        // whole batch's.
        let grads = self.ranks.all_reduce(grads, &model)?;
        let train_loss = self.ranks.mean::<B>(train_loss, &self.device)?;
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
        Ok(Self(GptAdamW::new(ctx, ctx.track.reference.clone())?))
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
        Ok(Self(GptAdamW::new(ctx, recipe)?))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CpuBackend, tiny_track};
    use crate::{StreamError, TokenSource};

    /// A deterministic Markov stream: each token is `5 x previous + noise` modulo 64 with
    /// noise in 0..4, so there is something to learn (entropy ln 4) but not at once.
    struct Markov {
        state: u64,
        last: u16,
    }

    impl TokenSource for Markov {
        fn fill(&mut self, out: &mut [u16]) -> Result<(), StreamError> {
            for t in out {
                self.state = self
                    .state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                self.last = (self.last * 5 + (self.state >> 62) as u16) % 64;
                *t = self.last;
            }
            Ok(())
        }
    }

    /// Train losses and a validation logit sum of `steps` steps with the given micro-batch.
    fn train(micro_batch_size: Option<usize>, steps: usize) -> (Vec<f64>, f64) {
        type B = CpuBackend;
        let mut track = tiny_track(steps);
        track.reference.micro_batch_size = micro_batch_size;
        let device = Default::default();
        let ctx = InitContext {
            track: &track,
            device: &device,
            seed: 7,
            run_index: 0,
            ranks: Ranks::SOLO,
        };
        let mut run = GptAdamW::<B>::new(&ctx, track.reference.clone()).unwrap();
        let mut stream =
            TrainStream::<B>::new(Box::new(Markov { state: 1, last: 0 }), device, None);
        let losses = (0..steps)
            .map(|step| run.step(&mut stream, step).unwrap().train_loss.unwrap())
            .collect();
        let ids: Vec<i32> = (0..32).collect();
        let probe = Tensor::<<B as AutodiffBackend>::InnerBackend, 2, Int>::from_data(
            burn::tensor::TensorData::new(ids, [2, 16]),
            &device,
        );
        let logits: f64 = run.logits(probe).abs().sum().into_scalar().elem();
        (losses, logits)
    }

    #[test]
    fn accumulated_micro_batches_train_as_the_whole_batch() {
        let steps = 12;
        let (whole, whole_logits) = train(None, steps);
        for micro in [4, 2, 1] {
            let (acc, acc_logits) = train(Some(micro), steps);
            for (step, (a, w)) in acc.iter().zip(&whole).enumerate() {
                assert!(
                    (a - w).abs() < 1e-4,
                    "micro-batch {micro}, step {step}: loss {a} against {w}"
                );
            }
            let rel = (acc_logits - whole_logits).abs() / whole_logits;
            assert!(rel < 1e-4, "micro-batch {micro}: logits differ by {rel:e}");
        }
        // The model learned, so the passes' gradients mattered (AdamW would hide a wrong
        // gradient scale; the reported train loss, compared above, would not).
        assert!(whole[steps - 1] < whole[0] - 0.05, "{whole:?}");
    }
}
