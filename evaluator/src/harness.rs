//! One timed run of a submission on a track. The harness owns the clock, the training
//! stream and the validation loss:
//!
//! * `init` is untimed and gets no data; every `train_step` is timed, with the device
//!   synced before each clock read so queued GPU work is charged to the step that made it;
//! * validation passes pause the clock (as the speedrun does) and are timed apart;
//! * every training token handed out is counted;
//! * a panic or a non-finite loss ends the run as *failed* with its reason, never as a
//!   crash of the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use crate::causality::ModelProbe;
use crate::crew::{Crew, Muster};
use crate::data::{Dealer, EvalSet, TrainStream};
use crate::model::cross_entropy;
use crate::submission::{InitContext, Ranks, Submission, SubmissionError, TrackView};
use crate::track::{DataSpec, DeviceKind, Track};
pub use speedcert_bundle::env::Environment;
pub use speedcert_bundle::run::{
    CausalityResult, HeldoutWindow, RUN_SCHEMA, Role, RunRecord, RunStatus, tokens_per_s,
};
use speedcert_bundle::steps::{StepLog, StepRow};
use speedcert_track::memory::MemoryPlan;

/// No schedule may run longer than this, whatever `finished` says (the track format's cap
/// on `reference.steps`, one definition).
pub use speedcert_track::MAX_STEPS;

/// Who is being run: the name and the digest of its source.
#[derive(Debug, Clone)]
pub struct Identity {
    pub submission: String,
    pub submission_sha256: String,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    /// Seed of the held-out validation slice (synthetic tracks); `None` disables it.
    pub heldout_seed: Option<u64>,
    pub run_index: usize,
    pub role: Role,
    /// Environment to record; collected once by the caller.
    pub env: Environment,
    /// Whether the environment matched the track's pins.
    pub official: bool,
    /// A synthetic language to train and validate on instead of the track's public one
    /// (a certification's secret language); ignored on shard tracks.
    pub language_seed: Option<u64>,
    /// Data-parallel ranks: one per device on GPUs (devices `0..ranks`), threads sharing
    /// the one device on the CPU.
    pub ranks: usize,
}

/// The record plus the step log.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub record: RunRecord,
    pub steps: StepLog,
}

/// Progress of a run, for a progress bar or a parent process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    Started {
        planned_steps: Option<usize>,
    },
    Step {
        step: usize,
        train_loss: Option<f64>,
        train_time_ms: f64,
    },
    Validation {
        step: usize,
        val_loss: f64,
        train_time_ms: f64,
    },
    Finished {
        status: RunStatus,
        failure: Option<String>,
    },
}

pub trait RunObserver {
    fn event(&self, event: &RunEvent);
}

/// Ignores every event.
pub struct Quiet;
impl RunObserver for Quiet {
    fn event(&self, _: &RunEvent) {}
}

/// Mean cross-entropy of the submission's logits over a whole slice, on the harness's
/// own code path (the submission's idea of its loss is never used).
pub fn evaluate<B: AutodiffBackend, S: Submission<B>>(
    sub: &S,
    set: &EvalSet,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    let windows = set.windows();
    let mut total = 0.0;
    let mut start = 0;
    while start < windows {
        let n = batch_size.min(windows - start);
        let (inputs, targets) = set.batch::<B::InnerBackend>(start, n, device);
        // Read as f64 from the f32 loss tensor, not through the backend's float element
        // (bf16 would round a loss of 3.28 to a multiple of 1/64).
        let loss: f64 = cross_entropy(sub.logits(inputs), targets)
            .into_data()
            .iter::<f64>()
            .next()
            .unwrap_or(f64::NAN);
        total += loss * n as f64;
        start += n;
    }
    total / windows as f64
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into an error message.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| format!("{what} panicked: {}", panic_message(p)))
}

pub(crate) fn sync<B: Backend>(device: &B::Device) -> Result<(), String> {
    B::sync(device).map_err(|e| format!("device sync failed: {e:?}"))
}

/// The validation slices of a track for this run: the public one, and the held-out one
/// with where it was read in a held-out shard (run.json `heldout_window`).
pub fn eval_sets(
    track: &Track,
    heldout_seed: Option<u64>,
) -> Result<crate::data::EvalSets, String> {
    let spec = &track.spec;
    let seq = spec.model.seq_len;
    let v = &spec.validation;
    match &spec.data {
        DataSpec::Synthetic(s) => {
            let public = EvalSet::synthetic(&s.language, s.val_seed, v.tokens, seq);
            let heldout = match heldout_seed {
                Some(seed) if v.heldout_tokens > 0 => {
                    if seed == s.train_seed || seed == s.val_seed {
                        return Err(format!(
                            "held-out seed {seed} equals a public stream seed of the track"
                        ));
                    }
                    Some((
                        EvalSet::synthetic(&s.language, seed, v.heldout_tokens, seq),
                        None,
                    ))
                }
                _ => None,
            };
            Ok((public, heldout))
        }
        DataSpec::Shards(d) => crate::data::shard_eval_sets(d, v, seq, heldout_seed),
    }
}

/// `track` with its synthetic language drawn from `seed`; its digest stays the track
/// file's.
fn with_language(track: &Track, seed: u64) -> Track {
    let mut t = track.clone();
    if let DataSpec::Synthetic(s) = &mut t.spec.data {
        s.language.language_seed = seed;
    }
    t
}

/// Devices a run with `ranks` ranks trains on: one per rank on GPUs; the CPU is one
/// device however many ranks share it.
pub fn devices(device: DeviceKind, ranks: usize) -> u32 {
    match device {
        DeviceKind::Cpu => 1,
        DeviceKind::Cuda => ranks.max(1) as u32,
    }
}

/// Trains `S` on `track` once and reports what happened. Never panics because of the
/// submission: failures are recorded in the outcome.
pub fn run<B: AutodiffBackend, S: Submission<B>>(
    track: &Track,
    device: &B::Device,
    backend: crate::backend::BackendChoice,
    identity: &Identity,
    opts: &RunOptions,
    observer: &dyn RunObserver,
) -> RunOutcome {
    crate::alloc::keep_freed_memory();
    crate::threads::join_compute_pool();
    let secret;
    let (track, language_seed) = match (&track.spec.data, opts.language_seed) {
        (DataSpec::Synthetic(_), Some(seed)) => {
            secret = with_language(track, seed);
            (&secret, Some(seed))
        }
        _ => (track, None),
    };
    let spec = &track.spec;
    let mut record = RunRecord {
        schema: RUN_SCHEMA.to_owned(),
        track: spec.name.clone(),
        track_sha256: track.sha256(),
        submission: identity.submission.clone(),
        submission_sha256: identity.submission_sha256.clone(),
        role: opts.role,
        run_index: opts.run_index,
        seed: opts.seed,
        heldout_seed: opts.heldout_seed,
        device: backend.device(),
        precision: backend.precision(),
        status: RunStatus::Failed,
        failure: None,
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
        target_val_loss: spec.target.val_loss,
        loss_floor: spec.loss_floor(),
        reached_target: false,
        official: opts.official,
        throttled: false,
        causality: None,
        env: opts.env.clone(),
        steps_sha256: None,
        gpu_sha256: None,
        fences: Vec::new(),
        language_seed,
        memory: None,
        devices: Some(devices(backend.device(), opts.ranks)),
        ranks: (opts.ranks > 1).then_some(opts.ranks as u32),
        heldout_window: None,
        command: None,
        data: Vec::new(),
    };
    let mut log = StepLog::default();
    let result = run_inner::<B, S>(track, device, opts, observer, &mut record, &mut log);
    match result {
        Ok(()) => record.status = RunStatus::Ok,
        Err(reason) => {
            record.status = RunStatus::Failed;
            record.failure = Some(reason);
            record.reached_target = false;
        }
    }
    observer.event(&RunEvent::Finished {
        status: record.status,
        failure: record.failure.clone(),
    });
    RunOutcome { record, steps: log }
}

fn run_inner<B: AutodiffBackend, S: Submission<B>>(
    track: &Track,
    device: &B::Device,
    opts: &RunOptions,
    observer: &dyn RunObserver,
    record: &mut RunRecord,
    log: &mut StepLog,
) -> Result<(), String> {
    let spec = &track.spec;
    let (val_set, heldout) = eval_sets(track, opts.heldout_seed)?;
    let heldout_set = heldout.map(|(set, window)| {
        record.heldout_window = window;
        set
    });
    let (source, shards) = crate::data::train_source(track)?;
    record.data = shards;
    let ranks = opts.ranks.max(1);
    let dealer = Dealer::new(source, ranks, spec.target.token_budget);
    // Before anything of the submission's is allocated: a recipe its device cannot hold is
    // refused here, not by the allocator hours into a certification. Each device holds
    // one rank.
    let plan = MemoryPlan::per_rank(&spec.model, &spec.reference, ranks);
    let (memory, refused) = crate::memory::check(plan, record.device, &opts.env);
    record.memory = Some(memory);
    if let Some(why) = refused {
        return Err(why);
    }

    // Untimed set-up: no data handle is given, and only the redacted track.
    let view = TrackView::of(spec);
    let muster = Muster::<B> {
        view: &view,
        seed: opts.seed,
        run_index: opts.run_index,
        world: ranks,
        dealer,
        device,
    };
    let sets = (val_set, heldout_set);
    if ranks == 1 {
        let crew = Crew::none();
        return lead::<B, S>(&muster, &crew, track, opts, observer, record, log, sets);
    }
    std::thread::scope(|scope| {
        let crew = Crew::start::<B, S>(scope, &muster);
        let result = crate::crew::join::<B>(0, device, ranks)
            .and_then(|()| lead::<B, S>(&muster, &crew, track, opts, observer, record, log, sets));
        let _ = burn::collective::finish_collective::<B::InnerBackend>(
            burn::collective::PeerId::from(0usize),
        );
        crew.finish(result)
    })
}

/// Rank 0: builds its replica, then trains on the clock, ordering every step of the
/// followers in `crew` with its own, and validates its replica.
#[allow(clippy::too_many_arguments)]
fn lead<B: AutodiffBackend, S: Submission<B>>(
    muster: &Muster<'_, B>,
    crew: &Crew<'_>,
    track: &Track,
    opts: &RunOptions,
    observer: &dyn RunObserver,
    record: &mut RunRecord,
    log: &mut StepLog,
    (val_set, heldout_set): (EvalSet, Option<EvalSet>),
) -> Result<(), String> {
    let spec = &track.spec;
    let device = muster.device;
    let val_batch = spec.validation.batch_size;
    let mut stream = TrainStream::<B>::rank(muster.dealer.clone(), 0, device.clone());
    let init_start = Instant::now();
    let ctx = InitContext {
        track: muster.view,
        device,
        seed: opts.seed,
        run_index: opts.run_index,
        ranks: Ranks {
            rank: 0,
            world: muster.world,
        },
    };
    let mut sub = guarded("init", || S::init(&ctx))?.map_err(|e| format!("init failed: {e}"))?;
    sync::<B>(device)?;
    crew.ready()?;
    record.init_time_ms = init_start.elapsed().as_secs_f64() * 1e3;
    if !crew.is_empty() {
        crew.agree(
            &guarded("probe", || ModelProbe::<B>::take(&sub, &val_set, device))?,
            "after init",
        )?;
    }
    observer.event(&RunEvent::Started {
        planned_steps: Some(spec.reference.steps),
    });

    let mut train_ms = 0.0;
    let mut val_ms = 0.0;
    let mut step = 0;
    let mut last_val = None;
    // `finished` is on the clock, with the step before it: a submission could otherwise
    // train there, on batches it kept.
    let t = Instant::now();
    let mut done = guarded("finished", || sub.finished(0))?;
    sync::<B>(device)?;
    train_ms += t.elapsed().as_secs_f64() * 1e3;
    loop {
        let validate_now = done || (step > 0 && step % spec.validation.every_steps == 0);
        if validate_now {
            // The clock is paused: validation is the referee's time, not the submission's.
            sync::<B>(device)?;
            let t = Instant::now();
            let loss = guarded("validation", || {
                let probe = ModelProbe::<B>::take(&sub, &val_set, device);
                let loss = evaluate::<B, S>(&sub, &val_set, val_batch, device);
                probe
                    .unchanged_after(&sub, &format!("the validation pass after step {step}"))
                    .map(|()| loss)
            })??;
            val_ms += t.elapsed().as_secs_f64() * 1e3;
            if !loss.is_finite() {
                return Err(format!("validation loss is {loss} after step {step}"));
            }
            if loss <= spec.target.val_loss && record.time_to_target_ms.is_none() {
                record.time_to_target_ms = Some(train_ms);
            }
            if let Some(row) = log.rows.last_mut().filter(|r| r.step + 1 == step) {
                row.val_loss = Some(loss);
            }
            last_val = Some(loss);
            observer.event(&RunEvent::Validation {
                step,
                val_loss: loss,
                train_time_ms: train_ms,
            });
        }
        if done {
            break;
        }
        if step >= MAX_STEPS {
            return Err(format!("no end after {MAX_STEPS} steps"));
        }
        sync::<B>(device)?;
        let t = Instant::now();
        crew.begin_step(step)?;
        let report = guarded("train_step", || sub.train_step(&mut stream, step))?
            .map_err(|e: SubmissionError| format!("train_step {step} failed: {e}"))?;
        done = guarded("finished", || sub.finished(step + 1))?;
        sync::<B>(device)?;
        // The step ends when the last rank has finished it.
        crew.end_step(step, done)?;
        train_ms += t.elapsed().as_secs_f64() * 1e3;
        step += 1;
        record.steps = step;
        record.train_tokens = stream.tokens_served();
        record.train_time_ms = train_ms;
        record.train_tokens_per_s = tokens_per_s(record.train_tokens, train_ms);
        if let Some(l) = report.train_loss
            && !l.is_finite()
        {
            return Err(format!("train loss is {l} at step {}", step - 1));
        }
        log.rows.push(StepRow {
            step: step - 1,
            tokens: stream.tokens_served(),
            train_time_ms: train_ms,
            train_loss: report.train_loss,
            val_loss: None,
            lr: report.learning_rate,
        });
        observer.event(&RunEvent::Step {
            step: step - 1,
            train_loss: report.train_loss,
            train_time_ms: train_ms,
        });
    }
    record.train_time_ms = train_ms;
    record.val_time_ms = val_ms;
    record.final_val_loss = last_val;
    // The trained model is final: the held-out pass and the causality probe must not
    // change it either.
    let probe = guarded("probe", || ModelProbe::<B>::take(&sub, &val_set, device))?;
    // Rank 0's replica is validated for the whole machine, so every replica must be it.
    crew.agree(&probe, "after training")?;
    if let Some(set) = &heldout_set {
        let t = Instant::now();
        let loss = guarded("held-out validation", || {
            evaluate::<B, S>(&sub, set, val_batch, device)
        })?;
        record.val_time_ms += t.elapsed().as_secs_f64() * 1e3;
        guarded("probe", || {
            probe.unchanged_after(&sub, "the held-out validation pass")
        })??;
        record.heldout_val_loss = Some(loss);
    }
    record.causality = Some(guarded("causality probe", || {
        crate::causality::causality_probe::<B, S>(&sub, &val_set, device)
    })?);
    guarded("probe", || {
        probe.unchanged_after(&sub, "the causality probe")
    })??;
    record.reached_target = last_val.is_some_and(|l| l <= spec.target.val_loss);
    if let Some(m) = record.memory.as_mut()
        && record.device == DeviceKind::Cpu
    {
        m.peak_bytes = crate::memory::peak_resident_bytes();
    }
    Ok(())
}
