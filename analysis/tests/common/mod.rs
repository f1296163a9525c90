//! Builds records folders of real bundles for the tests, through speedcert-bundle's own
//! types and writers, exactly as `speedcert certify` lays them out: track.toml (the test
//! suite's test-tiny track under the spec's name), env.json, plan.json, every run's
//! run.json and steps.csv, then summary.json *computed* from those files and signed
//! with `seal`. Nothing here writes a verdict: a spec's times and losses decide it, and
//! `records rebuild` recomputes it the way `speedcert verify` does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use speedcert_attest::{Signer, generate_key, public_key_path};
use speedcert_bundle::env::Environment;
use speedcert_bundle::plan::{
    Attempt, PLAN_SCHEMA, Plan, Schedule, Slot, StoredBaseline, TimeBaseline,
};
use speedcert_bundle::run::{
    CausalityResult, RUN_SCHEMA, Role, RunRecord, RunStatus, tokens_per_s,
};
use speedcert_bundle::steps::{StepLog, StepRow};
use speedcert_bundle::summary::{self, Summary};
use speedcert_bundle::{BundleInputs, Verdict, io, journal, layout, seal};

/// The test suite's track (target val_loss 3.1, p threshold 0.01, device cpu,
/// validation every 10 steps).
const TEST_TINY: &str = include_str!("../../../tests/tracks/test-tiny.toml");

/// The main track of the standard folder.
pub const TINY: &str = "synthetic-tiny";
/// Steps of a finished run; a validation follows every [`EVERY`]th.
pub const STEPS: usize = 40;
pub const EVERY: usize = 10;
/// The track's target val_loss.
pub const TARGET: f64 = 3.1;
/// Training tokens per step unless a run says otherwise (test-tiny: 16 × 32).
pub const TOKENS_PER_STEP: u64 = 512;

/// test-tiny.toml's text with its name replaced by `track`.
pub fn track_toml(track: &str) -> String {
    let text = TEST_TINY.replacen("name = \"test-tiny\"", &format!("name = \"{track}\""), 1);
    assert_ne!(
        text, TEST_TINY,
        "test-tiny.toml no longer names itself test-tiny"
    );
    text
}

/// The sha256 a submission's source hashes to (one fixed value per name).
pub fn source_sha256(submission: &str) -> String {
    hex::encode(Sha256::digest(format!("source of {submission}").as_bytes()))
}

/// The certifying machine: no GPU, binary "test".
pub fn environment() -> Environment {
    Environment {
        cpu_model: Some("Test CPU".into()),
        cpu_count: Some(2),
        kernel: Some("Linux 6.1".into()),
        hostname: Some("certifier".into()),
        binary_sha256: Some("test".into()),
        speedcert_version: "0.1.0".into(),
        ..Environment::default()
    }
}

/// One run of a bundle; runs are numbered in the order they are listed.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub role: Role,
    /// Training time at the last step (for a failed run, the pace its rows keep).
    pub time_ms: f64,
    /// Validation losses after steps 9, 19, 29 and 39; the last is the final loss.
    pub vals: [f64; 4],
    pub tokens_per_step: u64,
    /// A failed run: the steps it logged before failing (0: an empty steps.csv).
    pub failed_after: Option<usize>,
}

/// The default curve ending at `loss`: each validation better than the one before.
pub fn curve_to(loss: f64) -> [f64; 4] {
    [loss + 0.6, loss + 0.3, loss + 0.1, loss]
}

/// A candidate run that finished at `time_ms` with final loss `loss`.
pub fn cand(time_ms: f64, loss: f64) -> RunSpec {
    RunSpec {
        role: Role::Candidate,
        time_ms,
        vals: curve_to(loss),
        tokens_per_step: TOKENS_PER_STEP,
        failed_after: None,
    }
}

/// A baseline run (the record's submission rerun) that finished at `time_ms`.
pub fn base(time_ms: f64, loss: f64) -> RunSpec {
    RunSpec {
        role: Role::Baseline,
        ..cand(time_ms, loss)
    }
}

/// A candidate run that failed after logging `steps` steps at the pace of a
/// `time_ms` run, with the validations `vals` along the way.
pub fn failed_cand(steps: usize, time_ms: f64, vals: [f64; 4]) -> RunSpec {
    RunSpec {
        failed_after: Some(steps),
        vals,
        ..cand(time_ms, vals[3])
    }
}

impl RunSpec {
    pub fn curve(mut self, vals: [f64; 4]) -> Self {
        self.vals = vals;
        self
    }

    pub fn tokens(mut self, per_step: u64) -> Self {
        self.tokens_per_step = per_step;
        self
    }
}

/// What a bundle's times are compared with.
#[derive(Debug, Clone)]
pub enum Against {
    /// No time comparison (a track's first certification).
    Nothing,
    /// The named submission rerun on the same machine, from the given source.
    Rerun { submission: String, source: String },
    /// The times stored in a record bundle.
    Stored(StoredBaseline),
}

impl Against {
    /// `submission` rerun from its one source ([`source_sha256`]).
    pub fn rerun(submission: &str) -> Self {
        Against::Rerun {
            submission: submission.into(),
            source: source_sha256(submission),
        }
    }
}

pub struct BundleSpec<'a> {
    /// Folder relative to the records folder.
    pub rel: &'a str,
    pub track: &'a str,
    pub submission: &'a str,
    /// plan.json's created_at; runs start later that day.
    pub created_at: &'a str,
    pub against: Against,
    /// Run on CUDA, which the CPU track's pins refuse: every run is unofficial.
    pub unofficial: bool,
    pub runs: Vec<RunSpec>,
    /// plan.json's place in the attempt ledger; `None` as before the ledger.
    pub attempt: Option<Attempt>,
}

pub fn spec<'a>(
    rel: &'a str,
    track: &'a str,
    submission: &'a str,
    created_at: &'a str,
    against: Against,
    runs: Vec<RunSpec>,
) -> BundleSpec<'a> {
    BundleSpec {
        rel,
        track,
        submission,
        created_at,
        against,
        unofficial: false,
        runs,
        attempt: None,
    }
}

impl BundleSpec<'_> {
    /// The same bundle, planned as attempt `number` after the ledger head `head`.
    pub fn attempt(mut self, number: usize, head: &str) -> Self {
        self.attempt = Some(Attempt {
            number,
            ledger_head_sha256: head.into(),
        });
        self
    }

    /// The same bundle, run where the track's pins do not hold.
    pub fn unofficial(mut self) -> Self {
        self.unofficial = true;
        self
    }
}

pub struct Keys {
    pub signer: Signer,
    pub other: Signer,
    _tmp: tempfile::TempDir,
}

/// A trusted key (its public half copied to `records/keys/`) and an untrusted one.
pub fn keys(records: &Path) -> Keys {
    let tmp = tempfile::tempdir().unwrap();
    let trusted = tmp.path().join("certifier.pem");
    let other = tmp.path().join("stranger.pem");
    generate_key(&trusted).unwrap();
    generate_key(&other).unwrap();
    std::fs::create_dir_all(records.join("keys")).unwrap();
    std::fs::copy(
        public_key_path(&trusted),
        records.join("keys/certifier.pub.pem"),
    )
    .unwrap();
    Keys {
        signer: Signer::load(&trusted).unwrap(),
        other: Signer::load(&other).unwrap(),
        _tmp: tmp,
    }
}

/// The step log of `r`: one row per step, validations after every [`EVERY`]th.
fn step_log(r: &RunSpec) -> StepLog {
    let n = r.failed_after.unwrap_or(STEPS);
    let rows = (0..n)
        .map(|i| StepRow {
            step: i,
            tokens: r.tokens_per_step * (i as u64 + 1),
            // A ratio, so the last step is `time_ms` exactly.
            train_time_ms: r.time_ms * ((i + 1) as f64 / STEPS as f64),
            train_loss: Some(4.0 - 0.03 * i as f64),
            val_loss: ((i + 1) % EVERY == 0).then(|| r.vals[(i + 1) / EVERY - 1]),
            lr: Some(0.02),
        })
        .collect();
    StepLog { rows }
}

/// Writes a bundle as `speedcert certify` does, computes its summary from the files
/// and signs it with `signer`; returns its folder.
pub fn write_bundle(records: &Path, spec: &BundleSpec, signer: &Signer) -> PathBuf {
    let dir = records.join(spec.rel);
    std::fs::create_dir_all(dir.join(layout::RUNS)).unwrap();
    let track_text = track_toml(spec.track);
    io::write_bytes(&dir.join(layout::TRACK), track_text.as_bytes()).unwrap();
    let env = environment();
    io::write_json(&dir.join(layout::ENV), &env).unwrap();
    let device = if spec.unofficial { "cuda" } else { "cpu" };

    let (comparison, baseline, baseline_sha, stored) = match &spec.against {
        Against::Nothing => (TimeBaseline::None, None, None, None),
        Against::Rerun { submission, source } => (
            TimeBaseline::SameMachine,
            Some(submission.clone()),
            Some(source.clone()),
            None,
        ),
        Against::Stored(s) => (
            TimeBaseline::StoredRecord,
            Some(s.submission.clone()),
            None,
            Some(s.clone()),
        ),
    };
    // Same-machine runs pair up in order: the k-th candidate with the k-th baseline.
    let pair_of = |index: usize| {
        let role = spec.runs[index].role;
        (comparison == TimeBaseline::SameMachine)
            .then(|| spec.runs[..index].iter().filter(|r| r.role == role).count())
    };
    let slots: Vec<Slot> = spec
        .runs
        .iter()
        .enumerate()
        .map(|(index, r)| Slot {
            pair: pair_of(index),
            index,
            role: r.role,
            submission: match r.role {
                Role::Candidate => spec.submission.to_owned(),
                Role::Baseline => {
                    assert_eq!(comparison, TimeBaseline::SameMachine, "{}", spec.rel);
                    baseline.clone().unwrap()
                }
            },
            seed: 1000 + index as u64,
            heldout_seed: 5000 + index as u64,
        })
        .collect();
    let plan = Plan {
        schema: PLAN_SCHEMA.into(),
        track: spec.track.into(),
        track_sha256: hex::encode(Sha256::digest(track_text.as_bytes())),
        submission: spec.submission.into(),
        submission_sha256: source_sha256(spec.submission),
        baseline_submission: baseline,
        baseline_submission_sha256: baseline_sha,
        comparison,
        stored_baseline: stored,
        device: serde_json::from_value(json!(device)).unwrap(),
        created_at: spec.created_at.into(),
        slots: slots.clone(),
        schedule: Some(Schedule::Sequential),
        attempt: spec.attempt.clone(),
        builds: Vec::new(),
        language_seed: None,
        commands: Vec::new(),
    };
    io::write_json(&dir.join(layout::PLAN), &plan).unwrap();
    journal::seal_plan(&dir, &plan, std::slice::from_ref(signer)).unwrap();

    // The track as the bundle reader parses it (speedcert_track::Track::load).
    let track = BundleInputs::read(&dir).unwrap().track;
    assert_eq!(track.spec.name, spec.track);
    assert_eq!(track.sha256(), plan.track_sha256);
    assert_eq!(track.spec.target.val_loss, TARGET);
    let target = track.spec.target.val_loss;
    let date = &spec.created_at[..10];

    for (slot, r) in slots.iter().zip(&spec.runs) {
        let log = step_log(r);
        let last = log.rows.last();
        let (tokens, time_ms) = last.map_or((0, 0.0), |l| (l.tokens, l.train_time_ms));
        let failed = r.failed_after.is_some();
        let final_loss = (!failed).then_some(r.vals[3]);
        let record = RunRecord {
            schema: RUN_SCHEMA.into(),
            track: spec.track.into(),
            track_sha256: track.sha256(),
            submission: slot.submission.clone(),
            submission_sha256: match slot.role {
                Role::Candidate => plan.submission_sha256.clone(),
                Role::Baseline => plan.baseline_submission_sha256.clone().unwrap(),
            },
            role: slot.role,
            run_index: slot.index,
            seed: slot.seed,
            heldout_seed: Some(slot.heldout_seed),
            device: plan.device,
            precision: Default::default(),
            status: if failed {
                RunStatus::Failed
            } else {
                RunStatus::Ok
            },
            failure: failed.then(|| format!("loss became NaN at step {}", log.rows.len())),
            started_at: format!("{date}T23:{:02}:00Z", slot.index),
            steps: log.rows.len(),
            train_tokens: tokens,
            train_time_ms: time_ms,
            train_tokens_per_s: tokens_per_s(tokens, time_ms),
            val_time_ms: 12.5,
            init_time_ms: 3.5,
            time_to_target_ms: if failed {
                None
            } else {
                log.rows
                    .iter()
                    .find(|row| row.val_loss.is_some_and(|l| l <= target))
                    .map(|row| row.train_time_ms)
            },
            final_val_loss: final_loss,
            heldout_val_loss: final_loss.map(|l| l + 0.002),
            target_val_loss: target,
            loss_floor: track.spec.loss_floor(),
            reached_target: final_loss.is_some_and(|l| l <= target),
            official: !spec.unofficial,
            throttled: false,
            causality: (!failed).then(|| CausalityResult {
                passed: true,
                max_leak: 0.0,
                probed_positions: vec![1, 16, 31],
                logit_scale: 9.0,
            }),
            env: env.clone(),
            steps_sha256: None,
            gpu_sha256: None,
            fences: Vec::new(),
            language_seed: None,
            memory: None,
            devices: None,
            ranks: None,
            heldout_window: None,
            command: None,
            data: Vec::new(),
        };
        let run_dir = io::create_run_dir(&dir, slot.index).unwrap();
        io::write_run(&run_dir, &record, &log, None).unwrap();
        journal::seal_run(&dir, &plan, slot.index, std::slice::from_ref(signer)).unwrap();
    }

    let inputs = BundleInputs::read(&dir).unwrap();
    let summary = summary::compute(&inputs);
    seal(&dir, std::slice::from_ref(signer), &summary, None).unwrap();
    dir
}

/// [`write_bundle`], asserting the verdict its runs were chosen to give.
pub fn write_expect(
    records: &Path,
    spec: &BundleSpec,
    signer: &Signer,
    verdict: Verdict,
) -> PathBuf {
    let dir = write_bundle(records, spec, signer);
    let s = summary_of(&dir);
    assert_eq!(s.verdict, verdict, "{}: {}", spec.rel, s.verdict_detail);
    dir
}

/// A bundle's summary.json.
pub fn summary_of(dir: &Path) -> Summary {
    io::read_json(&dir.join(layout::SUMMARY)).unwrap()
}

/// sha256 of a bundle's attestation: the digest records and stored comparisons name.
pub fn attestation_sha256(dir: &Path) -> String {
    speedcert_fsio::sha256_file(&dir.join(layout::ATTESTATION)).unwrap()
}

/// A stored-record comparison against the record bundle `rel`, as `certify --against`
/// builds it: its finished candidate times and losses and its attestation digest.
pub fn stored(records: &Path, rel: &str) -> Against {
    let dir = records.join(rel);
    let inputs = BundleInputs::read(&dir).unwrap();
    let ok: Vec<&RunRecord> = inputs
        .runs
        .iter()
        .filter(|r| r.role == Role::Candidate && r.status == RunStatus::Ok)
        .collect();
    Against::Stored(StoredBaseline {
        bundle: rel.into(),
        attestation_sha256: attestation_sha256(&dir),
        submission: inputs.plan.submission.clone(),
        times_ms: ok.iter().map(|r| r.train_time_ms).collect(),
        val_losses: ok.iter().filter_map(|r| r.final_val_loss).collect(),
        machine_fingerprint: Some(inputs.env.machine_fingerprint()),
    })
}

/// Edits a signed bundle's JSON file in place, after signing (a tampered bundle).
pub fn tamper_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Edits a bundle's summary and signs the edited summary with `signer`: every file then
/// matches the attestation, but the summary no longer follows from the runs.
pub fn resign_edited_summary(dir: &Path, signer: &Signer, edit: impl FnOnce(&mut Summary)) {
    let mut s = summary_of(dir);
    edit(&mut s);
    seal(dir, std::slice::from_ref(signer), &s, None).unwrap();
}

/// The standard test records folder (verdicts computed from the runs):
/// - tiny/2026-11-20-reference: `synthetic-tiny`'s first certification, no time
///   comparison ("not significant"), loss test passed: record #1
/// - other/2026-11-21-ref: the same for track `other`
/// - tiny/2026-11-22-fast: "new record" against `reference` rerun interleaved: record
///   #2; its baseline runs end far below every candidate (they are not the frontier's)
/// - tiny/2026-11-23-slow: slower than its `fast` baseline, and a candidate run failed
///   after two validations better than any other ("check failed"); runs only
/// - tiny/2026-11-24-tampered: a "new record" whose run.json was edited after signing
/// - tiny/2026-11-25-stranger: a "new record" signed by a key that is not trusted
pub fn standard(records: &Path) -> Keys {
    let k = keys(records);
    write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-20-reference",
            TINY,
            "reference",
            "2026-11-20T09:00:00Z",
            Against::Nothing,
            vec![cand(1000.0, 2.60), cand(1010.0, 2.62), cand(990.0, 2.61)],
        ),
        &k.signer,
        Verdict::NotSignificant,
    );
    write_expect(
        records,
        &spec(
            "bundles/other/2026-11-21-ref",
            "other",
            "reference",
            "2026-11-21T09:00:00Z",
            Against::Nothing,
            vec![cand(61_000.0, 2.600), cand(62_000.0, 2.602)],
        ),
        &k.signer,
        Verdict::NotSignificant,
    );
    write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-22-fast",
            TINY,
            "fast",
            "2026-11-22T10:00:00Z",
            Against::rerun("reference"),
            vec![
                cand(900.0, 2.62),
                base(1001.0, 2.40),
                cand(905.0, 2.61),
                base(999.0, 2.41),
                cand(895.0, 2.63),
                base(1000.0, 2.42),
            ],
        ),
        &k.signer,
        Verdict::NewRecord,
    );
    write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-23-slow",
            TINY,
            "slow",
            "2026-11-23T10:00:00Z",
            Against::rerun("fast"),
            vec![
                cand(1200.0, 2.50),
                base(902.0, 2.62),
                cand(1190.0, 2.51),
                base(898.0, 2.61),
                failed_cand(25, 1000.0, [2.0, 1.95, 1.9, 1.85]),
            ],
        ),
        &k.signer,
        Verdict::CheckFailed,
    );
    let tampered = write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-24-tampered",
            TINY,
            "cheater",
            "2026-11-24T10:00:00Z",
            Against::rerun("fast"),
            vec![
                cand(500.0, 2.600),
                base(900.0, 2.62),
                cand(505.0, 2.602),
                base(902.0, 2.61),
            ],
        ),
        &k.signer,
        Verdict::NewRecord,
    );
    tamper_json(&tampered.join("runs/run-000/run.json"), |v| {
        v["train_time_ms"] = json!(400.0);
    });
    write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-25-stranger",
            TINY,
            "stranger",
            "2026-11-25T10:00:00Z",
            Against::rerun("fast"),
            vec![
                cand(450.0, 2.600),
                base(900.0, 2.62),
                cand(455.0, 2.602),
                base(902.0, 2.61),
            ],
        ),
        &k.other,
        Verdict::NewRecord,
    );
    k
}
