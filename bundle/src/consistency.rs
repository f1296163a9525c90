//! The cross-checks between a bundle's raw files that no computation can repair: every run
//! must be a run of the bundle's track, of the slot plan.json gave it (role, submission,
//! seeds, device), with the target the track sets, and with the very step and GPU logs it
//! was written with. A signature says who vouches for a bundle, not that its files agree:
//! a trusted key re-signing spliced or edited runs must still be caught, by `verify`,
//! `certify --collect` and `records rebuild` alike (they all read through
//! [`crate::BundleInputs::read`]).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use speedcert_track::memory::MemoryPlan;
use speedcert_track::{DeviceKind, Track};

use crate::env::Environment;
use crate::gpu::GpuLog;
use crate::layout;
use crate::plan::Plan;
use crate::run::{CausalityResult, RunRecord};

/// One contradiction, about one file of the bundle (a path relative to the bundle).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

impl Problem {
    fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// Each runner build must be of the plan's candidate or baseline, under that digest, and
/// its source must be shipped exactly as digested.
fn source_problems(dir: &Path, plan: &Plan) -> Vec<Problem> {
    let mut out = Vec::new();
    let shipped = plan
        .builds
        .iter()
        .map(|b| (&b.submission, &b.source_sha256, "builds"))
        .chain(
            plan.commands
                .iter()
                .map(|c| (&c.submission, &c.source_sha256, "commands")),
        );
    for (submission, source_sha256, field) in shipped {
        let planned = [
            Some((&plan.submission, &plan.submission_sha256)),
            plan.baseline_submission
                .as_ref()
                .zip(plan.baseline_submission_sha256.as_ref()),
        ];
        if !planned
            .iter()
            .flatten()
            .any(|(name, sha)| *name == submission && *sha == source_sha256)
        {
            out.push(Problem::new(
                layout::PLAN,
                format!(
                    "{field} names submission {submission} with source {source_sha256}, which is neither the plan's candidate nor its baseline"
                ),
            ));
        }
        out.extend(crate::source::shipped_problems(dir, source_sha256));
    }
    // One clock per certification: a command's self-reported times are never compared
    // with the harness's.
    if !plan.commands.is_empty() {
        let planned = [
            Some(&plan.submission_sha256),
            plan.baseline_submission_sha256.as_ref(),
        ];
        for sha in planned.into_iter().flatten() {
            if plan.command_of(sha).is_none() {
                out.push(Problem::new(
                    layout::PLAN,
                    format!(
                        "commands holds a command submission, but submission {sha} trains in the harness: the two clocks are never mixed in one certification"
                    ),
                ));
            }
        }
    }
    out
}

/// A run's held-out window must be the track's held-out shard at the offset its own
/// held-out seed gives, and every run must have seen the shard at one length.
fn heldout_problems(
    track: &Track,
    shard: Option<&speedcert_track::ShardRef>,
    runs: &[RunRecord],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut length: Option<(u64, usize)> = None;
    for r in runs {
        let file = layout::run_file(r.run_index, layout::RUN);
        let mut problem = |m: String| out.push(Problem::new(&file, m));
        let Some(w) = &r.heldout_window else {
            if shard.is_some() && r.heldout_val_loss.is_some() {
                problem(
                    "heldout_val_loss is set but heldout_window is missing: track.toml draws the held-out slice from data.heldout".to_owned(),
                );
            }
            continue;
        };
        let Some(shard) = shard else {
            problem(format!(
                "heldout_window names shard {}, but track.toml has no data.heldout",
                w.shard
            ));
            continue;
        };
        if w.shard != shard.name {
            problem(format!(
                "heldout_window names shard {}, but track.toml's data.heldout is {}",
                w.shard, shard.name
            ));
        }
        let want = r.heldout_seed.and_then(|seed| {
            speedcert_track::heldout_offset(
                seed,
                w.shard_tokens,
                track.spec.validation.heldout_tokens,
            )
        });
        if want != Some(w.offset) {
            problem(format!(
                "heldout_window.offset is {}, but held-out seed {} in a shard of {} tokens gives {}",
                w.offset,
                r.heldout_seed
                    .map_or("(none)".to_owned(), |s| s.to_string()),
                w.shard_tokens,
                want.map_or("no place for the slice".to_owned(), |o| o.to_string())
            ));
        }
        match length {
            Some((n, index)) if n != w.shard_tokens => problem(format!(
                "heldout_window.shard_tokens is {}, but run {index} saw {n}: the runs read different held-out shards",
                w.shard_tokens
            )),
            Some(_) => {}
            None => length = Some((w.shard_tokens, r.run_index)),
        }
    }
    out
}

/// The shards each run says it checked (run.json `data`) must be the track's, with the
/// digest the track pins where it pins one and marked first-use where it does not, and
/// every run must have seen the same bytes under the same name.
fn data_problems(track: &Track, runs: &[RunRecord]) -> Vec<Problem> {
    use crate::run::DigestOrigin;
    let mut out = Vec::new();
    let (shards, heldout): (Vec<&speedcert_track::ShardRef>, _) = match &track.spec.data {
        speedcert_track::DataSpec::Shards(d) => (
            d.val.iter().chain(&d.train).chain(&d.heldout).collect(),
            d.heldout.as_ref(),
        ),
        speedcert_track::DataSpec::Synthetic(_) => (Vec::new(), None),
    };
    out.extend(heldout_problems(track, heldout, runs));
    let mut seen: std::collections::BTreeMap<&str, (&str, usize)> = Default::default();
    for r in runs {
        let file = layout::run_file(r.run_index, layout::RUN);
        for d in &r.data {
            let Some(shard) = shards.iter().find(|s| s.name == d.name) else {
                out.push(Problem::new(
                    &file,
                    format!(
                        "data names shard {}, which track.toml does not list",
                        d.name
                    ),
                ));
                continue;
            };
            match (&shard.sha256, d.digest) {
                (Some(pin), DigestOrigin::Pinned) if pin.eq_ignore_ascii_case(&d.sha256) => {}
                (Some(pin), _) => out.push(Problem::new(
                    &file,
                    format!(
                        "data: shard {} was checked as {} ({}), but track.toml pins {pin}",
                        d.name,
                        d.sha256,
                        match d.digest {
                            DigestOrigin::Pinned => "marked pinned",
                            DigestOrigin::FirstUse => "marked first use",
                        }
                    ),
                )),
                (None, DigestOrigin::Pinned) => out.push(Problem::new(
                    &file,
                    format!(
                        "data: shard {} is marked pinned, but track.toml pins no digest for it",
                        d.name
                    ),
                )),
                (None, DigestOrigin::FirstUse) => {}
            }
            match seen.get(d.name.as_str()) {
                Some((sha, index)) if *sha != d.sha256 => out.push(Problem::new(
                    &file,
                    format!(
                        "data: shard {} was {} in this run but {sha} in run {index}: the runs read different data",
                        d.name, d.sha256
                    ),
                )),
                Some(_) => {}
                None => {
                    seen.insert(&d.name, (&d.sha256, r.run_index));
                }
            }
        }
    }
    out
}

/// run.json's figures from gpu.csv, recomputed: `throttled` for every run, and for a
/// command run the GPUs it trained on (`devices`, which the `gpu_count` pin trusts). A
/// run without gpu.csv (a bundle older than the file) has nothing to recompute.
fn gpu_problems(dir: &Path, plan: &Plan, r: &RunRecord) -> Vec<Problem> {
    let path = layout::run_dir(dir, r.run_index).join(layout::GPU);
    if r.gpu_sha256.is_none() && !path.exists() {
        return Vec::new();
    }
    let rel = layout::run_file(r.run_index, layout::GPU);
    let gpu = match GpuLog::read_csv(&path) {
        Ok(gpu) => gpu,
        Err(e) => return vec![Problem::new(rel, format!("cannot be read: {e}"))],
    };
    let mut out = Vec::new();
    let throttled = gpu.throttled();
    if r.throttled != throttled {
        out.push(Problem::new(
            layout::run_file(r.run_index, layout::RUN),
            format!(
                "throttled is {}, but {rel} has {} sample with a performance-limiting throttle reason",
                r.throttled,
                if throttled { "a" } else { "no" }
            ),
        ));
    }
    if plan.command_of(&r.submission_sha256).is_some() {
        let busy = crate::command::trained_devices(r.device, &gpu);
        if r.devices != busy {
            let say = |n: Option<u32>| n.map_or("absent (one device)".into(), |n| n.to_string());
            out.push(Problem::new(
                layout::run_file(r.run_index, layout::RUN),
                format!(
                    "devices is {}, but {rel} shows {} GPU(s) at work, which makes it {} (a command run trained on the GPUs that worked)",
                    say(r.devices),
                    gpu.busy_gpus(),
                    say(busy)
                ),
            ));
        }
    }
    out
}

/// A run of a command submission carries what the referee measured of it, and its log is
/// the one it left; a run of the harness carries neither.
fn command_run_problems(dir: &Path, plan: &Plan, r: &RunRecord, file: &str) -> Vec<Problem> {
    let is_command = plan.command_of(&r.submission_sha256).is_some();
    match (&r.command, is_command) {
        (None, false) => Vec::new(),
        (Some(_), false) => vec![Problem::new(
            file,
            "has a `command` section, but its submission is not one of plan.json's commands",
        )],
        (None, true) => vec![Problem::new(
            file,
            "has no `command` section, but its submission is a command (plan.json commands)",
        )],
        (Some(c), true) => {
            let rel = layout::run_file(r.run_index, layout::TRAIN_LOG);
            match speedcert_fsio::sha256_file(
                &layout::run_dir(dir, r.run_index).join(layout::TRAIN_LOG),
            ) {
                Ok(actual) if actual == c.log_sha256 => Vec::new(),
                Ok(actual) => vec![Problem::new(
                    rel,
                    format!(
                        "sha256 is {actual}, but run.json recorded {} when the run ended: the log was changed after the run",
                        c.log_sha256
                    ),
                )],
                Err(e) => vec![Problem::new(rel, format!("cannot be read: {e}"))],
            }
        }
    }
}

/// Every contradiction between track.toml, plan.json and the runs' files; empty when
/// they agree. `runs` are the run.json files found for the plan's slots.
pub fn problems(
    dir: &Path,
    track: &Track,
    plan: &Plan,
    env: &Environment,
    runs: &[RunRecord],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let digest = track.sha256();
    if plan.track != track.spec.name {
        out.push(Problem::new(
            layout::PLAN,
            format!(
                "track is {:?}, but track.toml is track {:?}",
                plan.track, track.spec.name
            ),
        ));
    }
    if plan.track_sha256 != digest {
        out.push(Problem::new(
            layout::PLAN,
            format!(
                "track_sha256 is {}, but track.toml hashes to {digest}",
                plan.track_sha256
            ),
        ));
    }
    for (position, slot) in plan.slots.iter().enumerate() {
        if slot.index != position {
            out.push(Problem::new(
                layout::PLAN,
                format!("slot {position} has index {}", slot.index),
            ));
        }
    }
    out.extend(stray_run_folders(dir, plan));
    out.extend(source_problems(dir, plan));
    out.extend(data_problems(track, runs));
    for r in runs {
        let file = layout::run_file(r.run_index, layout::RUN);
        let Some(slot) = plan.slots.iter().find(|s| s.index == r.run_index) else {
            out.push(Problem::new(&file, "not a slot of plan.json"));
            continue;
        };
        const SLOT: &str = "its slot in plan.json";
        // (field, in run.json, expected, where the expectation comes from)
        let mut fields: Vec<(&str, String, String, &str)> = vec![
            (
                "track",
                r.track.clone(),
                track.spec.name.clone(),
                "track.toml",
            ),
            (
                "track_sha256",
                r.track_sha256.clone(),
                digest.clone(),
                "track.toml's digest",
            ),
            (
                "role",
                r.role.as_str().into(),
                slot.role.as_str().into(),
                SLOT,
            ),
            (
                "submission",
                r.submission.clone(),
                slot.submission.clone(),
                SLOT,
            ),
            ("seed", r.seed.to_string(), slot.seed.to_string(), SLOT),
            (
                "heldout_seed",
                format!("{:?}", r.heldout_seed),
                format!("{:?}", Some(slot.heldout_seed)),
                SLOT,
            ),
            (
                "device",
                r.device.to_string(),
                plan.device.to_string(),
                "plan.json",
            ),
            (
                "language_seed",
                format!("{:?}", r.language_seed),
                format!("{:?}", plan.language_seed),
                "plan.json",
            ),
            (
                "target_val_loss",
                r.target_val_loss.to_string(),
                track.spec.target.val_loss.to_string(),
                "track.toml",
            ),
            (
                "loss_floor",
                format!("{:?}", r.loss_floor),
                format!("{:?}", track.spec.loss_floor()),
                "track.toml",
            ),
        ];
        // The memory plan is arithmetic on track.toml: recomputed, not taken on trust.
        if let Some(m) = &r.memory {
            fields.push((
                "memory.plan",
                format!("{:?}", m.plan),
                format!(
                    "{:?}",
                    MemoryPlan::per_rank(
                        &track.spec.model,
                        &track.spec.reference,
                        r.ranks.unwrap_or(1) as usize
                    )
                ),
                "track.toml's memory plan",
            ));
        }
        // What the binary itself determines is the same in every run of that binary (the
        // identity check compares the binaries; these ride along with them).
        if r.env.binary_sha256 == env.binary_sha256 {
            let (a, b) = (&r.env, env);
            fields.extend([
                (
                    "env.speedcert_version",
                    a.speedcert_version.clone(),
                    b.speedcert_version.clone(),
                    "env.json",
                ),
                (
                    "env.git_revision",
                    format!("{:?}", a.git_revision),
                    format!("{:?}", b.git_revision),
                    "env.json",
                ),
                (
                    "env.cargo_lock_sha256",
                    format!("{:?}", a.cargo_lock_sha256),
                    format!("{:?}", b.cargo_lock_sha256),
                    "env.json",
                ),
                (
                    "env.source_nar_hash",
                    format!("{:?}", a.source_nar_hash),
                    format!("{:?}", b.source_nar_hash),
                    "env.json",
                ),
            ]);
        }
        for (field, found, expected, source) in fields {
            if found != expected {
                out.push(Problem::new(
                    &file,
                    format!("{field} is {found}, but {source} says {expected}"),
                ));
            }
        }
        if let Some(c) = &r.causality {
            let rule = CausalityResult::within_tolerance(c.max_leak, c.logit_scale);
            if c.passed != rule {
                out.push(Problem::new(
                    &file,
                    format!(
                        "causality.passed is {}, but a leak of {} at logit scale {} {} the tolerance",
                        c.passed,
                        c.max_leak,
                        c.logit_scale,
                        if rule { "is within" } else { "exceeds" }
                    ),
                ));
            }
        }
        // pin.gpu_count trusts `devices`: no more than the run's own machine reported.
        if let Some(n) = r.devices {
            let most = match r.device {
                DeviceKind::Cpu => 1,
                DeviceKind::Cuda => r.env.gpu_count,
            };
            if n == 0 || n > most {
                out.push(Problem::new(
                    &file,
                    format!(
                        "devices is {n}, but a {} run on its machine (env.gpu_count {}) can train on 1 to {most}",
                        r.device, r.env.gpu_count
                    ),
                ));
            }
        }
        // A GPU run's ranks are its devices; a CPU run's share its one device.
        if let Some(n) = r.ranks {
            let devices = r.trained_devices();
            let (fits, rule) = match r.device {
                DeviceKind::Cpu => (n >= 1, "at least 1".to_owned()),
                DeviceKind::Cuda => (n == devices, format!("one rank per device ({devices})")),
            };
            if !fits {
                out.push(Problem::new(
                    &file,
                    format!(
                        "ranks is {n}, but a {} run on {devices} devices trains with {rule}",
                        r.device
                    ),
                ));
            }
        }
        out.extend(command_run_problems(dir, plan, r, &file));
        if let Some(message) = r.throughput_problem() {
            out.push(Problem::new(&file, message));
        }
        if !r.started_at.is_empty() && chrono::DateTime::parse_from_rfc3339(&r.started_at).is_err()
        {
            out.push(Problem::new(
                &file,
                format!("started_at {:?} is not an RFC 3339 time", r.started_at),
            ));
        }
        out.extend(gpu_problems(dir, plan, r));
        let run_dir = layout::run_dir(dir, r.run_index);
        for (name, recorded) in [
            (layout::STEPS, &r.steps_sha256),
            (layout::GPU, &r.gpu_sha256),
        ] {
            let Some(recorded) = recorded else { continue };
            let rel = layout::run_file(r.run_index, name);
            match speedcert_fsio::sha256_file(&run_dir.join(name)) {
                Ok(actual) if &actual == recorded => {}
                Ok(actual) => out.push(Problem::new(
                    rel,
                    format!(
                        "sha256 is {actual}, but run.json recorded {recorded} when the run wrote it: the log was changed after the run"
                    ),
                )),
                Err(e) => out.push(Problem::new(rel, format!("cannot be read: {e}"))),
            }
        }
    }
    out
}

/// Entries of `runs/` that are no slot's folder: a run spliced in beside the plan would
/// otherwise be signed and silently ignored.
fn stray_run_folders(dir: &Path, plan: &Plan) -> Vec<Problem> {
    let planned: BTreeSet<String> = plan
        .slots
        .iter()
        .map(|s| layout::run_name(s.index))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir.join(layout::RUNS)) else {
        return Vec::new();
    };
    let mut stray: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !planned.contains(name))
        .collect();
    stray.sort();
    stray
        .into_iter()
        .map(|name| {
            Problem::new(
                format!("{}/{name}", layout::RUNS),
                format!(
                    "not the folder of any of the {} slots of plan.json",
                    plan.slots.len()
                ),
            )
        })
        .collect()
}
