//! `speedcert certify`: N reruns, checks, statistics against the record, a signed bundle;
//! locally, or as a Slurm job array with `--slurm` (docs/slurm.md).
//!
//! The command is split by job: this file parses and certifies locally, [`slurm`]
//! submits and runs array tasks, [`progress`] draws what a person watches.

mod progress;
mod slurm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use speedcert_bundle::ledger::Event;
use speedcert_bundle::{Verdict, layout};

use super::{code, exit};
use crate::certify::summary::Summary;
use crate::certify::{self, Request, Schedule, report};
use crate::cluster;
use crate::commands::run::{DeviceArg, choose_device};
use crate::registry::Registry;
use crate::track::{self, DeviceKind, Track};

pub(crate) use progress::Progress;
pub use slurm::SlurmArgs;
use slurm::{SLURM_OPTIONS, run_one_slot, submit};

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
    /// Private key(s) to sign the bundle with (PKCS#8 PEM, mode 0600): the plan and
    /// each run are sealed with them as they happen, the bundle at the end.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// The bundle folder to write.
    #[arg(long, required_unless_present = "collect")]
    pub out: Option<PathBuf>,
    /// The current record's bundle: its submission is the baseline, and with
    /// `--baseline-runs 0` its stored times are.
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Baseline submission rerun on this machine when no `--against` is given
    /// [default: reference].
    #[arg(long)]
    pub baseline: Option<String>,
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
    /// The certifier's attempt ledger (records/ledger.jsonl for official records): the
    /// certification is appended, signed, when it starts and when it ends (under --slurm
    /// the collect job appends the end; so does `--collect` given the ledger), and its plan
    /// records its attempt number, so the records table can show the tries behind a record.
    #[arg(long, value_name = "FILE", conflicts_with = "run_slot")]
    pub ledger: Option<PathBuf>,
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

/// The baseline submission when neither `--baseline` nor `--against` names one.
const DEFAULT_BASELINE: &str = "reference";

/// Who holds a bundle's exclusive lock, for the message a second process gets.
const LOCK_HOLDER: &str = "another `speedcert certify` (running, resuming or collecting)";

/// The exclusive lock on a bundle folder for as long as it is held: one certification,
/// resume or collect writes a bundle at a time. A flock on the folder itself, so no lock
/// file joins the signed files; the kernel drops it when the process dies.
fn lock_bundle(dir: &Path) -> anyhow::Result<std::fs::File> {
    Ok(speedcert_fsio::try_lock(
        dir,
        speedcert_fsio::LockKind::Exclusive,
        LOCK_HOLDER,
    )?)
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    if let Some(index) = args.run_slot {
        let out = args.out.as_deref().expect("clap requires --out");
        // Array tasks share the bundle (one run folder each); a certify or collect of it
        // holds the lock exclusively and so never overlaps them.
        let _lock = speedcert_fsio::try_lock(out, speedcert_fsio::LockKind::Shared, LOCK_HOLDER)?;
        let signers = load_signers(&args.keys)?;
        return run_one_slot(out, index, &signers);
    }
    for (flag, n) in [
        ("--runs", args.runs),
        ("--baseline-runs", args.baseline_runs),
    ] {
        if let Some(n) = n.filter(|&n| n > certify::plan::MAX_RUNS_PER_ARM) {
            bail!(
                "{flag} {n} is more than the {} runs a certification may plan for one submission",
                certify::plan::MAX_RUNS_PER_ARM
            );
        }
    }
    let signers = load_signers(&args.keys)?;
    if let Some(bundle) = &args.collect {
        let _lock = lock_bundle(bundle)?;
        let plan = certify::load_plan(bundle)?;
        certify::check_seals(bundle)?;
        let unfinished = cluster::unfinished_tasks(bundle);
        if !certify::pending(bundle, &plan)?.is_empty() && !unfinished.is_empty() {
            bail!(
                "{}: Slurm still has array tasks {} queued or running; wait for them (or scancel them) before --collect",
                bundle.display(),
                unfinished.join(", ")
            );
        }
        for r in certify::fail_missing(
            bundle,
            &plan,
            |s| cluster::missing_run_reason(bundle, s.index),
            &signers,
        )? {
            eprintln!(
                "run-{:03}: counted as a failed run: {}",
                r.run_index,
                r.failure.as_deref().unwrap_or("no run.json")
            );
        }
        let code = finish(bundle, &signers, args.json)?;
        if let Some(path) = &args.ledger {
            append_finished(path, &plan, bundle, &signers)?;
        }
        return Ok(code);
    }
    let out = args.out.clone().expect("clap requires --out");
    let name = args.track.clone().expect("clap requires --track");
    let track = Track::resolve(&name, &track::default_track_dirs())?;
    // A folder is built before anything is written: a crate that does not compile, or
    // whose manifest is for another track, leaves no bundle.
    let mut folders = crate::commands::submission::Folders::default();
    let submission = crate::commands::submission::resolve(
        args.submission
            .as_deref()
            .expect("clap requires --submission"),
        &track,
        registry,
        &mut folders,
    )?;

    let has_plan = out.join(layout::PLAN).is_file();
    let (plan, _lock) = if args.resume && has_plan {
        let lock = lock_bundle(&out)?;
        let plan = certify::load_plan(&out)?;
        certify::check_seals(&out)?;
        if let Some((dir, now)) = folders
            .digest(&submission)
            .filter(|(_, now)| *now != plan.submission_sha256)
        {
            bail!(
                "{}: the bundle was planned for {submission} with source {}, but {} now digests to {now}; refusing to mix them",
                out.display(),
                plan.submission_sha256,
                dir.display(),
            );
        }
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
        for note in ignored_on_resume(&args, &plan) {
            eprintln!("resuming {}: {note}", out.display());
        }
        (plan, lock)
    } else {
        if out.exists()
            && out
                .read_dir()
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            if args.resume {
                bail!(
                    "{}: has no {} (its preparation was interrupted before the plan was written, so no run of it started): remove the folder, or choose a new --out",
                    out.display(),
                    layout::PLAN
                );
            }
            bail!(
                "{}: already exists and is not empty; pass --resume to continue it, or choose a new --out",
                out.display()
            );
        }
        let env = crate::envinfo::collect();
        // The runs happen on the cluster's nodes, not here: `auto` means the track's.
        let device = if args.cluster.slurm && args.device == DeviceArg::Auto {
            track.spec.hardware.device
        } else {
            choose_device(args.device, &track, &env)
        };
        // Locally every run would fail the same way: say so once, before writing anything.
        if !args.cluster.slurm && device == DeviceKind::Cuda {
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
            // A record is a verified `new record` bundle, whichever way it is used.
            Some(record) => {
                let trust = speedcert_attest::TrustStore::load(&trust_path).with_context(|| {
                    format!("loading trusted keys from {}", trust_path.display())
                })?;
                let stored = certify::stored_baseline(record, &trust)?;
                if args.baseline_runs != Some(0) {
                    folders.extend(crate::commands::submission::build_record(
                        record, &track, registry,
                    )?);
                }
                (
                    Some(stored.submission.clone()),
                    (args.baseline_runs == Some(0)).then_some(stored),
                )
            }
            None if args.baseline_runs == Some(0) => (None, None),
            None => (
                Some(crate::commands::submission::resolve(
                    args.baseline.as_deref().unwrap_or(DEFAULT_BASELINE),
                    &track,
                    registry,
                    &mut folders,
                )?),
                None,
            ),
        };
        let req = Request {
            track: &track,
            submission: &submission,
            runs,
            baseline,
            baseline_runs: args.baseline_runs.unwrap_or(runs),
            stored,
            device,
            schedule: if args.cluster.slurm {
                Schedule::Parallel
            } else {
                Schedule::Sequential
            },
            attempt: None,
            built: folders.built,
            commands: folders.commands,
        };
        let plan = match &args.ledger {
            Some(path) => {
                let mut ledger = speedcert_bundle::ledger::LedgerWriter::open(path)?;
                let digest = req.digest(&submission, registry).unwrap_or_default();
                let req = Request {
                    attempt: Some(ledger.ledger.next_attempt(&track.sha256(), &digest)),
                    ..req
                };
                let plan = certify::prepare(&out, &req, registry, &env, &signers)?;
                let mut e = ledger_entry(&plan, &out, Event::Started)?;
                e.attempt = plan.attempt.as_ref().map(|a| a.number);
                ledger.append(e, &signers)?;
                plan
            }
            None => certify::prepare(&out, &req, registry, &env, &signers)?,
        };
        (plan, lock_bundle(&out)?)
    };

    let pending = certify::pending(&out, &plan)?;
    if args.cluster.slurm {
        // The array tasks (shared) and the collect job (exclusive) lock the bundle
        // themselves; this process only submits them, and with --wait it must not hold
        // the lock they wait for.
        drop(_lock);
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
        certify::run_slot(&out, &plan, slot, timeout, &progress, &signers)?;
    }
    progress.done();
    let code = finish(&out, &signers, args.json)?;
    if let Some(path) = &args.ledger {
        append_finished(path, &plan, &out, &signers)?;
    }
    Ok(code)
}

/// Appends the `finished` line of the signed certification in `out`, with its verdict:
/// a local certification when its runs end, the collect job of a Slurm one.
fn append_finished(
    ledger: &Path,
    plan: &certify::plan::Plan,
    out: &Path,
    signers: &[speedcert_attest::Signer],
) -> anyhow::Result<()> {
    let summary: Summary = speedcert_bundle::io::read_json(&out.join(layout::SUMMARY))?;
    let mut e = ledger_entry(plan, out, Event::Finished)?;
    e.verdict = Some(summary.verdict);
    let mut writer = speedcert_bundle::ledger::LedgerWriter::open(ledger)?;
    // A finished line without its started line would count an attempt nobody began.
    if writer.ledger.line(Event::Started, &e.plan_sha256).is_none() {
        bail!(
            "--ledger {}: holds no `started` line for {} (plan.json sha256 {}): the certification was started with another ledger or none, so no `finished` line is appended; the bundle is signed",
            ledger.display(),
            out.display(),
            e.plan_sha256
        );
    }
    if writer
        .ledger
        .line(Event::Finished, &e.plan_sha256)
        .is_some()
    {
        eprintln!(
            "--ledger {}: already holds the `finished` line of {}; nothing appended",
            ledger.display(),
            out.display()
        );
        return Ok(());
    }
    writer.append(e, signers)?;
    Ok(())
}

/// A ledger line about the certification in `out`.
fn ledger_entry(
    plan: &certify::plan::Plan,
    out: &Path,
    event: Event,
) -> anyhow::Result<speedcert_bundle::ledger::LedgerEntry> {
    Ok(speedcert_bundle::ledger::entry(
        event,
        &plan.track,
        &plan.track_sha256,
        &plan.submission,
        &plan.submission_sha256,
        &speedcert_fsio::sha256_file(&out.join(layout::PLAN))?,
        out,
    ))
}

fn load_signers(keys: &[PathBuf]) -> anyhow::Result<Vec<speedcert_attest::Signer>> {
    Ok(keys
        .iter()
        .map(|k| speedcert_attest::Signer::load(k))
        .collect::<Result<Vec<_>, _>>()?)
}

/// What `--resume` does not change, said rather than silently dropped: the plan fixed
/// the runs, the baseline and the device when it was drawn.
fn ignored_on_resume(args: &Args, plan: &certify::plan::Plan) -> Vec<String> {
    use speedcert_bundle::run::Role;
    let count = |role| plan.slots.iter().filter(|s| s.role == role).count();
    let mut notes = Vec::new();
    if let Some(n) = args.runs.filter(|&n| n != count(Role::Candidate)) {
        notes.push(format!(
            "--runs {n} ignored: the plan fixes {} candidate runs",
            count(Role::Candidate)
        ));
    }
    if let Some(n) = args.baseline_runs.filter(|&n| n != count(Role::Baseline)) {
        notes.push(format!(
            "--baseline-runs {n} ignored: the plan fixes {} baseline runs",
            count(Role::Baseline)
        ));
    }
    if let Some(b) = args
        .baseline
        .as_ref()
        .filter(|b| plan.baseline_submission.as_ref() != Some(*b))
    {
        notes.push(format!(
            "--baseline {b} ignored: the plan's baseline is {}",
            plan.baseline_submission.as_deref().unwrap_or("none")
        ));
    }
    if let Some(a) = &args.against {
        notes.push(format!(
            "--against {} ignored: the plan fixed its comparison ({:?}) when it was drawn",
            a.display(),
            plan.comparison
        ));
    }
    let asked = match args.device {
        DeviceArg::Auto => None,
        DeviceArg::Cpu => Some(DeviceKind::Cpu),
        DeviceArg::Cuda => Some(DeviceKind::Cuda),
    };
    if let Some(d) = asked.filter(|&d| d != plan.device) {
        notes.push(format!(
            "--device {d} ignored: the plan runs on {}",
            plan.device
        ));
    }
    notes
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
