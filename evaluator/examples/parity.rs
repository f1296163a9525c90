//! Command line for `speedcert::parity`: the reference step's loss trajectory from
//! hashed weights, to compare with bench/throughput/parity.py (PyTorch) on any device.
//!
//! ```text
//! cargo run --release -p speedcert --example parity -- --json > burn.json
//! python3 bench/throughput/parity.py --burn burn.json
//! cargo run --release -p speedcert --example parity -- --device cuda --json > burn-cuda.json
//! ```

mod common;

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;
use speedcert::backend::BackendChoice;
use speedcert::parity::{ParitySettings, loss_trajectory};
use speedcert::track::{DeviceKind, Precision};

#[derive(Debug, Parser)]
#[command(
    about = "Loss trajectory of the reference step from hashed weights, for parity with PyTorch"
)]
struct Args {
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
    /// f32 or bf16 (CUDA only; the CPU computes in f32).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    #[arg(long, default_value_t = ParitySettings::default().n_layer)]
    layers: usize,
    #[arg(long, default_value_t = ParitySettings::default().d_model)]
    d_model: usize,
    #[arg(long, default_value_t = ParitySettings::default().n_head)]
    heads: usize,
    #[arg(long, default_value_t = ParitySettings::default().vocab_size)]
    vocab: usize,
    #[arg(long, default_value_t = ParitySettings::default().seq_len)]
    seq: usize,
    #[arg(long, default_value_t = ParitySettings::default().batch)]
    batch: usize,
    /// AdamW steps taken (the report holds steps + 1 losses).
    #[arg(long, default_value_t = ParitySettings::default().steps)]
    steps: usize,
    #[arg(long, default_value_t = ParitySettings::default().lr)]
    lr: f64,
    #[arg(long, default_value_t = ParitySettings::default().weight_decay)]
    weight_decay: f64,
    /// Print the JSON report instead of one loss per line.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    schema: &'static str,
    framework: &'static str,
    device: DeviceKind,
    computed_in: Precision,
    #[serde(flatten)]
    settings: ParitySettings,
    /// Loss before each AdamW step, then after the last.
    losses: Vec<f64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.device == DeviceKind::Cuda {
        speedcert::backend::cuda_preflight()?;
    }
    if let Some(problem) = speedcert::model::head_shape_problem(args.d_model, args.heads) {
        anyhow::bail!(
            "--d-model {} with --heads {}: {problem}",
            args.d_model,
            args.heads
        );
    }
    let settings = ParitySettings {
        n_layer: args.layers,
        d_model: args.d_model,
        n_head: args.heads,
        vocab_size: args.vocab,
        seq_len: args.seq,
        batch: args.batch,
        steps: args.steps,
        lr: args.lr,
        weight_decay: args.weight_decay,
        ..ParitySettings::default()
    };
    let choice = BackendChoice::new(args.device, args.precision);
    let losses =
        speedcert::with_backend!(choice, B, dev, { loss_trajectory::<B>(&settings, &dev) });
    let report = Report {
        schema: "speedcert/bench-parity/v1",
        framework: "burn",
        device: args.device,
        computed_in: choice.precision(),
        settings,
        losses,
    };
    if !common::emit_report(&report, args.out.as_deref(), args.json)? {
        for (step, loss) in report.losses.iter().enumerate() {
            println!("{step} {loss:.7}");
        }
    }
    Ok(())
}
