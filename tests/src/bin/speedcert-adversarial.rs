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

/// The reference, but `init` first connects to `SPEEDCERT_TEST_CONNECT` (host:port) and
/// fails the run saying so if it cannot: run fenced, it must fail.
struct OpensSocket;
struct OpensSocketRun<B: AutodiffBackend>(GptAdamW<B>);

/// The reference, but `init` first reads the file `SPEEDCERT_TEST_READ` (standing for the
/// validation data or the certifier's key) and fails if it cannot: run fenced, it must.
struct ReadsFile;
struct ReadsFileRun<B: AutodiffBackend>(GptAdamW<B>);

/// The reference, but every call of `logits` shifts the next call's logits a little, as a
/// submission that learned from the batches it was shown during validation would: the
/// harness's check that validation changes nothing must fail the run.
struct LearnsInLogits;
struct LearnsInLogitsRun<B: AutodiffBackend>(GptAdamW<B>, std::cell::Cell<u32>);

family!(
    OpensSocket,
    OpensSocketRun,
    "opens-socket",
    "connects to SPEEDCERT_TEST_CONNECT in init"
);
family!(
    ReadsFile,
    ReadsFileRun,
    "reads-file",
    "reads SPEEDCERT_TEST_READ in init"
);
family!(
    LearnsInLogits,
    LearnsInLogitsRun,
    "learns-in-logits",
    "its logits change with every evaluation"
);

/// Trains the reference model in its untimed `init` on tokens it generates itself from
/// the public language of the track at `SPEEDCERT_TEST_TRACK` (a submission could copy the
/// seed from the published track file), then says it is finished before the clock's first
/// step. On the track's public language it reaches the target in zero timed steps; a
/// certification draws a secret language, on which it must miss.
struct PretrainsOnPublicLanguage;
struct PretrainsOnPublicLanguageRun<B: AutodiffBackend>(GptAdamW<B>);

family!(
    PretrainsOnPublicLanguage,
    PretrainsOnPublicLanguageRun,
    "pretrains-on-public-language",
    "learns the track's published language in init, trains 0 timed steps"
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

fn reference<B: AutodiffBackend>(ctx: &InitContext<'_, B>) -> Result<GptAdamW<B>, SubmissionError> {
    GptAdamW::new(ctx, ctx.track.reference.clone())
}

impl<B: AutodiffBackend> Submission<B> for PeeksFutureRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)?))
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
        Ok(Self(reference(ctx)?))
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
        Ok(Self(reference(ctx)?, ctx.run_index))
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
        Ok(Self(reference(ctx)?))
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
        Ok(Self(reference(ctx)?, std::time::Duration::from_micros(us)))
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
        Ok(Self(reference(ctx)?))
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

impl<B: AutodiffBackend> Submission<B> for OpensSocketRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let addr = std::env::var("SPEEDCERT_TEST_CONNECT").unwrap_or_default();
        std::net::TcpStream::connect(&addr)
            .map_err(|e| SubmissionError::Message(format!("connect to {addr}: {e}")))?;
        Ok(Self(reference(ctx)?))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        self.0.step(data, step)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for ReadsFileRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let path = std::env::var("SPEEDCERT_TEST_READ").unwrap_or_default();
        std::fs::read(&path).map_err(|e| SubmissionError::Message(format!("read {path}: {e}")))?;
        Ok(Self(reference(ctx)?))
    }
    fn train_step(
        &mut self,
        data: &mut TrainStream<B>,
        step: usize,
    ) -> Result<StepReport, SubmissionError> {
        self.0.step(data, step)
    }
    delegate_to_inner!();
}

impl<B: AutodiffBackend> Submission<B> for LearnsInLogitsRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        Ok(Self(reference(ctx)?, std::cell::Cell::new(0)))
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
        let calls = self.1.get();
        self.1.set(calls + 1);
        self.0.logits(tokens) * (1.0 + 1e-2 * calls as f64)
    }
}

impl<B: AutodiffBackend> Submission<B> for PretrainsOnPublicLanguageRun<B> {
    fn init(ctx: &InitContext<'_, B>) -> Result<Self, SubmissionError> {
        let path = std::env::var("SPEEDCERT_TEST_TRACK").unwrap_or_default();
        let track = speedcert::track::Track::load(std::path::Path::new(&path))
            .map_err(|e| SubmissionError::Message(format!("{path}: {e}")))?;
        let speedcert::track::DataSpec::Synthetic(s) = &track.spec.data else {
            return Err(SubmissionError::Message("not a synthetic track".into()));
        };
        let stream = speedcert_data::synthetic::SyntheticStream::new(&s.language, ctx.seed)
            .map_err(|e| SubmissionError::Message(e.to_string()))?;
        let mut data = TrainStream::<B>::new(
            Box::new(speedcert::data::SyntheticSource(stream)),
            ctx.device.clone(),
            None,
        );
        let mut model = reference(ctx)?;
        for step in 0..ctx.track.reference.steps {
            model.step(&mut data, step)?;
        }
        Ok(Self(model))
    }
    fn train_step(
        &mut self,
        _: &mut TrainStream<B>,
        _: usize,
    ) -> Result<StepReport, SubmissionError> {
        Ok(StepReport::default())
    }
    fn finished(&self, _: usize) -> bool {
        true
    }
    fn logits(&self, tokens: Tensor<B::InnerBackend, 2, Int>) -> Tensor<B::InnerBackend, 3> {
        self.0.logits(tokens)
    }
}

/// Runs before `main`, as a static constructor in a submission's crate (or one of its
/// dependencies) would: with `SPEEDCERT_TEST_PREMAIN_PROBE` set it tries to make a socket
/// and says on stderr, naming its subcommand, whether it could. A fenced run must already
/// be fenced here (tests/tests/submissions.rs).
#[used]
#[unsafe(link_section = ".init_array")]
static PREMAIN_PROBE: extern "C" fn() = premain_probe;

extern "C" fn premain_probe() {
    if std::env::var_os("SPEEDCERT_TEST_PREMAIN_PROBE").is_none() {
        return;
    }
    // Not std::env::args: the standard library may not have read them yet.
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let subcommand = cmdline
        .split(|&b| b == 0)
        .nth(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default();
    let socket = match std::net::UdpSocket::bind("127.0.0.1:0") {
        Ok(_) => "opened".to_owned(),
        Err(e) => format!("refused ({e})"),
    };
    eprintln!("premain probe in `{subcommand}`: socket {socket}");
}

fn main() -> std::process::ExitCode {
    let registry = Registry::builtin()
        .with(PeeksFuture)
        .with(FakeLoss)
        .with(PanicsInRun2)
        .with(EmitsNan)
        .with(SlowsByEnv)
        .with(DelayedReference)
        .with(SlowedReference)
        .with(OpensSocket)
        .with(ReadsFile)
        .with(LearnsInLogits)
        .with(PretrainsOnPublicLanguage);
    speedcert::cli::main_with(registry)
}
