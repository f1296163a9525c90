//! `speedcert certify`: N reruns, checks, statistics against the record, a signed bundle.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{code, exit};
use crate::certify::plan::Slot;
use crate::certify::summary::Verdict;
use crate::certify::{self, Request, SlotObserver, report};
use crate::commands::run::{DeviceArg, choose_device};
use crate::envinfo::Environment;
use crate::harness::{Role, RunEvent, RunRecord, RunStatus};
use crate::submission::Registry;
use crate::track::{self, Track};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Track name or path to a .toml.
    #[arg(long, required_unless_present = "collect")]
    pub track: Option<String>,
    /// The candidate submission.
    #[arg(long, required_unless_present = "collect")]
    pub submission: Option<String>,
    /// Candidate runs (default: the track's `certification.runs`).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Private key(s) to sign the bundle with (PKCS#8 PEM, mode 0600).
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// The bundle folder to write.
    #[arg(long, required_unless_present = "collect")]
    pub out: Option<PathBuf>,
    /// The current record's bundle: its submission is the baseline, and with
    /// `--baseline-runs 0` its stored times are.
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Baseline submission rerun on this machine when no `--against` is given.
    #[arg(long, default_value = "reference")]
    pub baseline: String,
    /// Baseline reruns interleaved with the candidate's (default: as many as --runs);
    /// 0 compares with the stored times of `--against`, or, without `--against`, makes
    /// no time comparison at all (only the loss test: never a new record).
    #[arg(long)]
    pub baseline_runs: Option<usize>,
    /// Continue an interrupted certification in `--out`, skipping finished runs.
    #[arg(long)]
    pub resume: bool,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Keys trusted for verifying `--against` (default: records/keys).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Compute the summary of an existing bundle whose runs are done, and sign it.
    #[arg(long, value_name = "BUNDLE")]
    pub collect: Option<PathBuf>,
    /// Print summary.json instead of the report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    let signers = args
        .keys
        .iter()
        .map(|k| speedcert_attest::Signer::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bundle) = &args.collect {
        return finish(bundle, &signers, args.json);
    }
    let out = args.out.clone().expect("clap requires --out");
    let name = args.track.clone().expect("clap requires --track");
    let submission = args.submission.clone().expect("clap requires --submission");
    let track = Track::resolve(&name, &track::default_track_dirs())?;

    let has_plan = out.join("plan.json").is_file();
    let plan = if args.resume && has_plan {
        let plan = certify::load_plan(&out)?;
        if plan.track_sha256 != track.sha256() || plan.submission != submission {
            bail!(
                "{}: the bundle was planned for track {} / submission {}, not {} / {}; refusing to mix them",
                out.display(),
                plan.track,
                plan.submission,
                track.spec.name,
                submission
            );
        }
        plan
    } else {
        if out.exists()
            && out
                .read_dir()
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            bail!(
                "{}: already exists and is not empty; pass --resume to continue it, or choose a new --out",
                out.display()
            );
        }
        let env = Environment::collect();
        let device = choose_device(args.device, &track, &env);
        let runs = args.runs.unwrap_or(track.spec.certification.runs);
        if runs < 2 {
            bail!("--runs must be at least 2 (a t-test needs two runs), got {runs}");
        }
        let trust_path = args
            .trust
            .clone()
            .unwrap_or_else(|| PathBuf::from("records/keys"));
        let (baseline, stored) = match &args.against {
            Some(record) => {
                let b = certify::record_submission(record)?;
                let stored = if args.baseline_runs == Some(0) {
                    let trust =
                        speedcert_attest::TrustStore::load(&trust_path).with_context(|| {
                            format!("loading trusted keys from {}", trust_path.display())
                        })?;
                    Some(certify::stored_baseline(record, &trust)?)
                } else {
                    None
                };
                (Some(b), stored)
            }
            None if args.baseline_runs == Some(0) => (None, None),
            None => (Some(args.baseline.clone()), None),
        };
        let req = Request {
            track: &track,
            submission: &submission,
            runs,
            baseline,
            baseline_runs: args.baseline_runs.unwrap_or(runs),
            stored,
            device,
        };
        certify::prepare(&out, &req, registry, &env)?
    };

    let pending = certify::pending(&out, &plan);
    let skipped = plan.slots.len() - pending.len();
    if skipped > 0 {
        eprintln!(
            "resuming {}: {skipped} of {} runs already finished",
            out.display(),
            plan.slots.len()
        );
    }
    let timeout = Duration::from_secs(track.spec.certification.run_timeout_s);
    let progress = Progress::new(plan.slots.len(), skipped, args.json);
    for slot in &pending {
        certify::run_slot(&out, &plan, slot, timeout, &progress)?;
    }
    progress.done();
    finish(&out, &signers, args.json)
}

fn finish(
    bundle: &Path,
    signers: &[speedcert_attest::Signer],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let summary = certify::collect(bundle, signers)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", report::render(&summary));
        println!(
            "bundle: {} (signed by {} key(s))",
            bundle.display(),
            signers.len()
        );
    }
    Ok(code(if summary.verdict == Verdict::NewRecord {
        exit::SUCCESS
    } else {
        exit::FAILED_VERDICT
    }))
}

/// Runs done and time left, plus the current run's step and loss.
struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    current: ProgressBar,
}

impl Progress {
    fn new(slots: usize, done: usize, hidden: bool) -> Self {
        let multi = MultiProgress::new();
        if hidden {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let total = multi.add(ProgressBar::new(slots as u64));
        total.set_style(
            ProgressStyle::with_template(
                "runs {pos}/{len} {bar:30} elapsed {elapsed} · left ~{eta}",
            )
            .expect("valid template"),
        );
        total.set_position(done as u64);
        let current = multi.add(ProgressBar::new(0));
        current.set_style(
            ProgressStyle::with_template("  {prefix} step {pos}/{len} {msg}")
                .expect("valid template"),
        );
        Self {
            multi,
            total,
            current,
        }
    }

    fn done(&self) {
        self.current.finish_and_clear();
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl SlotObserver for Progress {
    fn started(&self, slot: &Slot) {
        self.current.set_prefix(format!(
            "run-{:03} {} {}",
            slot.index,
            match slot.role {
                Role::Candidate => "candidate",
                Role::Baseline => "baseline ",
            },
            slot.submission
        ));
        self.current.set_position(0);
        self.current.set_message("initialising");
    }

    fn event(&self, _slot: &Slot, event: &RunEvent) {
        match event {
            RunEvent::Started { planned_steps } => {
                self.current.set_length(planned_steps.unwrap_or(0) as u64)
            }
            RunEvent::Step {
                step,
                train_loss,
                train_time_ms,
            } => {
                self.current.set_position(*step as u64 + 1);
                self.current.set_message(format!(
                    "loss {} · {:.1} s",
                    train_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
                    train_time_ms / 1e3
                ));
            }
            _ => {}
        }
    }

    fn finished(&self, slot: &Slot, record: &RunRecord) {
        self.total.inc(1);
        let line = match record.status {
            RunStatus::Ok => format!(
                "run-{:03} {:<9} {:>9.3} s  val loss {:.4}",
                slot.index,
                format!("{:?}", slot.role).to_lowercase(),
                record.train_time_ms / 1e3,
                record.final_val_loss.unwrap_or(f64::NAN)
            ),
            RunStatus::Failed => format!(
                "run-{:03} {:<9} FAILED: {}",
                slot.index,
                format!("{:?}", slot.role).to_lowercase(),
                record.failure.as_deref().unwrap_or("unknown")
            ),
        };
        let _ = self.multi.println(line);
    }
}
