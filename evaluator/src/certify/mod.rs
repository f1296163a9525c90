//! Certification: N independent runs of a candidate (and, by default, as many reruns of
//! the record's submission on the same machine, interleaved A B A B), each in its own
//! child process; then statistics, checks, a verdict, and a signature.
//!
//! The work is split in three phases so a cluster can take the middle one:
//! [`prepare`] writes track.toml, env.json and plan.json; [`run_slot`] runs one planned
//! run into `runs/run-NNN/` (locally or as a Slurm array task); [`collect`] computes
//! summary.json from the files and signs the bundle.

pub mod plan;
pub mod report;

pub use speedcert_bundle::summary;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

use speedcert_bundle::io::{self as bundle, BundleError};
use speedcert_bundle::steps::StepLog;
use speedcert_bundle::{journal, layout};

use crate::envinfo::Environment;
use crate::harness::{Role, RunEvent, RunRecord, RunStatus};
use crate::outside::Built;
use crate::outside::command::CommandFolder;
use crate::registry::Registry;
use crate::track::{DeviceKind, Track};
use plan::{Plan, Slot, StoredBaseline, TimeBaseline};
pub use speedcert_bundle::plan::{Attempt, Schedule};
use summary::Summary;

#[derive(Debug, Error)]
pub enum CertifyError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Record { path: PathBuf, message: String },
    #[error(transparent)]
    Attest(#[from] speedcert_attest::Error),
}

/// What to certify.
pub struct Request<'a> {
    pub track: &'a Track,
    pub submission: &'a str,
    pub runs: usize,
    /// Submission rerun as the same-machine baseline (`None`: none).
    pub baseline: Option<String>,
    pub baseline_runs: usize,
    /// The record's bundle, for `--baseline-runs 0` (its stored times).
    pub stored: Option<StoredBaseline>,
    pub device: DeviceKind,
    /// Sequential here, or parallel as Slurm array tasks.
    pub schedule: Schedule,
    /// Where this certification stands in the certifier's attempt ledger.
    pub attempt: Option<Attempt>,
    /// Submissions built from a folder for this certification (the candidate's and the
    /// baseline's when they are not built in), by the name in their manifests.
    pub built: Vec<Built>,
    /// Command submissions read from a folder for this certification, by manifest name.
    pub commands: Vec<CommandFolder>,
}

impl Request<'_> {
    fn built(&self, name: &str) -> Option<&Built> {
        self.built
            .iter()
            .find(|b| b.runner.build.submission == name)
    }

    fn command(&self, name: &str) -> Option<&CommandFolder> {
        self.commands.iter().find(|c| c.spec.submission == name)
    }

    /// The source digest of submission `name`: the folder's, or the built-in's.
    pub fn digest(&self, name: &str, registry: &Registry) -> Result<String, CertifyError> {
        if let Some(b) = self.built(name) {
            return Ok(b.runner.build.source_sha256.clone());
        }
        if let Some(c) = self.command(name) {
            return Ok(c.spec.source_sha256.clone());
        }
        registry.get(name).map(|e| e.source_sha256()).ok_or_else(|| {
            CertifyError::Usage(format!(
                "no submission named `{name}`: this binary has {}, and a folder is given by its path",
                registry.names().join(", ")
            ))
        })
    }
}

/// A language seed for this certification's runs on a synthetic track, drawn from the
/// operating system's randomness and never the track's public one.
fn secret_language(track: &Track) -> Option<u64> {
    let crate::track::DataSpec::Synthetic(s) = &track.spec.data else {
        return None;
    };
    loop {
        let seed: u64 = rand::random();
        if seed != s.language.language_seed {
            return Some(seed);
        }
    }
}

/// Phase 1: writes track.toml, env.json and plan.json into a new bundle folder, and seals
/// the plan with `signers` (journal/plan.dsse.json) before any run can start.
pub fn prepare(
    dir: &Path,
    req: &Request<'_>,
    registry: &Registry,
    env: &Environment,
    signers: &[speedcert_attest::Signer],
) -> Result<Plan, CertifyError> {
    let submission_sha256 = req.digest(req.submission, registry)?;
    let baseline_sha256 = match &req.baseline {
        Some(b) => Some(req.digest(b, registry)?),
        None => None,
    };
    let comparison = if req.baseline.is_some() && req.baseline_runs > 0 {
        TimeBaseline::SameMachine
    } else if req.stored.is_some() {
        TimeBaseline::StoredRecord
    } else {
        TimeBaseline::None
    };
    let slots = plan::interleave(
        req.submission,
        req.runs,
        (comparison == TimeBaseline::SameMachine)
            .then_some(req.baseline.as_deref())
            .flatten(),
        req.baseline_runs,
    );
    // One runner build per planned submission that came from a folder.
    let names: std::collections::BTreeSet<&str> =
        slots.iter().map(|s| s.submission.as_str()).collect();
    let builds = names
        .iter()
        .filter_map(|name| req.built(name))
        .map(|b| b.runner.build.clone())
        .collect();
    let commands: Vec<_> = names
        .iter()
        .filter_map(|name| req.command(name))
        .map(|c| c.spec.clone())
        .collect();
    // One clock per certification: a script's self-reported times are never compared
    // with the harness's, nor with a stored record of the other kind.
    if let Some(first) = commands.first()
        && let Some(other) = names.iter().find(|n| req.command(n).is_none())
    {
        return Err(CertifyError::Usage(format!(
            "`{other}` trains in the harness and {} is a command submission whose clock is self-reported: the two are never compared; certify a command against a command",
            first.submission
        )));
    }
    let plan = Plan {
        schema: plan::PLAN_SCHEMA.to_owned(),
        track: req.track.spec.name.clone(),
        track_sha256: req.track.sha256(),
        submission: req.submission.to_owned(),
        submission_sha256,
        baseline_submission: match comparison {
            TimeBaseline::SameMachine => req.baseline.clone(),
            TimeBaseline::StoredRecord => req.stored.as_ref().map(|s| s.submission.clone()),
            TimeBaseline::None => None,
        },
        baseline_submission_sha256: baseline_sha256
            .filter(|_| comparison == TimeBaseline::SameMachine),
        comparison,
        stored_baseline: req.stored.clone(),
        device: req.device,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        slots,
        schedule: Some(req.schedule),
        attempt: req.attempt.clone(),
        builds,
        // A command trains on data of its own: no secret language to give it.
        language_seed: if commands.is_empty() {
            secret_language(req.track)
        } else {
            None
        },
        commands,
    };
    if let Some(stored) = &req.stored {
        let (record_clock, ours) = (load_plan(Path::new(&stored.bundle))?.clock(), plan.clock());
        if record_clock != ours {
            return Err(CertifyError::Usage(format!(
                "{}: the record's clock is {record_clock} and this certification's would be {ours}: times of the two kinds are never compared",
                stored.bundle
            )));
        }
    }
    // Written into a temp folder beside `dir`, then renamed into place: a kill at any
    // instant leaves either no bundle or one with its plan, which `--resume` continues.
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(bundle::io(parent))?;
    let name = dir
        .file_name()
        .map_or("bundle".into(), |n| n.to_string_lossy());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.prepare-"))
        .permissions(std::fs::Permissions::from_mode(0o755))
        .tempdir_in(parent)
        .map_err(bundle::io(parent))?;
    let staged = tmp.path();
    std::fs::create_dir(staged.join(layout::RUNS)).map_err(bundle::io(staged))?;
    bundle::write_bytes(
        &staged.join(layout::TRACK),
        req.track.source_text.as_bytes(),
    )?;
    bundle::write_json(&staged.join(layout::ENV), env)?;
    // The code that will run, as it was digested: a folder edited since its runner was
    // built (or its command read) no longer has the planned digest and is refused here.
    let folders = plan
        .builds
        .iter()
        .map(|b| {
            let built = req
                .built(&b.submission)
                .expect("builds come from req.built");
            (&built.dir, &b.source_sha256, "its runner was built")
        })
        .chain(plan.commands.iter().map(|c| {
            let read = req
                .command(&c.submission)
                .expect("commands come from req.commands");
            (&read.dir, &c.source_sha256, "it was read")
        }));
    for (dir, digest, when) in folders {
        let shipped = speedcert_bundle::source::ship(staged, dir)
            .map_err(|e| CertifyError::Usage(e.to_string()))?;
        if &shipped != digest {
            return Err(CertifyError::Usage(format!(
                "{}: changed after {when} (source digest {digest} then, {shipped} now); certify again",
                dir.display(),
            )));
        }
    }
    bundle::write_json(&staged.join(layout::PLAN), &plan)?;
    journal::seal_plan(staged, &plan, signers)?;
    // rename(2) replaces an empty folder and refuses a non-empty one: a second
    // certification racing for the same --out loses here, before it runs anything.
    match std::fs::rename(staged, dir) {
        Ok(()) => {
            let _ = tmp.keep();
            speedcert_fsio::sync_dir(parent);
            Ok(plan)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists
            ) =>
        {
            Err(CertifyError::Usage(format!(
                "{}: already exists and is not empty; pass --resume to continue it, or choose a new --out",
                dir.display()
            )))
        }
        Err(e) => Err(bundle::io(dir)(e).into()),
    }
}

/// Reads an existing bundle's plan, for `--resume`, `--slot` and `--collect`.
pub fn load_plan(dir: &Path) -> Result<Plan, CertifyError> {
    Ok(bundle::read_json(&dir.join(layout::PLAN))?)
}

/// Slots still to run: neither sealed nor with a run.json.
pub fn pending(dir: &Path, plan: &Plan) -> Result<Vec<Slot>, CertifyError> {
    let sealed = journal::sealed_slots(dir)?;
    Ok(plan
        .slots
        .iter()
        .filter(|s| {
            !sealed.contains(&s.index) && !layout::run_dir(dir, s.index).join(layout::RUN).is_file()
        })
        .cloned()
        .collect())
}

/// Before `--resume` or `--collect` continues a bundle: plan.json must be the sealed plan
/// and every sealed run's run.json the one sealed. A bundle planned before the journal
/// (no seals at all) continues as it was.
pub fn check_seals(dir: &Path) -> Result<(), CertifyError> {
    let journal = journal::read_journal(dir)?;
    if journal.is_empty() {
        return Ok(());
    }
    let problems = journal::resume_problems(dir, &journal)?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BundleError::Inconsistent { problems }.into())
    }
}

/// Progress of a child run, as the parent sees it.
pub trait SlotObserver {
    fn started(&self, slot: &Slot);
    fn event(&self, slot: &Slot, event: &RunEvent);
    fn finished(&self, slot: &Slot, record: &RunRecord);
}

/// Phase 2: runs one slot in a child process (`speedcert run --events`), so a crash,
/// an OOM kill or a hang (killed at the track's timeout) fails that run only. When the
/// child leaves no run.json, the parent writes a failed one saying why.
pub fn run_slot(
    dir: &Path,
    plan: &Plan,
    slot: &Slot,
    timeout: Duration,
    observer: &dyn SlotObserver,
    signers: &[speedcert_attest::Signer],
) -> Result<RunRecord, CertifyError> {
    let run_dir = bundle::create_run_dir(dir, slot.index)?;
    if let Some(spec) = plan
        .commands
        .iter()
        .find(|c| c.submission == slot.submission)
    {
        observer.started(slot);
        let record = run_command_slot(dir, plan, slot, spec, timeout)?;
        journal::seal_run(dir, plan, slot.index, signers)?;
        observer.finished(slot, &record);
        return Ok(record);
    }
    let stderr_path = run_dir.join(layout::STDERR);
    let stderr = std::fs::File::create(&stderr_path).map_err(bundle::io(&stderr_path))?;
    // A submission built from a folder runs as its runner, fenced; a built-in one as this
    // binary.
    let build = plan.builds.iter().find(|b| b.submission == slot.submission);
    let exe = match build {
        Some(b) => crate::outside::BuildSettings::for_this_binary()
            .and_then(|settings| crate::outside::runner::for_bundle(dir, b, &settings))
            .map_err(|e| CertifyError::Record {
                path: layout::source_dir(dir, &b.source_sha256),
                message: e.to_string(),
            })?,
        None => std::env::current_exe().map_err(bundle::io(Path::new("<current executable>")))?,
    };
    // A built-in submission runs fenced too when the track requires fences: its
    // pin.fences check holds only if every run was in them.
    let track = load_track(dir)?;
    let fence = build.is_some() || !track.spec.certification.required_fences.is_empty();
    let track_file = dir.join(layout::TRACK);
    let mut command = if fence {
        let spec = crate::fence::FenceSpec::harness_run(
            &track.spec,
            Some(&track_file),
            &exe,
            Some(&run_dir),
        );
        crate::fence::wrap(&spec, exe.as_os_str())
    } else {
        Command::new(&exe)
    };
    observer.started(slot);
    let started = Instant::now();
    let mut child = command
        .arg("run")
        .arg("--track")
        .arg(&track_file)
        .args(["--submission", &slot.submission])
        .args(["--seed", &slot.seed.to_string()])
        .args(["--heldout-seed", &slot.heldout_seed.to_string()])
        .args(["--run-index", &slot.index.to_string()])
        .args(["--role", slot.role.as_str()])
        .args(["--device", &plan.device.to_string()])
        .arg("--out")
        .arg(&run_dir)
        .arg("--events")
        .args(plan.language_seed.map(|_| "--secret-language"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(bundle::io(&run_dir))?;
    // The secret language goes through a pipe, not the command line or the environment,
    // which the submission could read in its own process.
    if let Some(mut stdin) = child.stdin.take()
        && let Some(seed) = plan.language_seed
    {
        use std::io::Write;
        let _ = writeln!(stdin, "{seed}");
    }
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel::<RunEvent>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(e) = serde_json::from_str::<RunEvent>(&line) {
                let _ = tx.send(e);
            }
        }
    });
    // The fences this process sees the child in, taken as soon as they are set: what
    // run.json records, whatever the run itself writes there.
    let mut observed = None;
    let status = loop {
        if fence && observed.is_none() {
            observed = crate::fence::observe(child.id(), crate::fence::Network::None);
        }
        while let Ok(e) = rx.try_recv() {
            observer.event(slot, &e);
        }
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "killed after the track's run timeout of {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) if fence && observed.is_none() => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(format!("could not wait for the child process: {e}")),
        }
    };
    let _ = reader.join();
    while let Ok(e) = rx.try_recv() {
        observer.event(slot, &e);
    }
    let run_json = run_dir.join(layout::RUN);
    let record = match (&status, run_json.is_file()) {
        (Ok(_), true) => {
            let mut record = bundle::read_json::<RunRecord>(&run_json)?;
            let fences = observed.unwrap_or_default();
            if record.fences != fences {
                record.fences = fences;
                bundle::write_json(&run_json, &record)?;
            }
            record
        }
        (outcome, _) => {
            let reason = match outcome {
                Err(reason) => reason.clone(),
                Ok(st) => child_exit_reason(st, &stderr_path),
            };
            let _ = std::fs::remove_file(&run_json);
            write_failed(dir, plan, slot, reason)?
        }
    };
    journal::seal_run(dir, plan, slot.index, signers)?;
    observer.finished(slot, &record);
    Ok(record)
}

/// One run of a command submission (`outside::command::run`) in a fresh copy of the
/// source this bundle ships: its log is kept as train.log, and its run.json takes the
/// training time, steps and loss from that log ([`speedcert_bundle::command::read_log`])
/// and the wall time, exit code and GPU telemetry from the referee.
fn run_command_slot(
    dir: &Path,
    plan: &Plan,
    slot: &Slot,
    spec: &speedcert_bundle::command::CommandSpec,
    timeout: Duration,
) -> Result<RunRecord, CertifyError> {
    let run_dir = layout::run_dir(dir, slot.index);
    let source = layout::source_dir(dir, &spec.source_sha256);
    let sampler = crate::telemetry::gpu::GpuSampler::for_device(plan.device);
    let outcome = crate::outside::command::run(
        spec,
        &source,
        &crate::outside::command::RunEnv {
            seed: slot.seed,
            run_index: slot.index,
            role: slot.role.as_str(),
        },
        timeout,
        &run_dir.join(layout::STDOUT),
        &run_dir.join(layout::STDERR),
    )
    .map_err(|e| CertifyError::Record {
        path: source.clone(),
        message: e.to_string(),
    })?;
    let gpu = sampler.stop();
    bundle::write_bytes(&run_dir.join(layout::TRAIN_LOG), &outcome.log)?;
    let track = load_track(dir)?;
    let mut record = failed_record(dir, &track, plan, slot, String::new())?;
    let text = String::from_utf8_lossy(&outcome.log);
    let read = speedcert_bundle::command::read_log(
        &text,
        outcome.command.wall_time_ms,
        record.target_val_loss,
    );
    match (outcome.failure, read) {
        (None, Ok(f)) => {
            record.status = RunStatus::Ok;
            record.failure = None;
            record.steps = f.steps;
            record.train_time_ms = f.train_time_ms;
            record.final_val_loss = Some(f.final_val_loss);
            record.time_to_target_ms = f.time_to_target_ms;
            record.reached_target = f.final_val_loss <= record.target_val_loss;
        }
        (Some(why), _) => record.failure = Some(why),
        (None, Err(why)) => record.failure = Some(format!("{}: {why}", layout::TRAIN_LOG)),
    }
    record.devices = speedcert_bundle::command::trained_devices(plan.device, &gpu);
    let pins = speedcert_bundle::env::check_run_pins(
        &track.spec.hardware,
        &record.env,
        plan.device,
        record.trained_devices(),
    );
    record.official = pins.iter().all(|p| p.passed);
    record.throttled = gpu.throttled();
    record.command = Some(outcome.command);
    record.fences = outcome.fences;
    Ok(bundle::write_run(
        &run_dir,
        &record,
        &StepLog::default(),
        Some(&gpu.to_csv()),
    )?)
}

fn child_exit_reason(status: &std::process::ExitStatus, stderr: &Path) -> String {
    use crate::commands::fenced::exit;
    if let Some(code @ (exit::FENCE_FAILED | exit::NOT_STARTED)) =
        status.code().and_then(|c| u8::try_from(c).ok())
    {
        let said = std::fs::read_to_string(stderr).unwrap_or_default();
        if let Some(line) = said
            .lines()
            .rev()
            .find(|l| l.starts_with("speedcert fenced:"))
        {
            return format!("the run never started (exit {code}): {line}");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let hint = if sig == 9 {
                " (SIGKILL: out of memory?)"
            } else {
                ""
            };
            return format!("child process killed by signal {sig}{hint}; see stderr.log");
        }
    }
    format!("child process exited with {status} without writing run.json; see stderr.log")
}

/// The bundle's track.toml, every error naming it.
fn load_track(dir: &Path) -> Result<Track, CertifyError> {
    let path = dir.join(layout::TRACK);
    Track::load(&path).map_err(|e| CertifyError::Record {
        message: e.to_string(),
        path,
    })
}

/// A run.json for a run whose process died before writing one.
fn failed_record(
    dir: &Path,
    track: &Track,
    plan: &Plan,
    slot: &Slot,
    reason: String,
) -> Result<RunRecord, CertifyError> {
    let env: Environment = bundle::read_json(&dir.join(layout::ENV))?;
    let submission_sha256 = match slot.role {
        Role::Candidate => plan.submission_sha256.clone(),
        Role::Baseline => plan.baseline_submission_sha256.clone().unwrap_or_default(),
    };
    // A command's run keeps the command section even when it never ran (its log empty).
    let command =
        plan.command_of(&submission_sha256)
            .map(|_| speedcert_bundle::command::CommandRun {
                wall_time_ms: 0.0,
                exit_code: None,
                log_sha256: speedcert_fsio::sha256_bytes(b""),
                versions: None,
            });
    Ok(RunRecord {
        schema: crate::harness::RUN_SCHEMA.to_owned(),
        track: track.spec.name.clone(),
        track_sha256: track.sha256(),
        submission: slot.submission.clone(),
        submission_sha256,
        role: slot.role,
        run_index: slot.index,
        seed: slot.seed,
        heldout_seed: Some(slot.heldout_seed),
        device: plan.device,
        precision: track.spec.reference.precision,
        status: RunStatus::Failed,
        failure: Some(reason),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        steps: 0,
        train_tokens: 0,
        train_time_ms: 0.0,
        train_tokens_per_s: None,
        val_time_ms: 0.0,
        init_time_ms: 0.0,
        time_to_target_ms: None,
        final_val_loss: None,
        heldout_val_loss: None,
        target_val_loss: track.spec.target.val_loss,
        loss_floor: track.spec.loss_floor(),
        reached_target: false,
        official: false,
        throttled: false,
        causality: None,
        env,
        steps_sha256: None,
        gpu_sha256: None,
        fences: Vec::new(),
        language_seed: plan.language_seed,
        memory: None,
        devices: None,
        ranks: None,
        heldout_window: None,
        command,
        data: Vec::new(),
    })
}

/// Before [`collect`] of runs that ran elsewhere (a Slurm array, or by hand): every
/// planned slot still without run.json gets a failed one saying `reason`, so a lost
/// task is signed as a failed run rather than leaving a silently smaller N. Whatever
/// the lost run left in its folder (stderr.log) stays there as evidence.
pub fn fail_missing(
    dir: &Path,
    plan: &Plan,
    reason: impl Fn(&Slot) -> String,
    signers: &[speedcert_attest::Signer],
) -> Result<Vec<RunRecord>, CertifyError> {
    pending(dir, plan)?
        .iter()
        .map(|slot| {
            let record = write_failed(dir, plan, slot, reason(slot))?;
            journal::seal_run(dir, plan, slot.index, signers)?;
            Ok(record)
        })
        .collect()
}

/// Writes a failed run.json (and an empty step log) for `slot` into its run folder.
fn write_failed(
    dir: &Path,
    plan: &Plan,
    slot: &Slot,
    reason: String,
) -> Result<RunRecord, CertifyError> {
    let run_dir = bundle::create_run_dir(dir, slot.index)?;
    let record = failed_record(dir, &load_track(dir)?, plan, slot, reason)?;
    if record.command.is_some() {
        bundle::write_bytes(&run_dir.join(layout::TRAIN_LOG), b"")?;
    }
    Ok(bundle::write_run(
        &run_dir,
        &record,
        &StepLog::default(),
        None,
    )?)
}

/// Phase 3: computes summary.json from the bundle's files and signs the bundle.
pub fn collect(dir: &Path, signers: &[speedcert_attest::Signer]) -> Result<Summary, CertifyError> {
    let inputs = summary::BundleInputs::read(dir)?;
    let summary = summary::compute(&inputs);
    speedcert_bundle::seal(dir, signers, &summary, None)?;
    Ok(summary)
}

/// Reads a record bundle's candidate times for a stored-record comparison. The record
/// must verify against `trust` first (signatures and recomputed statistics): an unsigned
/// or miscomputed time is no record.
pub fn stored_baseline(
    record: &Path,
    trust: &speedcert_attest::TrustStore,
) -> Result<StoredBaseline, CertifyError> {
    let report = speedcert_bundle::verify_bundle(record, trust, 1)?;
    if !report.is_genuine() {
        return Err(CertifyError::Record {
            path: record.to_owned(),
            message: format!("the record bundle does not verify:\n{report}"),
        });
    }
    let inputs = summary::BundleInputs::read(record)?;
    let signed: Summary = bundle::read_json(&record.join(layout::SUMMARY))?;
    if let Err(why) = signed.qualifies_as_record() {
        return Err(CertifyError::Record {
            path: record.to_owned(),
            message: format!(
                "is not a record ({why}): only a verified bundle that can stand as its track's record can be the baseline"
            ),
        });
    }
    let ok: Vec<&RunRecord> = inputs
        .runs
        .iter()
        .filter(|r| r.role == Role::Candidate && r.status == RunStatus::Ok)
        .collect();
    let times_ms: Vec<f64> = ok.iter().map(|r| r.train_time_ms).collect();
    let val_losses: Vec<f64> = ok.iter().filter_map(|r| r.final_val_loss).collect();
    let envelope = record.join(layout::ATTESTATION);
    Ok(StoredBaseline {
        bundle: record.display().to_string(),
        attestation_sha256: speedcert_fsio::sha256_file(&envelope).map_err(BundleError::from)?,
        submission: inputs.plan.submission.clone(),
        times_ms,
        val_losses,
        machine_fingerprint: Some(inputs.env.machine_fingerprint()),
    })
}

/// The submission a record bundle certified (for `--against`).
pub fn record_submission(record: &Path) -> Result<String, CertifyError> {
    Ok(load_plan(record)?.submission)
}
