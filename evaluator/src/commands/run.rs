//! `speedcert run`: one timed training run, with a progress bar and a one-line result.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{code, exit};
use crate::backend::BackendChoice;
use crate::envinfo::Environment;
use crate::harness::{Role, RunEvent, RunObserver, RunOptions, RunOutcome, RunStatus};
use crate::registry::Registry;
use crate::track::{self, DeviceKind, Track};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA when the track asks for it and a GPU is found, else CPU.
    Auto,
    Cpu,
    Cuda,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Track name (looked up in records/tracks and $SPEEDCERT_TRACKS) or path to a .toml.
    #[arg(long, default_value = track::EMBEDDED_DEFAULT_NAME)]
    pub track: String,
    /// Submission to train.
    #[arg(long, default_value = "reference")]
    pub submission: String,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Data-parallel ranks. On GPUs one per device, by default the track's `gpu_count`
    /// pin (at most the GPUs found; a run on fewer than the pin is not official). On the
    /// CPU the ranks are threads sharing it (default 1): a check of data-parallel
    /// training, which gives the same model as one rank accumulating the same batch.
    #[arg(long)]
    pub ranks: Option<usize>,
    /// Seed of the run (model initialisation); random when omitted, and always recorded.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seed of the held-out validation slice; random when omitted.
    #[arg(long)]
    pub heldout_seed: Option<u64>,
    /// Write run.json, steps.csv and gpu.csv into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print run.json on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Emit progress as JSON lines on stdout (for a parent process) instead of a bar.
    #[arg(long, hide = true)]
    pub events: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    pub run_index: usize,
    #[arg(long, hide = true, value_parser = parse_role, default_value = "candidate")]
    pub role: Role,
    /// Run the submission fenced in (no network, read only the system and the track's
    /// data, write only --out); fail rather than run unfenced. Certify fences every run
    /// of a submission built from a folder, and every run on a track with
    /// `certification.required_fences`.
    #[arg(long)]
    pub fence: bool,
    /// Internal, for certify: read a synthetic language seed from stdin and train on that
    /// language instead of the track's public one.
    #[arg(long, hide = true)]
    pub secret_language: bool,
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "candidate" => Ok(Role::Candidate),
        "baseline" => Ok(Role::Baseline),
        _ => Err(format!("role must be candidate or baseline, got {s}")),
    }
}

/// Resolves `--device auto` against the track and the machine.
pub fn choose_device(arg: DeviceArg, track: &Track, env: &Environment) -> DeviceKind {
    match arg {
        DeviceArg::Cpu => DeviceKind::Cpu,
        DeviceArg::Cuda => DeviceKind::Cuda,
        DeviceArg::Auto if track.spec.hardware.device == DeviceKind::Cuda && env.gpu_count > 0 => {
            DeviceKind::Cuda
        }
        DeviceArg::Auto => DeviceKind::Cpu,
    }
}

/// Resolves `--ranks` against the device, the track's pin and the machine.
pub fn choose_ranks(
    arg: Option<usize>,
    device: DeviceKind,
    track: &Track,
    env: &Environment,
) -> anyhow::Result<usize> {
    let gpus = env.gpu_count as usize;
    match (arg, device) {
        (Some(0), _) => anyhow::bail!("--ranks 0: a run trains on at least one rank"),
        (Some(n), DeviceKind::Cuda) if n > gpus => {
            anyhow::bail!("--ranks {n}: this machine has {gpus} GPUs, one rank per GPU")
        }
        (Some(n), _) => Ok(n),
        (None, DeviceKind::Cpu) => Ok(1),
        (None, DeviceKind::Cuda) => {
            Ok((track.spec.hardware.gpu_count.unwrap_or(1) as usize).clamp(1, gpus.max(1)))
        }
    }
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    let track = Track::resolve(&args.track, &track::default_track_dirs())?;
    if let Some(dir) = crate::outside::manifest::as_folder(&args.submission) {
        if crate::outside::command::is_command(&dir) {
            anyhow::bail!(
                "{}: a command submission (speedcert.toml) is run by `speedcert certify`, which times it and reads its log; to try the script, run its command yourself",
                dir.display()
            );
        }
        return run_folder(&dir, &args, &track, registry);
    }
    if args.fence {
        // This process becomes `speedcert fenced`, which fences itself and then becomes
        // this run again, unflagged (before stdin is read: the run reads it): one way to
        // fence, whoever asks.
        let exe = std::env::current_exe().context("finding this binary")?;
        let mut again = fenced_run(&args, &track, &exe, &args.submission)?;
        use std::os::unix::process::CommandExt;
        let e = again.exec();
        anyhow::bail!("could not start {}: {e}", exe.display());
    }
    let language_seed = if args.secret_language {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the language seed from stdin")?;
        Some(line.trim().parse::<u64>().with_context(|| {
            format!(
                "--secret-language: {:?} on stdin is not a seed",
                line.trim()
            )
        })?)
    } else {
        None
    };
    let entry = registry.get(&args.submission).with_context(|| {
        format!(
            "no submission named `{}`; this binary has: {}",
            args.submission,
            registry.names().join(", ")
        )
    })?;
    // Set by the `speedcert fenced` this process came from, if any.
    let fences = crate::fence::named_by_parent();
    let env = crate::envinfo::collect();
    let device = choose_device(args.device, &track, &env);
    if device == DeviceKind::Cuda {
        crate::backend::cuda_preflight()?;
    }
    let backend = BackendChoice::new(device, track.spec.reference.precision);
    let ranks = choose_ranks(args.ranks, device, &track, &env)?;
    let pins = speedcert_bundle::env::check_run_pins(
        &track.spec.hardware,
        &env,
        device,
        crate::harness::devices(device, ranks),
    );
    let opts = RunOptions {
        seed: args.seed.unwrap_or_else(rand::random),
        heldout_seed: Some(args.heldout_seed.unwrap_or_else(rand::random)),
        run_index: args.run_index,
        role: args.role,
        env,
        official: pins.iter().all(|p| p.passed),
        language_seed,
        ranks,
    };
    // GPU telemetry for the whole run (gpu.csv); header-only on CPU or without NVML.
    let sampler = crate::telemetry::gpu::GpuSampler::for_device(device);
    let mut outcome = if args.events {
        entry.run(&track, backend, &opts, &JsonLines)
    } else {
        let bar = Bar::new(args.json);
        let outcome = entry.run(&track, backend, &opts, &bar);
        bar.finish();
        outcome
    };
    let gpu = sampler.stop();
    outcome.record.throttled = gpu.throttled();
    outcome.record.fences = fences;
    if let Some(dir) = &args.out {
        // What was written (with its logs' digests) is what gets printed.
        outcome.record = speedcert_bundle::io::write_run(
            dir,
            &outcome.record,
            &outcome.steps,
            Some(&gpu.to_csv()),
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.record)?);
    } else if !args.events {
        println!("{}", summary_line(&outcome, &track));
    }
    let ok = outcome.record.status == RunStatus::Ok && outcome.record.reached_target;
    Ok(code(if ok {
        exit::SUCCESS
    } else {
        exit::FAILED_VERDICT
    }))
}

/// `--submission DIR`: builds the folder's runner and runs it, fenced, with the same
/// arguments, as a certification would.
fn run_folder(
    dir: &std::path::Path,
    args: &Args,
    track: &Track,
    registry: &Registry,
) -> anyhow::Result<ExitCode> {
    let built = crate::commands::submission::build(dir, track, registry)?;
    let mut cmd = fenced_run(
        args,
        track,
        &built.runner.exe,
        &built.runner.build.submission,
    )?;
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", built.runner.exe.display()))?;
    Ok(code(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(exit::ERROR),
    ))
}

/// `exe run ...` with `args` as `submission` on `track`, fenced as a certification fences
/// a harness run (through `speedcert fenced`), its --out folder made first so the fence
/// can name it.
fn fenced_run(
    args: &Args,
    track: &Track,
    exe: &std::path::Path,
    submission: &str,
) -> anyhow::Result<std::process::Command> {
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    let track_file = Some(std::path::Path::new(&track.origin)).filter(|p| p.is_file());
    let spec =
        crate::fence::FenceSpec::harness_run(&track.spec, track_file, exe, args.out.as_deref());
    let mut cmd = crate::fence::wrap(&spec, exe.as_os_str());
    cmd.args(runner_args(
        args,
        track_file.map_or(args.track.as_str(), |_| track.origin.as_str()),
        submission,
    ));
    Ok(cmd)
}

/// The arguments of `speedcert run` that run `args` again as `submission` on
/// `track`, without `--fence` (the caller fences the process).
fn runner_args(args: &Args, track: &str, submission: &str) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = vec!["run".into(), "--track".into(), track.into()];
    let device = match args.device {
        DeviceArg::Auto => "auto",
        DeviceArg::Cpu => "cpu",
        DeviceArg::Cuda => "cuda",
    };
    for (flag, value) in [
        ("--submission", Some(submission.to_owned())),
        ("--device", Some(device.to_owned())),
        ("--run-index", Some(args.run_index.to_string())),
        ("--role", Some(args.role.as_str().to_owned())),
        ("--seed", args.seed.map(|s| s.to_string())),
        ("--ranks", args.ranks.map(|n| n.to_string())),
        ("--heldout-seed", args.heldout_seed.map(|s| s.to_string())),
    ] {
        if let Some(value) = value {
            v.extend([flag.into(), value.into()]);
        }
    }
    if let Some(out) = &args.out {
        v.extend(["--out".into(), out.clone().into_os_string()]);
    }
    for (on, flag) in [
        (args.json, "--json"),
        (args.events, "--events"),
        (args.secret_language, "--secret-language"),
    ] {
        if on {
            v.push(flag.into());
        }
    }
    v
}

/// The one line a person quotes.
pub fn summary_line(outcome: &RunOutcome, track: &Track) -> String {
    let r = &outcome.record;
    let floor = r
        .loss_floor
        .map(|f| format!("{f:.4}"))
        .unwrap_or_else(|| "unknown".into());
    let secs = r.train_time_ms / 1e3;
    let tok_s = r.train_tokens_per_s.unwrap_or(0.0);
    match (&r.status, r.final_val_loss) {
        (RunStatus::Failed, _) => format!(
            "{} · {}: run FAILED after {} steps ({:.1} s): {}",
            track.spec.name,
            r.submission,
            r.steps,
            secs,
            r.failure.as_deref().unwrap_or("unknown reason")
        ),
        (RunStatus::Ok, Some(loss)) => format!(
            "{} · {} (seed {}): {} in {:.2} s of training · final val loss {:.4} (target {:.4}, floor {}) · {} steps, {} tokens, {:.0} tok/s",
            track.spec.name,
            r.submission,
            r.seed,
            if r.reached_target {
                "reached target"
            } else {
                "MISSED target"
            },
            secs,
            loss,
            r.target_val_loss,
            floor,
            r.steps,
            r.train_tokens,
            tok_s
        ),
        (RunStatus::Ok, None) => {
            format!("{} · {}: no validation ran", track.spec.name, r.submission)
        }
    }
}

/// Progress bar on stderr: step, loss, last validation, elapsed training time.
struct Bar {
    bar: ProgressBar,
    last_val: Mutex<Option<f64>>,
}

impl Bar {
    fn new(hidden: bool) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} step {pos}/{len} {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            last_val: Mutex::new(None),
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl RunObserver for Bar {
    fn event(&self, e: &RunEvent) {
        match e {
            RunEvent::Started { planned_steps } => {
                self.bar.set_length(planned_steps.unwrap_or(0) as u64);
                self.bar.set_message("initialised");
            }
            RunEvent::Step {
                step,
                train_loss,
                train_time_ms,
            } => {
                self.bar.set_position(*step as u64 + 1);
                let val = self
                    .last_val
                    .lock()
                    .map(|v| v.map(|v| format!(" · val {v:.4}")).unwrap_or_default())
                    .unwrap_or_default();
                self.bar.set_message(format!(
                    "loss {} · train {:.1} s{val}",
                    train_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
                    train_time_ms / 1e3
                ));
            }
            RunEvent::Validation { val_loss, .. } => {
                if let Ok(mut v) = self.last_val.lock() {
                    *v = Some(*val_loss);
                }
            }
            RunEvent::Finished { .. } => {}
        }
    }
}

/// One JSON object per line on stdout, for `certify`'s parent process.
struct JsonLines;

impl RunObserver for JsonLines {
    fn event(&self, e: &RunEvent) {
        if let Ok(line) = serde_json::to_string(e) {
            println!("{line}");
        }
    }
}
