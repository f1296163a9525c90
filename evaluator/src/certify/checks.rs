//! The anti-gaming checks of a certification, each a named pass or fail computed from
//! the bundle's files (DESIGN.md, Anti-gaming checks).

use std::collections::HashSet;

use super::plan::Plan;
use super::summary::LossStats;
use crate::checks::CheckResult;
use crate::envinfo::Environment;
use crate::harness::{Role, RunRecord, RunStatus};
use crate::track::{DataSpec, Track};

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

pub fn all(
    track: &Track,
    plan: &Plan,
    env: &Environment,
    runs: &[RunRecord],
    cand_ok: &[&RunRecord],
    loss: Option<&LossStats>,
    threshold: f64,
) -> Vec<CheckResult> {
    let spec = &track.spec;
    let mut out = Vec::new();

    // causality: every finished candidate run's final model.
    let mut leaks = Vec::new();
    for r in cand_ok {
        match &r.causality {
            Some(c) if c.passed => {}
            Some(c) => leaks.push(format!(
                "run-{:03}: a later token moved earlier logits by {:.3e} (tolerance {:.1e} x logit scale {:.3})",
                r.run_index, c.max_leak, crate::checks::CAUSALITY_REL_TOL, c.logit_scale
            )),
            None => leaks.push(format!("run-{:03}: no causality probe recorded", r.run_index)),
        }
    }
    out.push(CheckResult::new(
        "causality",
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
        "run_failures",
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
            "loss_floor",
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
        "independent_seeds",
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
        "timing_ownership",
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
            "token_accounting",
            max_tokens <= budget,
            format!("at most {max_tokens} training tokens used of a budget of {budget}"),
        ),
        None => CheckResult::new(
            "token_accounting",
            true,
            format!("at most {max_tokens} training tokens used (the track sets no budget)"),
        ),
    });

    // identity: all runs made by the same binary, of the planned submissions.
    out.push(identity(plan, env, runs));

    // environment pins.
    out.extend(pins(track, plan, env, runs));
    out
}

/// The pins, checked against the machine each finished run reported (under Slurm that
/// is the compute node, not the host that wrote env.json); env.json only when no run
/// finished. A pin holds only if it held for every run.
fn pins(track: &Track, plan: &Plan, env: &Environment, runs: &[RunRecord]) -> Vec<CheckResult> {
    let hw = &track.spec.hardware;
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    if finished.is_empty() {
        return crate::envinfo::check_pins(hw, env, plan.device);
    }
    let per_run: Vec<Vec<CheckResult>> = finished
        .iter()
        .map(|r| crate::envinfo::check_pins(hw, &r.env, r.device))
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
                    &first.name,
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
                "validation_isolation",
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
                "validation_isolation",
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
            "heldout_validation",
            true,
            "the track has no held-out slice".to_owned(),
        );
    };
    let p = speedcert_stats::one_sample_t(&diffs, 0.0, speedcert_stats::Alternative::Greater)
        .ok()
        .map(|t| t.p);
    let overfit = gap > tolerance && p.is_none_or(|p| p < threshold);
    CheckResult::new(
        "heldout_validation",
        !overfit,
        format!(
            "held-out minus public loss {gap:+.4} (tolerance {tolerance:.3}){}",
            p.map(|p| format!(", p = {}", super::report::fmt_p(p)))
                .unwrap_or_default()
        ),
    )
}

fn identity(plan: &Plan, env: &Environment, runs: &[RunRecord]) -> CheckResult {
    let mut problems = Vec::new();
    for r in runs {
        if r.env.binary_sha256 != env.binary_sha256 {
            problems.push(format!("run-{:03} ran a different binary", r.run_index));
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
        "identity",
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "binary {}, submission {}, Cargo.lock {}",
                short(env.binary_sha256.as_deref()),
                short(Some(&plan.submission_sha256)),
                short(env.cargo_lock_sha256.as_deref())
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
