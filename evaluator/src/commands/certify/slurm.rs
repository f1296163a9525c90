//! `certify --slurm`: the sbatch options, submitting a prepared bundle's runs as an array
//! job with a dependent collect job, and running one array task (`--slot`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use speedcert_bundle::layout;

use super::{code, exit};
use crate::certify::plan::Slot;
use crate::certify::summary::Summary;
use crate::certify::{self, SlotObserver};
use crate::cluster::{self, Jobs, SbatchOptions};
use crate::harness::{RunEvent, RunRecord, RunStatus};
use crate::track::Track;

use super::progress::finished_line;
use super::{Args, print_report, verdict_code};

/// Every argument of [`SlurmArgs`], by clap id.
pub(super) const SLURM_OPTIONS: [&str; 7] = [
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

/// `--slurm`: submits the prepared bundle's pending runs as an array job and a
/// dependent collect job; with `--wait`, reports the signed bundle as [`finish`] does.
pub(super) fn submit(
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
    // The ledger holds this attempt's `started` line by now, so it resolves.
    let ledger = args
        .ledger
        .as_deref()
        .map(|l| {
            l.canonicalize()
                .with_context(|| format!("--ledger {}: cannot resolve its path", l.display()))
        })
        .transpose()?;
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
        ledger: ledger.as_deref(),
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
    let summary_path = bundle.join(layout::SUMMARY);
    let summary: Summary = speedcert_bundle::io::read_json(&summary_path).with_context(|| {
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
pub(super) fn run_one_slot(
    bundle: &Path,
    index: usize,
    signers: &[speedcert_attest::Signer],
) -> anyhow::Result<ExitCode> {
    let plan = certify::load_plan(bundle)?;
    certify::check_seals(bundle)?;
    let slot = plan
        .slots
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| {
            anyhow!(
                "{}: no slot {index} (the plan has runs 0 to {})",
                bundle.join(layout::PLAN).display(),
                plan.slots.len().saturating_sub(1)
            )
        })?;
    if speedcert_bundle::layout::run_dir(bundle, index)
        .join(layout::RUN)
        .is_file()
        || speedcert_bundle::journal::run_seal_path(bundle, index).is_file()
    {
        println!("run-{index:03} has finished already (a requeued task?); nothing to do");
        return Ok(code(exit::SUCCESS));
    }
    let track_path = bundle.join(layout::TRACK);
    let track =
        Track::load(&track_path).with_context(|| format!("loading {}", track_path.display()))?;
    let timeout = Duration::from_secs(track.spec.certification.run_timeout_s);
    let record = certify::run_slot(bundle, &plan, slot, timeout, &TaskLog, signers)?;
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
