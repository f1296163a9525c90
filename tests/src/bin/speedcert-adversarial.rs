//! The real `speedcert` command line with extra, dishonest or broken submissions
//! registered, so the end-to-end tests can check that certification catches them.
//! Never shipped: it exists to be attacked by the test suite.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};
use speedcert::data::TrainStream;
use speedcert::registry::Registry;
use speedcert::submission::reference::{GptAdamW, ReferenceFastRun};
use speedcert::submission::{Family, InitContext, StepReport, Submission, SubmissionError};

/// Trains like the reference, but its logits at position t are computed from the
/// sequence shifted left by one: it looks at token t+1. Causality must catch it.
struct PeeksFuture;
struct PeeksFutureRun<B: AutodiffBackend>(GptAdamW<B>);

/// Trains like the reference but claims a train loss of 0.0: the harness must ignore it.
struct FakeLoss;
struct FakeLossRun<B: AutodiffBackend>(GptAdamW<B>);

/// Panics in the middle of its second run (run index 1).
struct PanicsInRun2;
struct PanicsInRun2Run<B: AutodiffBackend>(GptAdamW<B>, usize);

/// Trains like the reference until step 5, where its step reports a NaN loss (as a
/// diverging run would; RMSNorm and QK-norm make the reference itself hard to blow up).
struct EmitsNan;
struct EmitsNanRun<B: AutodiffBackend>(GptAdamW<B>);

/// `reference-fast`, plus a sleep of `SPEEDCERT_TEST_STEP_SLEEP_MS` per step when that
/// variable is set: a machine that got slower since the record, for the nightly tests.
struct SlowsByEnv;
struct SlowsByEnvRun<B: AutodiffBackend>(ReferenceFastRun<B>, std::time::Duration);

/// The reference plus a fixed cost of `SPEEDCERT_TEST_STEP_DELAY_US` microseconds per step,
/// spent spinning on the clock (a sleep that short overshoots by scheduler latency): the
/// calibrated slow-down of the validity benchmark's power curves (bench/validity).
struct DelayedReference;
struct DelayedReferenceRun<B: AutodiffBackend>(GptAdamW<B>, std::time::Duration);

/// The reference, plus a fixed sleep of [`SLOWED_REFERENCE_SLEEP`] per step: a baseline
/// whose slowness is deterministic, so tests that need a verdict on time get one whatever
/// the machine's noise (the sizing is at the constant).
struct SlowedReference;
struct SlowedReferenceRun<B: AutodiffBackend>(GptAdamW<B>);

/// 100 ms on each of test-tiny's 40 steps: 4.0 s added to runs of 0.29 s of compute
/// (median; bench/results/timing-tests-2026-11-30.md). Sizing, for reference-fast against
/// it: 3 runs a side, Welch's one-sided test at p < 0.01 with as few as 2 degrees of
/// freedom (t > 6.965). With a gap of D = 4.09 s, one candidate run must be slower than
/// usual by 3D/7.965 = 1.54 s (a baseline run by D/1.99 = 2.05 s) to lose the verdict.
/// Measured with one core loaded (60 runs): the largest excursion above the median was
/// 0.20 s, the mean excursion 56 ms; an exponential tail with that mean puts one run past
/// 1.54 s at 6e-13, so the verdict fails with a probability far below 1e-6.
const SLOWED_REFERENCE_SLEEP: std::time::Duration = std::time::Duration::from_millis(100);

macro_rules! family {
    ($family:ident, $run:ident, $name:literal, $desc:literal) => {
        impl Family for $family {
            type For<B: AutodiffBackend> = $run<B>;
            fn name(&self) -> &'static str {
                $name
            }
            fn description(&self) -> &'static str {
                $desc
            }
            fn source(&self) -> &'static str {
                include_str!("speedcert-adversarial.rs")
            }
        }
    };
}

family!(
    PeeksFuture,
    PeeksFutureRun,
    "peeks-future",
    "logits look one token ahead"
);
family!(
    FakeLoss,
    FakeLossRun,
    "fake-loss",
    "reports a made-up train loss of 0"
);
family!(
    PanicsInRun2,
    PanicsInRun2Run,
    "panics-in-run-2",
    "panics during run index 1"
);
family!(
    EmitsNan,
    EmitsNanRun,
    "emits-nan",
    "its loss becomes NaN at step 5"
);

family!(
    SlowsByEnv,
    SlowsByEnvRun,
    "slows-by-env",
    "reference-fast, sleeping SPEEDCERT_TEST_STEP_SLEEP_MS per step"
);

family!(
    DelayedReference,
    DelayedReferenceRun,
    "delayed-reference",
    "the reference, spinning SPEEDCERT_TEST_STEP_DELAY_US per step"
);

family!(
    SlowedReference,
    SlowedReferenceRun,
    "slowed-reference",
    "the reference, sleeping 100 ms per step"
);

/// `finished` and `logits` as the wrapped submission (`self.0`) has them: these
/// submissions differ from it only in `init` and `train_step`.
macro_rules! delegate_to_inner {
    () => {
        fn finished(&self, step: usize) -> bool {
            self.0.finished(step)
        }
        fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3> {
            self.0.logits(tokens)
        }
    };
}

fn reference<B: AutodiffBackend>(ctx: &InitContext<'_, B>) -> GptAdamW<B> {
    GptAdamW::new(ctx, ctx.track.reference.clone())
}

impl<B: AutodiffBackend> Submission<B> for PeeksFutureRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)))
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
        let [_, t] = tokens.dims();
        let ahead = Tensor::cat(
            vec![
                tokens.clone().narrow(1, 1, t - 1),
                tokens.narrow(1, t - 1, 1),
            ],
            1,
        );
        self.0.logits(ahead)
    }
}

impl<B: AutodiffBackend> Submission<B> for FakeLossRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        let mut r = self.0.step(data, step)?;
        r.train_loss = Some(0.0);
        Ok(r)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for PanicsInRun2Run<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx), ctx.run_index))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        if self.1 == 1 && step == 10 {
            panic!("deliberate panic at step 10 of run index 1");
        }
        self.0.step(data, step)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for EmitsNanRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        let mut r = self.0.step(data, step)?;
        if step >= 5 {
            r.train_loss = r.train_loss.map(|l| l * f64::NAN);
        }
        Ok(r)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for SlowsByEnvRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let ms = std::env::var("SPEEDCERT_TEST_STEP_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Self(
            ReferenceFastRun::init(ctx)?,
            std::time::Duration::from_millis(ms),
        ))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        std::thread::sleep(self.1);
        self.0.train_step(data, step)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for DelayedReferenceRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let us = std::env::var("SPEEDCERT_TEST_STEP_DELAY_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Self(reference(ctx), std::time::Duration::from_micros(us)))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        let start = std::time::Instant::now();
        while start.elapsed() < self.1 {
            std::hint::spin_loop();
        }
        self.0.step(data, step)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for SlowedReferenceRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        std::thread::sleep(SLOWED_REFERENCE_SLEEP);
        self.0.step(data, step)
    }
    delegate_to_inner!();
}

fn main() -> std::process::ExitCode {
    let registry = Registry::builtin()
        .with(PeeksFuture)
        .with(FakeLoss)
        .with(PanicsInRun2)
        .with(EmitsNan)
        .with(SlowsByEnv)
        .with(DelayedReference)
        .with(SlowedReference);
    speedcert::cli::main_with(registry)
}
