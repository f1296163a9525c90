//! Throughput of the reference submission's training step, outside the harness: the
//! track's GPT and AdamW exactly as `submission/reference.rs` builds them (`GptAdamW`),
//! fed batches of random tokens through the harness's own `TrainStream` (so the
//! host-to-device copy of every batch is in the step, as in a real run).
//!
//! ```text
//! cargo run --release -p speedcert --example throughput -- \
//!     --device cuda --precision bf16,f32 --batch 8,16,32 --seq 1024 --steps 20 --warmup 5 --json
//! ```
//!
//! Reports per (precision, batch): step time (median, min, max over `--steps` timed
//! steps after `--warmup` untimed ones), tokens/s, achieved TFLOP/s from
//! `GptConfig::train_flops_per_token`, MFU against the H100's dense bf16 peak (989
//! TFLOP/s; `--peak-tflops` to change), the highest GPU memory NVML saw during the
//! configuration, and whether the GPU throttled. `--phases` adds a second pass that syncs
//! between forward+loss, backward and the optimizer step to show where the time goes.
//! It runs on CPU too (`--device cpu`, with a small `--layers/--d-model/...`), so it is
//! tested without a GPU. bench/throughput/run.sh drives it next to the PyTorch reference.
//! `--cpu-backend ndarray|candle|tch` times burn's other CPU backends on the same step (built
//! with `--features speedcert/cpu-backends` or `cpu-backends-tch`; bench/throughput/cpu.py
//! `--burn-backends`).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Parser;
use serde::Serialize;
use speedcert::backend::BackendChoice;
use speedcert::data::{TokenSource, TrainStream};
use speedcert::envinfo::Environment;
use speedcert::model::GptConfig;
use speedcert::submission::InitContext;
use speedcert::submission::reference::{GptAdamW, adamw, learning_rate};
use speedcert::telemetry::gpu::{GpuSampler, NvmlSource, SAMPLE_INTERVAL};
use speedcert::track::{DeviceKind, Precision, Track, TrackSpec};

/// The GPT-2-small track whose model and recipe are benchmarked by default.
const TRACK: &str = include_str!("../../records/tracks/synthetic-gpt2-1xh100.toml");
/// H100 SXM dense bf16 tensor-core peak, TFLOP/s (the speedrun's MFU reference).
const H100_BF16_DENSE_TFLOPS: f64 = 989.0;

#[derive(Debug, Parser)]
#[command(about = "Times the reference GPT + AdamW training step (tokens/s, MFU, peak memory)")]
struct Args {
    #[arg(long, value_enum, default_value_t = DeviceKind::Cuda)]
    device: DeviceKind,
    /// burn's CPU backend for `--device cpu`: the referee's Flex, or another for comparison.
    #[arg(long, value_enum, default_value_t = CpuBackendName::Flex)]
    cpu_backend: CpuBackendName,
    /// Comma-separated: f32, bf16 (CPU computes in f32 whatever is asked).
    #[arg(long, value_delimiter = ',', default_value = "bf16", value_enum)]
    precision: Vec<Precision>,
    /// Comma-separated batch sizes (sequences per step).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32")]
    batch: Vec<usize>,
    #[arg(long, default_value_t = 1024)]
    seq: usize,
    /// Timed steps per configuration.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed steps first (kernel compilation, autotuning, allocator growth).
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Model shape overrides; the default is the GPT-2-small track's model.
    #[arg(long)]
    layers: Option<usize>,
    #[arg(long)]
    d_model: Option<usize>,
    #[arg(long)]
    heads: Option<usize>,
    #[arg(long)]
    vocab: Option<usize>,
    /// Peak TFLOP/s for MFU; default 989 (H100 dense bf16) on CUDA, none on CPU.
    #[arg(long)]
    peak_tflops: Option<f64>,
    /// Also time forward+loss, backward and optimizer separately (syncs between them).
    #[arg(long)]
    phases: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the JSON report on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// burn 0.21's CPU backends that build here: burn-cpu's build downloads LLVM from a host this
/// machine cannot reach, and LibTorch needs a PyTorch 2.9.0 install named by hand (torch-sys
/// cannot download libtorch here). All but Flex are compiled in only with a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum CpuBackendName {
    Flex,
    Ndarray,
    Candle,
    /// LibTorch through burn-tch (libtorch from a PyTorch 2.9.0 install).
    Tch,
}

impl CpuBackendName {
    /// The speedcert feature this build lacks for the backend, if it lacks one.
    fn missing_feature(self) -> Option<&'static str> {
        match self {
            Self::Flex => None,
            Self::Ndarray | Self::Candle => {
                (!cfg!(feature = "cpu-backends")).then_some("cpu-backends")
            }
            Self::Tch => (!cfg!(feature = "cpu-backends-tch")).then_some("cpu-backends-tch"),
        }
    }
}

impl std::fmt::Display for CpuBackendName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().expect("no variant is skipped");
        f.write_str(value.get_name())
    }
}

/// One configuration's measurement. The same fields as torch_ref.py's rows.
#[derive(Debug, Serialize)]
struct Row {
    framework: &'static str,
    /// The CPU backend; absent on CUDA.
    cpu_backend: Option<CpuBackendName>,
    /// `bf16` or `f32` (what was asked; `computed_in` says what ran).
    mode: String,
    computed_in: Precision,
    device: DeviceKind,
    batch: usize,
    seq: usize,
    steps: usize,
    warmup: usize,
    status: &'static str,
    error: Option<String>,
    tokens_per_step: usize,
    step_ms_median: Option<f64>,
    step_ms_min: Option<f64>,
    step_ms_max: Option<f64>,
    tokens_per_s: Option<f64>,
    achieved_tflops: Option<f64>,
    mfu: Option<f64>,
    peak_memory_mib: Option<u64>,
    throttled: Option<bool>,
    /// Last training loss seen (a sanity check: finite, near ln(vocab) at the start).
    last_loss: Option<f64>,
    /// `--phases`: median ms of forward+loss, backward, optimizer step.
    phases_ms: Option<Phases>,
}

#[derive(Debug, Clone, Serialize)]
struct Phases {
    forward_loss: f64,
    backward: f64,
    optimizer: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    schema: &'static str,
    framework: &'static str,
    started_at: String,
    command: Vec<String>,
    model: ModelShape,
    peak_tflops: Option<f64>,
    env: Environment,
    results: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct ModelShape {
    n_layer: usize,
    d_model: usize,
    n_head: usize,
    vocab_size: usize,
    seq_len: usize,
    params: usize,
    train_flops_per_token: f64,
}

/// Uniform random tokens from a xorshift generator: cheap, so the host side of the step
/// is the stream's copy to the device, not token generation.
struct RandomTokens {
    state: u64,
    vocab: u64,
}

impl TokenSource for RandomTokens {
    fn fill(&mut self, out: &mut [u16]) -> Result<(), speedcert::data::StreamError> {
        for slot in out {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *slot = (self.state % self.vocab) as u16;
        }
        Ok(())
    }
}

fn spec_for(args: &Args, batch: usize) -> TrackSpec {
    let mut spec = Track::parse(TRACK, Path::new("synthetic-gpt2-1xh100.toml"))
        .expect("the embedded track is valid")
        .spec;
    let m = &mut spec.model;
    m.n_layer = args.layers.unwrap_or(m.n_layer);
    m.d_model = args.d_model.unwrap_or(m.d_model);
    m.n_head = args.heads.unwrap_or(m.n_head);
    m.vocab_size = args.vocab.unwrap_or(m.vocab_size);
    m.seq_len = args.seq;
    spec.reference.batch_size = batch;
    spec
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn sync<B: Backend>(device: &B::Device) {
    B::sync(device).expect("device sync");
}

fn stream<B: Backend>(spec: &TrackSpec, device: &B::Device, seed: u64) -> TrainStream<B> {
    let source = RandomTokens {
        state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        vocab: spec.model.vocab_size as u64,
    };
    TrainStream::new(Box::new(source), device.clone(), None)
}

/// What one measurement trains: the track, its seed, and how many steps warm up before the
/// timed ones. Shared by the timings below so that each backend runs the same steps.
#[derive(Clone, Copy)]
struct Timing<'a> {
    spec: &'a TrackSpec,
    seed: u64,
    warmup: usize,
    steps: usize,
}

/// Times `GptAdamW::step`: returns the timed step durations (ms) and the last loss.
fn time_reference<B: AutodiffBackend>(
    timing: Timing<'_>,
    device: &B::Device,
) -> (Vec<f64>, Option<f64>) {
    let (spec, seed) = (timing.spec, timing.seed);
    let view = speedcert::submission::TrackView::of(spec);
    let ctx = InitContext {
        track: &view,
        device,
        seed,
        run_index: 0,
        ranks: speedcert::submission::Ranks::SOLO,
    };
    let mut sub =
        GptAdamW::<B>::new(&ctx, spec.reference.clone()).expect("the recipe fits one rank");
    let mut data = stream::<B>(spec, device, seed);
    let mut times = Vec::with_capacity(timing.steps);
    let mut last_loss = None;
    for step in 0..timing.warmup + timing.steps {
        sync::<B>(device);
        let t = Instant::now();
        let report = sub
            .step(&mut data, step)
            .expect("random tokens never run out");
        sync::<B>(device);
        if step >= timing.warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        last_loss = report.train_loss;
    }
    (times, last_loss)
}

/// The same step with a sync between its phases (slower in total: it drains the queue
/// three times), to see where the time goes.
fn time_phases<B: AutodiffBackend>(timing: Timing<'_>, device: &B::Device) -> Phases {
    let (spec, seed) = (timing.spec, timing.seed);
    B::seed(device, seed);
    let r = &spec.reference;
    let mut model = GptConfig::from(&spec.model).init::<B>(device);
    let mut optim = adamw(r).init::<B, speedcert::model::Gpt<B>>();
    let mut data = stream::<B>(spec, device, seed);
    let (mut fwd, mut bwd, mut opt) = (Vec::new(), Vec::new(), Vec::new());
    for step in 0..timing.warmup + timing.steps {
        let batch = data
            .next_batch(r.batch_size, spec.model.seq_len)
            .expect("random tokens never run out");
        sync::<B>(device);
        let t0 = Instant::now();
        let loss = model.loss(batch.inputs, batch.targets);
        let _ = loss.clone().into_data();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync::<B>(device);
        let t2 = Instant::now();
        model = optim.step(learning_rate(r, step), model, grads);
        sync::<B>(device);
        let t3 = Instant::now();
        if step >= timing.warmup {
            fwd.push((t1 - t0).as_secs_f64() * 1e3);
            bwd.push((t2 - t1).as_secs_f64() * 1e3);
            opt.push((t3 - t2).as_secs_f64() * 1e3);
        }
    }
    Phases {
        forward_loss: median(&mut fwd),
        backward: median(&mut bwd),
        optimizer: median(&mut opt),
    }
}

type Measured = (Vec<f64>, Option<f64>, Option<Phases>);

/// The timed steps and, with `phases`, a second pass split by phase (two warm-up steps).
fn measure<B: AutodiffBackend>(timing: Timing<'_>, device: &B::Device, phases: bool) -> Measured {
    let (times, loss) = time_reference::<B>(timing, device);
    let ph = phases.then(|| {
        let short = Timing {
            warmup: timing.warmup.min(2),
            ..timing
        };
        time_phases::<B>(short, device)
    });
    (times, loss, ph)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn bench(args: &Args, precision: Precision, batch: usize, peak_tflops: Option<f64>) -> Row {
    let choice = BackendChoice::new(args.device, precision);
    let spec = spec_for(args, batch);
    let flops_per_token = GptConfig::from(&spec.model).train_flops_per_token();
    let tokens_per_step = batch * args.seq;
    let sampler = match args.device {
        DeviceKind::Cpu => GpuSampler::disabled(),
        DeviceKind::Cuda => GpuSampler::start(NvmlSource::Default, SAMPLE_INTERVAL),
    };
    let timing = Timing {
        spec: &spec,
        seed: args.seed,
        warmup: args.warmup,
        steps: args.steps,
    };
    let phases = args.phases;
    let measured = catch_unwind(AssertUnwindSafe(|| match args.cpu_backend {
        CpuBackendName::Flex => {
            speedcert::with_backend!(choice, B, device, { measure::<B>(timing, &device, phases) })
        }
        #[cfg(feature = "cpu-backends")]
        CpuBackendName::Ndarray => {
            type B = burn::backend::Autodiff<burn::backend::NdArray>;
            measure::<B>(timing, &Default::default(), phases)
        }
        #[cfg(feature = "cpu-backends")]
        CpuBackendName::Candle => {
            // burn 0.21 deprecates burn-candle; it is still measured, as the comparison's third.
            #[allow(deprecated)]
            type B = burn::backend::Autodiff<burn::backend::Candle>;
            measure::<B>(timing, &Default::default(), phases)
        }
        #[cfg(feature = "cpu-backends-tch")]
        CpuBackendName::Tch => {
            type B = burn::backend::Autodiff<burn::backend::LibTorch>;
            measure::<B>(timing, &Default::default(), phases)
        }
        // Reached by the backends this build leaves out, which main refuses.
        #[allow(unreachable_patterns)]
        other => unreachable!("--cpu-backend {other} is not compiled in"),
    }));
    let gpu = sampler.stop();
    let mut row = Row {
        framework: "burn",
        cpu_backend: (args.device == DeviceKind::Cpu).then_some(args.cpu_backend),
        mode: precision.to_string(),
        computed_in: choice.precision(),
        device: args.device,
        batch,
        seq: args.seq,
        steps: args.steps,
        warmup: args.warmup,
        status: "ok",
        error: None,
        tokens_per_step,
        step_ms_median: None,
        step_ms_min: None,
        step_ms_max: None,
        tokens_per_s: None,
        achieved_tflops: None,
        mfu: None,
        peak_memory_mib: gpu.peak_memory_mib(),
        throttled: (!gpu.samples.is_empty()).then(|| gpu.throttled()),
        last_loss: None,
        phases_ms: None,
    };
    match measured {
        Ok((mut times, loss, ph)) if !times.is_empty() => {
            let med = median(&mut times);
            let tok_s = tokens_per_step as f64 / (med / 1e3);
            let tflops = tok_s * flops_per_token / 1e12;
            row.step_ms_median = Some(med);
            row.step_ms_min = times.first().copied();
            row.step_ms_max = times.last().copied();
            row.tokens_per_s = Some(tok_s);
            row.achieved_tflops = Some(tflops);
            row.mfu = peak_tflops.map(|p| tflops / p);
            row.last_loss = loss;
            row.phases_ms = ph;
        }
        Ok(_) => {
            row.status = "failed";
            row.error = Some("no timed steps (--steps 0)".into());
        }
        Err(p) => {
            row.status = "failed";
            row.error = Some(panic_text(p));
        }
    }
    row
}

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn table(report: &Report) -> String {
    let m = &report.model;
    let mut out = format!(
        "burn reference step · {} layers x {} wide, {} heads, vocab {}, seq {} · {:.1}M params · {:.3} GFLOP/token\n",
        m.n_layer,
        m.d_model,
        m.n_head,
        m.vocab_size,
        m.seq_len,
        m.params as f64 / 1e6,
        m.train_flops_per_token / 1e9
    );
    out.push_str(&format!(
        "{:<6} {:>5}  {:>12}  {:>12}  {:>9}  {:>6}  {:>10}  {}\n",
        "prec", "batch", "step median", "tokens/s", "TFLOP/s", "MFU", "peak mem", "note"
    ));
    for r in &report.results {
        let note = match (&r.error, r.throttled, &r.phases_ms) {
            (Some(e), _, _) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
            (None, Some(true), _) => "throttled".into(),
            (None, _, Some(p)) => format!(
                "fwd+loss {:.1} ms · bwd {:.1} ms · optim {:.1} ms",
                p.forward_loss, p.backward, p.optimizer
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<6} {:>5}  {:>12}  {:>12}  {:>9}  {:>6}  {:>10}  {}\n",
            r.mode,
            r.batch,
            fmt_opt(r.step_ms_median, |v| format!("{v:.2} ms")),
            fmt_opt(r.tokens_per_s, |v| format!("{v:.0}")),
            fmt_opt(r.achieved_tflops, |v| format!("{v:.1}")),
            fmt_opt(r.mfu, |v| format!("{:.1}%", v * 100.0)),
            r.peak_memory_mib
                .map(|v| format!("{v} MiB"))
                .unwrap_or_else(|| "-".into()),
            note
        ));
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.cpu_backend != CpuBackendName::Flex {
        anyhow::ensure!(
            args.device == DeviceKind::Cpu,
            "--cpu-backend {} needs --device cpu",
            args.cpu_backend
        );
        if let Some(feature) = args.cpu_backend.missing_feature() {
            anyhow::bail!(
                "--cpu-backend {}: not in this build; build the example with --features speedcert/{feature}",
                args.cpu_backend
            );
        }
    }
    // The harness trains with this allocator policy; so does the benchmark.
    speedcert::alloc::keep_freed_memory();
    speedcert::threads::join_compute_pool();
    if args.device == DeviceKind::Cuda {
        speedcert::backend::cuda_preflight()?;
    }
    let peak_tflops = args.peak_tflops.or(match args.device {
        DeviceKind::Cuda => Some(H100_BF16_DENSE_TFLOPS),
        DeviceKind::Cpu => None,
    });
    let shape_spec = spec_for(&args, 1);
    let cfg = GptConfig::from(&shape_spec.model);
    let mut results = Vec::new();
    for &precision in &args.precision {
        for &batch in &args.batch {
            let row = bench(&args, precision, batch, peak_tflops);
            if !args.json {
                eprintln!(
                    "{} batch {}: {}",
                    row.mode,
                    row.batch,
                    row.tokens_per_s
                        .map(|t| format!("{t:.0} tokens/s"))
                        .unwrap_or_else(|| format!(
                            "failed: {}",
                            row.error.as_deref().unwrap_or("?")
                        ))
                );
            }
            results.push(row);
        }
    }
    let report = Report {
        schema: "speedcert/bench-throughput/v1",
        framework: "burn",
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: std::env::args().collect(),
        model: ModelShape {
            n_layer: cfg.n_layer,
            d_model: cfg.d_model,
            n_head: cfg.n_head,
            vocab_size: cfg.vocab_size,
            seq_len: cfg.seq_len,
            params: cfg.num_params(),
            train_flops_per_token: cfg.train_flops_per_token(),
        },
        peak_tflops,
        env: speedcert::envinfo::collect(),
        results,
    };
    if !common::emit_report(&report, args.out.as_deref(), args.json)? {
        print!("{}", table(&report));
    }
    let failed = report.results.iter().any(|r| r.status != "ok");
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
