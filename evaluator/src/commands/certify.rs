//! `speedcert certify`: N reruns, checks, statistics against the record, a signed bundle;
//! locally, or as a Slurm job array with `--slurm` (docs/slurm.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{code, exit};
use crate::certify::plan::Slot;
use crate::certify::summary::Summary;
use crate::certify::summary::Verdict;
use crate::certify::{self, Request, SlotObserver, report};
use crate::cluster::{self, Jobs, SbatchOptions};
use crate::commands::run::{DeviceArg, choose_device};
use crate::envinfo::Environment;
use crate::harness::{RunEvent, RunRecord, RunStatus};
use crate::submission::Registry;
use crate::track::{self, Track};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Track name or path to a .toml.
    #[arg(long, required_unless_present_any = ["collect", "run_slot"])]
    pub track: Option<String>,
    /// The candidate submission.
    #[arg(long, required_unless_present_any = ["collect", "run_slot"])]
    pub submission: Option<String>,
    /// Candidate runs (default: the track's `certification.runs`).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Private key(s) to sign the bundle with (PKCS#8 PEM, mode 0600).
    #[arg(long = "key", required_unless_present = "run_slot")]
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
    /// Compute the summary of an existing bundle whose runs are done, and sign it (a
    /// planned run with no run.json is counted as failed).
    // The Slurm options conflict here, not only through `requires = "slurm"`: clap
    // drops a requirement that conflicts with a present argument.
    #[arg(long, value_name = "BUNDLE", conflicts_with_all = SLURM_OPTIONS)]
    pub collect: Option<PathBuf>,
    /// Print summary.json instead of the report (with --slurm: the job ids).
    #[arg(long)]
    pub json: bool,
    /// Internal, for Slurm array tasks: run planned slot K of the bundle `--out` and
    /// exit (no statistics, no signature).
    #[arg(long, value_name = "K", hide = true, requires = "out",
          conflicts_with_all = ["collect", "resume"], conflicts_with_all = SLURM_OPTIONS)]
    pub run_slot: Option<usize>,
    /// Boxed: it would make `Args` the one large variant of the command enum.
    #[command(flatten)]
    pub cluster: Box<SlurmArgs>,
}

/// Every argument of [`SlurmArgs`], by clap id.
const SLURM_OPTIONS: [&str; 7] = [
    "slurm",
    "partition",
    "gres",
    "account",
    "time_limit",
    "sbatch_args",
    "wait",
];

/// `--slurm` and the sbatch options that go with it.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// Prepare the bundle here, then submit one Slurm array task per run and a
    /// dependent job that collects and signs (logs in <OUT>.slurm/; needs a filesystem
    /// shared with the nodes).
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition for all jobs.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Generic resources per run, e.g. gpu:1 (not for the collect job).
    #[arg(long, requires = "slurm")]
    pub gres: Option<String>,
    /// Slurm account to charge.
    #[arg(long, requires = "slurm")]
    pub account: Option<String>,
    /// Per-run time limit in minutes (default: the track's run timeout + 5 min).
    #[arg(long, value_name = "MIN", requires = "slurm",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub time_limit: Option<u64>,
    /// Extra sbatch option for all jobs, e.g. --sbatch-arg=--exclusive (repeatable).
    #[arg(
        long = "sbatch-arg",
        value_name = "ARG",
        requires = "slurm",
        allow_hyphen_values = true
    )]
    pub sbatch_args: Vec<String>,
    /// Wait until the collect job has signed the bundle, then report as a local
    /// certification does (exit 0 new record, 3 otherwise).
    #[arg(long, requires = "slurm")]
    pub wait: bool,
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    if let Some(index) = args.run_slot {
        let out = args.out.as_deref().expect("clap requires --out");
        return run_one_slot(out, index);
    }
    let signers = args
        .keys
        .iter()
        .map(|k| speedcert_attest::Signer::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bundle) = &args.collect {
        let plan = certify::load_plan(bundle)?;
        let unfinished = cluster::unfinished_tasks(bundle);
        if !certify::pending(bundle, &plan).is_empty() && !unfinished.is_empty() {
            bail!(
                "{}: Slurm still has array tasks {} queued or running; wait for them (or scancel them) before --collect",
                bundle.display(),
                unfinished.join(", ")
            );
        }
        for r in certify::fail_missing(bundle, &plan, |s| {
            cluster::missing_run_reason(bundle, s.index)
        })? {
            eprintln!(
                "run-{:03}: counted as a failed run: {}",
                r.run_index,
                r.failure.as_deref().unwrap_or("no run.json")
            );
        }
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
        // The runs happen on the cluster's nodes, not here: `auto` means the track's.
        let device = if args.cluster.slurm && args.device == DeviceArg::Auto {
            track.spec.hardware.device
        } else {
            choose_device(args.device, &track, &env)
        };
        // Locally every run would fail the same way: say so once, before writing anything.
        if !args.cluster.slurm && device == crate::track::DeviceKind::Cuda {
            crate::backend::cuda_preflight()?;
        }
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
    if args.cluster.slurm {
        return submit(&args, &out, &pending, &track, signers.len());
    }
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
        print_report(&summary, bundle, signers.len());
    }
    Ok(verdict_code(&summary))
}

fn print_report(summary: &Summary, bundle: &Path, keys: usize) {
    print!("{}", report::render(summary));
    println!("bundle: {} (signed by {keys} key(s))", bundle.display());
}

fn verdict_code(summary: &Summary) -> ExitCode {
    code(if summary.verdict == Verdict::NewRecord {
        exit::SUCCESS
    } else {
        exit::FAILED_VERDICT
    })
}

/// `--slurm`: submits the prepared bundle's pending runs as an array job and a
/// dependent collect job; with `--wait`, reports the signed bundle as [`finish`] does.
fn submit(
    args: &Args,
    out: &Path,
    pending: &[Slot],
    track: &Track,
    keys: usize,
) -> anyhow::Result<ExitCode> {
    let bundle = out
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve the bundle's path", out.display()))?;
    let logs = cluster::log_dir(&bundle);
    if !args.resume
        && logs
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        bail!(
            "{}: a Slurm log folder of an earlier bundle is in the way; remove it or choose a new --out",
            logs.display()
        );
    }
    let key_paths = args
        .keys
        .iter()
        .map(|k| {
            k.canonicalize()
                .with_context(|| format!("--key {}: cannot resolve its path", k.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .context("cannot find the running speedcert binary for the jobs to run")?;
    let c = &args.cluster;
    let options = SbatchOptions {
        partition: c.partition.clone(),
        gres: c.gres.clone(),
        account: c.account.clone(),
        time_limit_min: c.time_limit,
        extra: c.sbatch_args.clone(),
    };
    let run_timeout_s = track.spec.certification.run_timeout_s;
    if track.spec.hardware.device == crate::track::DeviceKind::Cuda
        && options.gres.is_none()
        && !options.extra.iter().any(|a| a.contains("gpu"))
    {
        eprintln!(
            "warning: track {} runs on CUDA but no --gres was given: the runs may land on nodes without a GPU",
            track.spec.name
        );
    }
    if let Some(limit) = options.time_limit_min
        && limit * 60 < run_timeout_s
    {
        eprintln!(
            "warning: --time-limit {limit} min is shorter than the track's run timeout ({run_timeout_s} s): Slurm may kill runs the track allows, and they will count as failed"
        );
    }
    let tasks: Vec<usize> = pending.iter().map(|s| s.index).collect();
    let submission = cluster::Submission {
        exe: &exe,
        bundle: &bundle,
        keys: &key_paths,
        tasks: &tasks,
        run_timeout_s,
        options: &options,
        wait: c.wait,
    };
    let json = args.json;
    let wait = c.wait;
    let submitted = submission.submit(&mut |jobs| {
        if !json {
            let text = submitted_text(jobs);
            // With --wait the report comes last on stdout; the ids are progress.
            if wait {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
        }
    });
    let (jobs, status) = match submitted {
        Ok(s) => s,
        Err(e @ cluster::ClusterError::CollectNotSubmitted { .. }) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "submitting {} to Slurm; the bundle is prepared: fix the cause, then rerun the same command with --resume",
                bundle.display()
            )));
        }
    };
    let Some(status) = status else {
        if json {
            println!("{}", serde_json::to_string_pretty(&jobs)?);
        }
        return Ok(code(exit::SUCCESS));
    };
    let collect_log = logs.join(format!("collect-{}.out", jobs.collect_job));
    if status != i32::from(exit::SUCCESS) && status != i32::from(exit::FAILED_VERDICT) {
        bail!(
            "the collect job {} failed (exit {status}); see {}",
            jobs.collect_job,
            collect_log.display()
        );
    }
    let summary_path = bundle.join("summary.json");
    let summary: Summary = crate::bundle::read_json(&summary_path).with_context(|| {
        format!(
            "the collect job {} ended but left no summary; see {}",
            jobs.collect_job,
            collect_log.display()
        )
    })?;
    if json {
        let mut value = serde_json::to_value(&jobs)?;
        value["summary"] = serde_json::to_value(&summary)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_report(&summary, &bundle, keys);
    }
    Ok(verdict_code(&summary))
}

fn submitted_text(jobs: &Jobs) -> String {
    let mut s = String::new();
    match jobs.array_job {
        Some(id) => {
            s += &format!(
                "submitted {} run(s) as Slurm array job {id} (tasks {}), and collect job {} after it\n",
                jobs.tasks.len(),
                cluster::array_spec(&jobs.tasks),
                jobs.collect_job
            )
        }
        None => {
            s += &format!(
                "no run left to do; submitted collect job {}\n",
                jobs.collect_job
            )
        }
    }
    let ids = jobs.id_list();
    s += &format!("  bundle: {}\n", jobs.bundle.display());
    s += &format!("  logs:   {}\n", jobs.logs.display());
    s += &format!("  watch:  squeue -j {ids}\n");
    s += &format!("  after:  sacct -j {ids} --format=JobID,State,ExitCode,Elapsed,NodeList\n");
    s
}

/// `--run-slot K` (a Slurm array task): runs slot K into the bundle and exits 0, or 3
/// when the run failed (it is recorded as failed either way; the collect job counts it).
fn run_one_slot(bundle: &Path, index: usize) -> anyhow::Result<ExitCode> {
    let plan = certify::load_plan(bundle)?;
    let slot = plan
        .slots
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| {
            anyhow!(
                "{}: no slot {index} (the plan has runs 0 to {})",
                bundle.join("plan.json").display(),
                plan.slots.len().saturating_sub(1)
            )
        })?;
    if crate::bundle::run_dir(bundle, index)
        .join("run.json")
        .is_file()
    {
        println!("run-{index:03} has finished already (a requeued task?); nothing to do");
        return Ok(code(exit::SUCCESS));
    }
    let track_path = bundle.join("track.toml");
    let track =
        Track::load(&track_path).with_context(|| format!("loading {}", track_path.display()))?;
    let timeout = Duration::from_secs(track.spec.certification.run_timeout_s);
    let record = certify::run_slot(bundle, &plan, slot, timeout, &TaskLog)?;
    Ok(code(match record.status {
        RunStatus::Ok => exit::SUCCESS,
        RunStatus::Failed => exit::FAILED_VERDICT,
    }))
}

/// A Slurm task's progress, as plain lines for its log file.
struct TaskLog;

impl SlotObserver for TaskLog {
    fn started(&self, slot: &Slot) {
        println!(
            "run-{:03} {} {} seed {}",
            slot.index,
            slot.role.as_str(),
            slot.submission,
            slot.seed
        );
    }

    fn event(&self, _slot: &Slot, _event: &RunEvent) {}

    fn finished(&self, slot: &Slot, record: &RunRecord) {
        println!("{}", finished_line(slot, record));
    }
}

fn finished_line(slot: &Slot, record: &RunRecord) -> String {
    match record.status {
        RunStatus::Ok => format!(
            "run-{:03} {:<9} {:>9.3} s  val loss {:.4}",
            slot.index,
            slot.role.as_str(),
            record.train_time_ms / 1e3,
            record.final_val_loss.unwrap_or(f64::NAN)
        ),
        RunStatus::Failed => format!(
            "run-{:03} {:<9} FAILED: {}",
            slot.index,
            slot.role.as_str(),
            record.failure.as_deref().unwrap_or("unknown")
        ),
    }
}

/// Runs done and time left, plus the current run's step and loss (nightly shows it too).
pub(crate) struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    current: ProgressBar,
}

impl Progress {
    pub(crate) fn new(slots: usize, done: usize, hidden: bool) -> Self {
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

    pub(crate) fn done(&self) {
        self.current.finish_and_clear();
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl SlotObserver for Progress {
    fn started(&self, slot: &Slot) {
        self.current.set_prefix(format!(
            "run-{:03} {:<9} {}",
            slot.index,
            slot.role.as_str(),
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
        let _ = self.multi.println(finished_line(slot, record));
    }
}
