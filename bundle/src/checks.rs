//! The anti-gaming checks of a certification, each a named pass or fail computed from
//! the bundle's files (DESIGN.md, Anti-gaming checks).

use std::collections::{BTreeMap, HashSet};

use speedcert_stats::format::fmt_p;
use speedcert_track::{DataSpec, Track};

use serde::{Deserialize, Serialize};

use crate::check::{CheckId, CheckResult};
use crate::command::Clock;
use crate::env::{Environment, check_pins, check_run_pins};
use crate::figures::LossStats;
use crate::plan::Plan;
use crate::run::{CAUSALITY_REL_TOL, Role, RunRecord, RunStatus};
use crate::steps::StepLog;

/// What the checks are computed from: the bundle's files and the summary's figures.
pub struct Facts<'a> {
    pub track: &'a Track,
    pub plan: &'a Plan,
    pub env: &'a Environment,
    pub runs: &'a [RunRecord],
    pub steps: &'a BTreeMap<usize, Result<StepLog, String>>,
    /// Each command run's train.log ([`crate::inputs::BundleInputs::logs`]).
    pub logs: &'a BTreeMap<usize, Result<String, String>>,
    /// The candidate runs that finished with a validation loss.
    pub cand_ok: &'a [&'a RunRecord],
    pub loss: Option<&'a LossStats>,
    pub threshold: f64,
}

/// A loss this far below the floor is impossible rather than validation noise.
pub fn floor_tolerance(floor: f64) -> f64 {
    (0.01 * floor).max(0.02)
}

/// A held-out loss this much above the public one (and significantly so) is overfitting.
/// The public slice is one fixed sample whose own sampling offset is shared by every run,
/// so averaging runs does not shrink it: the tolerance is 4 standard errors of the
/// difference of a public and a held-out mean, with per-token losses spreading by about
/// 2 nats on these tasks (measured: 1.8 on test-tiny), and never below 0.03 nats.
pub fn heldout_gap_tolerance(track: &Track) -> f64 {
    let v = &track.spec.validation;
    let (n_pub, n_held) = (v.tokens.max(1) as f64, v.heldout_tokens.max(1) as f64);
    (4.0 * 2.0 * (1.0 / n_pub + 1.0 / n_held).sqrt()).max(0.03)
}

/// Every check this speedcert knows, in no particular order; the caller keeps those of
/// the summary version it computes.
pub fn all(facts: &Facts<'_>) -> Vec<CheckResult> {
    let Facts {
        track,
        plan,
        env,
        runs,
        steps,
        logs,
        cand_ok,
        loss,
        threshold,
    } = *facts;
    let spec = &track.spec;
    let mut out = Vec::new();

    // causality: every finished candidate run's final model.
    let mut leaks = Vec::new();
    for r in cand_ok {
        match &r.causality {
            Some(c) if c.passed => {}
            Some(c) => leaks.push(format!(
                "run-{:03}: a later token moved earlier logits by {:.3e} (tolerance {:.1e} x logit scale {:.3})",
                r.run_index, c.max_leak, CAUSALITY_REL_TOL, c.logit_scale
            )),
            None => leaks.push(format!("run-{:03}: no causality probe recorded", r.run_index)),
        }
    }
    out.push(CheckResult::new(
        CheckId::Causality,
        leaks.is_empty(),
        if leaks.is_empty() {
            format!(
                "perturbing tokens left earlier logits unchanged in all {} runs",
                cand_ok.len()
            )
        } else {
            leaks.join("; ")
        },
    ));

    // every planned candidate run finished: a record must reproduce in all of its reruns.
    let failed: Vec<String> = plan
        .slots
        .iter()
        .filter(|s| s.role == Role::Candidate)
        .filter_map(|s| match runs.iter().find(|r| r.run_index == s.index) {
            Some(r) if r.status == RunStatus::Ok => None,
            Some(r) => Some(format!(
                "run-{:03}: {}",
                s.index,
                r.failure.as_deref().unwrap_or("failed")
            )),
            None => Some(format!("run-{:03}: never finished", s.index)),
        })
        .collect();
    out.push(CheckResult::new(
        CheckId::RunFailures,
        failed.is_empty(),
        if failed.is_empty() {
            "every candidate run finished".to_owned()
        } else {
            format!(
                "{} candidate run(s) failed: {}",
                failed.len(),
                failed.join("; ")
            )
        },
    ));

    // validation isolation.
    out.push(isolation(track, plan));

    // loss floor.
    if let Some(floor) = spec.loss_floor() {
        let tol = floor_tolerance(floor);
        let below: Vec<String> = runs
            .iter()
            .filter_map(|r| {
                let l = r.final_val_loss?;
                (l < floor - tol).then(|| format!("run-{:03}: {l:.4}", r.run_index))
            })
            .collect();
        out.push(CheckResult::new(
            CheckId::LossFloor,
            below.is_empty(),
            if below.is_empty() {
                format!("every loss is above the floor {floor:.4} (less {tol:.3} of slack)")
            } else {
                format!(
                    "impossible losses below the floor {floor:.4}: {}",
                    below.join(", ")
                )
            },
        ));
    }

    // held-out validation.
    out.push(heldout(
        cand_ok,
        loss,
        threshold,
        heldout_gap_tolerance(track),
    ));

    // independent seeds.
    let mut seen = HashSet::new();
    let repeats: Vec<u64> = runs
        .iter()
        .filter(|r| !seen.insert(r.seed))
        .map(|r| r.seed)
        .collect();
    let planned_ok = runs.iter().all(|r| {
        plan.slots
            .iter()
            .any(|s| s.index == r.run_index && s.seed == r.seed)
    });
    out.push(CheckResult::new(
        CheckId::IndependentSeeds,
        repeats.is_empty() && planned_ok,
        if !repeats.is_empty() {
            format!("seeds repeated: {repeats:?}")
        } else if !planned_ok {
            "a run's seed differs from the one planned for it".to_owned()
        } else {
            format!(
                "{} runs, {} distinct seeds, as planned",
                runs.len(),
                seen.len()
            )
        },
    ));

    // timing ownership: init gets no data handle, by construction of the API.
    let init_ms: f64 =
        cand_ok.iter().map(|r| r.init_time_ms).sum::<f64>() / cand_ok.len().max(1) as f64;
    out.push(CheckResult::new(
        CheckId::TimingOwnership,
        true,
        format!(
            "untimed init had no data handle (mean {init_ms:.0} ms); every training batch was drawn on the clock"
        ),
    ));

    // token accounting.
    let tokens: Vec<u64> = cand_ok.iter().map(|r| r.train_tokens).collect();
    let max_tokens = tokens.iter().copied().max().unwrap_or(0);
    out.push(match spec.target.token_budget {
        Some(budget) => CheckResult::new(
            CheckId::TokenAccounting,
            max_tokens <= budget,
            format!("at most {max_tokens} training tokens used of a budget of {budget}"),
        ),
        None => CheckResult::new(
            CheckId::TokenAccounting,
            true,
            format!("at most {max_tokens} training tokens used (the track sets no budget)"),
        ),
    });

    // identity: all runs made by the same binary, of the planned submissions.
    out.push(identity(plan, env, runs));

    // step logs: each finished run's steps.csv is the run.json it claims to be.
    out.push(step_logs(runs, steps, spec.target.val_loss));

    // environment pins.
    out.extend(pins(track, plan, env, runs));
    out.extend(fences(track, runs));

    // A command's run reports its own clock and loss: the checks that read what the
    // harness owns cannot run ([`not_run`]); its log is checked instead.
    if plan.clock() == Clock::SelfReported {
        let skipped = not_run(plan);
        out.retain(|c| !skipped.iter().any(|n| n.name == c.name));
        out.push(command_logs(runs, logs, spec.target.val_loss));
    }
    out
}

/// A check that a certification could not make, and why (summary.json `not_run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRun {
    pub name: CheckId,
    pub why: String,
}

/// The checks a certification of command submissions cannot make: they read what only
/// the harness knows (the model, the batches it drew, its clock, its validation data).
/// Empty for a certification whose runs trained in the harness.
pub fn not_run(plan: &Plan) -> Vec<NotRun> {
    if plan.clock() != Clock::SelfReported {
        return Vec::new();
    }
    [
        (
            CheckId::Causality,
            "the referee has no handle on the command's model to probe it",
        ),
        (
            CheckId::ValidationIsolation,
            "the command reads its own training and validation data",
        ),
        (
            CheckId::LossFloor,
            "the track's floor is its own data's; the command validates on data of its own",
        ),
        (
            CheckId::HeldoutValidation,
            "the command computes its own validation loss; there is no held-out slice the referee scores",
        ),
        (
            CheckId::TimingOwnership,
            "the training time is the command's own train_time; the referee measures only the process's wall time, which bounds it (command_log)",
        ),
        (
            CheckId::TokenAccounting,
            "the command draws its own batches; the referee cannot count its tokens",
        ),
        (
            CheckId::StepLog,
            "there is no harness steps.csv; the command's log is checked by command_log",
        ),
    ]
    .into_iter()
    .map(|(name, why)| NotRun {
        name,
        why: why.to_owned(),
    })
    .collect()
}

/// `command_log`: each finished command run's train.log, read again, is whole, in order,
/// within the wall time the referee measured, and what its run.json says.
fn command_logs(
    runs: &[RunRecord],
    logs: &BTreeMap<usize, Result<String, String>>,
    target: f64,
) -> CheckResult {
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    // The software a submission's versions command reported must not change between its
    // runs: the pinned environment is the same for all of them.
    let mut versions: BTreeMap<&str, (usize, Option<&str>)> = BTreeMap::new();
    let mut changed = Vec::new();
    for r in &finished {
        let v = r.command.as_ref().and_then(|c| c.versions.as_deref());
        match versions.get(r.submission.as_str()) {
            Some((first, seen)) if *seen != v => changed.push(format!(
                "run-{:03}: the versions command printed {:?}, run-{first:03} of {} printed {:?}",
                r.run_index, v, r.submission, seen
            )),
            Some(_) => {}
            None => {
                versions.insert(&r.submission, (r.run_index, v));
            }
        }
    }
    let problems: Vec<String> = changed
        .into_iter()
        .chain(finished.iter().filter_map(|r| {
            let problem = match logs.get(&r.run_index) {
                None => Some(format!("no {}", crate::layout::TRAIN_LOG)),
                Some(Err(e)) => Some(e.clone()),
                Some(Ok(text)) => crate::command::log_problem(r, text, target),
            };
            problem.map(|p| format!("run-{:03}: {p}", r.run_index))
        }))
        .collect();
    let slack: Vec<f64> = finished
        .iter()
        .filter_map(|r| Some(r.command.as_ref()?.wall_time_ms - r.train_time_ms))
        .collect();
    CheckResult::new(
        CheckId::CommandLog,
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "the logs of all {} finished runs are whole and in order, report no more training time than the process ran (at least {:.0} ms less), and agree with their run.json",
                finished.len(),
                slack.iter().copied().fold(f64::INFINITY, f64::min).max(0.0)
            )
        } else {
            problems.join("; ")
        },
    )
}

/// Whether every finished run was in the fences the track requires; `None` when it
/// requires none. A fence is a pin: a run outside it may be honest, but cannot show it.
fn fences(track: &Track, runs: &[RunRecord]) -> Option<CheckResult> {
    let required = &track.spec.certification.required_fences;
    if required.is_empty() {
        return None;
    }
    let names: Vec<&str> = required.iter().map(|f| f.as_str()).collect();
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let outside: Vec<String> = finished
        .iter()
        .filter_map(|r| {
            let missing: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !r.fences.iter().any(|f| f == n))
                .collect();
            (!missing.is_empty())
                .then(|| format!("run-{:03} not in {}", r.run_index, missing.join(", ")))
        })
        .collect();
    let want = names.join(", ");
    Some(if finished.is_empty() {
        CheckResult::new(
            CheckId::PinFences,
            false,
            format!("track requires {want}; no run finished to show it"),
        )
    } else if outside.is_empty() {
        CheckResult::new(
            CheckId::PinFences,
            true,
            format!(
                "track requires {want}; all {} runs were in them",
                finished.len()
            ),
        )
    } else {
        CheckResult::new(
            CheckId::PinFences,
            false,
            format!(
                "track requires {want}; {} of {} runs were not: {}",
                outside.len(),
                finished.len(),
                outside.join("; ")
            ),
        )
    })
}

/// The pins, checked against the machine each finished run reported (under Slurm that
/// is the compute node, not the host that wrote env.json); env.json only when no run
/// finished. A pin holds only if it held for every run.
fn pins(track: &Track, plan: &Plan, env: &Environment, runs: &[RunRecord]) -> Vec<CheckResult> {
    let hw = &track.spec.hardware;
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    if finished.is_empty() {
        return check_pins(hw, env, plan.device);
    }
    let per_run: Vec<Vec<CheckResult>> = finished
        .iter()
        .map(|r| check_run_pins(hw, &r.env, r.device, r.trained_devices()))
        .collect();
    per_run[0]
        .iter()
        .map(|first| {
            let same: Vec<&CheckResult> = per_run
                .iter()
                .filter_map(|checks| checks.iter().find(|c| c.name == first.name))
                .collect();
            let failed: Vec<&&CheckResult> = same.iter().filter(|c| !c.passed).collect();
            match failed.first() {
                None => first.clone(),
                Some(bad) => CheckResult::new(
                    first.name,
                    false,
                    format!("{} ({} of {} runs)", bad.detail, failed.len(), same.len()),
                ),
            }
        })
        .collect()
}

fn isolation(track: &Track, plan: &Plan) -> CheckResult {
    match &track.spec.data {
        DataSpec::Synthetic(s) => {
            let held: HashSet<u64> = plan.slots.iter().map(|x| x.heldout_seed).collect();
            let clash = s.train_seed == s.val_seed
                || held.contains(&s.train_seed)
                || held.contains(&s.val_seed);
            CheckResult::new(
                CheckId::ValidationIsolation,
                !clash,
                if clash {
                    "a validation stream shares its seed with the training stream".to_owned()
                } else {
                    format!(
                        "train, public validation and {} held-out streams have distinct seeds; submissions get no handle on validation data",
                        held.len()
                    )
                },
            )
        }
        DataSpec::Shards(d) => {
            let names: HashSet<&str> = d.train.iter().map(|s| s.name.as_str()).collect();
            let digests: HashSet<&str> =
                d.train.iter().filter_map(|s| s.sha256.as_deref()).collect();
            let shared: Vec<&str> = d
                .val
                .iter()
                .filter(|v| {
                    names.contains(v.name.as_str())
                        || v.sha256.as_deref().is_some_and(|h| digests.contains(h))
                })
                .map(|v| v.name.as_str())
                .collect();
            CheckResult::new(
                CheckId::ValidationIsolation,
                shared.is_empty(),
                if shared.is_empty() {
                    "validation shards share no name or digest with training shards; submissions get no handle on them".to_owned()
                } else {
                    format!(
                        "validation shards also listed for training: {}",
                        shared.join(", ")
                    )
                },
            )
        }
    }
}

fn heldout(
    cand_ok: &[&RunRecord],
    loss: Option<&LossStats>,
    threshold: f64,
    tolerance: f64,
) -> CheckResult {
    let diffs: Vec<f64> = cand_ok
        .iter()
        .filter_map(|r| Some(r.heldout_val_loss? - r.final_val_loss?))
        .collect();
    let Some(gap) = loss.and_then(|l| l.heldout_gap) else {
        return CheckResult::new(
            CheckId::HeldoutValidation,
            true,
            "the track has no held-out slice".to_owned(),
        );
    };
    let p = speedcert_stats::one_sample_t(&diffs, 0.0, speedcert_stats::Alternative::Greater)
        .ok()
        .map(|t| t.p);
    let overfit = gap > tolerance && p.is_none_or(|p| p < threshold);
    CheckResult::new(
        CheckId::HeldoutValidation,
        !overfit,
        format!(
            "held-out minus public loss {gap:+.4} (tolerance {tolerance:.3}){}",
            p.map(|p| format!(", p = {}", fmt_p(p))).unwrap_or_default()
        ),
    )
}

fn identity(plan: &Plan, env: &Environment, runs: &[RunRecord]) -> CheckResult {
    let mut problems = Vec::new();
    for r in runs {
        // A submission built from a folder runs as its runner; a built-in one as the
        // certifying binary of env.json.
        let (expected, which) = match plan.build_of(&r.submission_sha256) {
            Some(b) if b.submission == r.submission => {
                (Some(b.runner_sha256.clone()), "its planned runner")
            }
            _ => (env.binary_sha256.clone(), "the certifying binary"),
        };
        if r.env.binary_sha256 != expected {
            problems.push(format!(
                "run-{:03} ran a different binary than {which}",
                r.run_index
            ));
        }
        let want = match r.role {
            Role::Candidate => Some(&plan.submission_sha256),
            Role::Baseline => plan.baseline_submission_sha256.as_ref(),
        };
        if want != Some(&r.submission_sha256) && r.status == RunStatus::Ok {
            problems.push(format!(
                "run-{:03} ran submission source {} not the planned one",
                r.run_index, r.submission_sha256
            ));
        }
    }
    CheckResult::new(
        CheckId::Identity,
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "binary {}, submission {}, Cargo.lock {}{}",
                short(env.binary_sha256.as_deref()),
                short(Some(&plan.submission_sha256)),
                short(env.cargo_lock_sha256.as_deref()),
                plan.builds
                    .iter()
                    .map(|b| format!(
                        ", runner of {} {}",
                        b.submission,
                        short(Some(&b.runner_sha256))
                    ))
                    .collect::<String>()
            )
        } else {
            problems.join("; ")
        },
    )
}

/// Relative tolerance for figures a run.json repeats from its steps.csv (both are
/// written from the same f64s, and both formats round-trip them exactly).
const SAME: f64 = 1e-9;

pub(crate) fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= SAME * a.abs().max(b.abs()).max(1.0)
}

/// [`same`] for figures that may be absent: both absent, or both present and the same.
pub(crate) fn same_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    }
}

/// Why one finished run's step log disagrees with its run.json, if it does: the log must
/// have one row per step in order, count tokens and time upward, and end where run.json
/// says (tokens, time, final validation loss, first time at the target).
pub fn step_log_problem(r: &RunRecord, log: &StepLog, target: f64) -> Option<String> {
    let rows = &log.rows;
    if rows.len() != r.steps {
        return Some(format!(
            "{} rows for {} steps in run.json",
            rows.len(),
            r.steps
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.step != i {
            return Some(format!("row {} is step {}, expected {i}", i + 1, row.step));
        }
        if i > 0
            && (row.tokens < rows[i - 1].tokens || row.train_time_ms < rows[i - 1].train_time_ms)
        {
            return Some(format!("tokens or time go backwards at step {i}"));
        }
    }
    let last = rows.last()?;
    if last.tokens != r.train_tokens {
        return Some(format!(
            "the log ends at {} tokens, run.json says {}",
            last.tokens, r.train_tokens
        ));
    }
    if !same(last.train_time_ms, r.train_time_ms) {
        return Some(format!(
            "the log ends at {} ms, run.json says {} ms",
            last.train_time_ms, r.train_time_ms
        ));
    }
    match (last.val_loss, r.final_val_loss) {
        (Some(a), Some(b)) if same(a, b) => {}
        (a, b) => {
            return Some(format!(
                "the last validation in the log is {a:?}, run.json's final_val_loss is {b:?}"
            ));
        }
    }
    let first_at_target = rows
        .iter()
        .find(|row| row.val_loss.is_some_and(|l| l <= target))
        .map(|row| row.train_time_ms);
    (!same_opt(first_at_target, r.time_to_target_ms)).then(|| {
        format!(
            "the log first reaches the target at {first_at_target:?} ms, run.json's time_to_target_ms is {:?}",
            r.time_to_target_ms
        )
    })
}

fn step_logs(
    runs: &[RunRecord],
    steps: &BTreeMap<usize, Result<StepLog, String>>,
    target: f64,
) -> CheckResult {
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let problems: Vec<String> = finished
        .iter()
        .filter_map(|r| {
            let problem = match steps.get(&r.run_index) {
                None => Some("no steps.csv".to_owned()),
                Some(Err(e)) => Some(e.clone()),
                Some(Ok(log)) => step_log_problem(r, log, target),
            };
            problem.map(|p| format!("run-{:03}: {p}", r.run_index))
        })
        .collect();
    CheckResult::new(
        CheckId::StepLog,
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "the step logs of all {} finished runs agree with their run.json",
                finished.len()
            )
        } else {
            problems.join("; ")
        },
    )
}

fn short(h: Option<&str>) -> String {
    h.map(|h| h.chars().take(12).collect())
        .unwrap_or_else(|| "unknown".into())
}
