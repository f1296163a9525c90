//! Picking a record's candidate (its submitted runs) and its same-hardware baseline
//! among its samples, by fixed rules, so every pick is explainable without a
//! per-record table.

use std::collections::BTreeSet;

use crate::dates::smi_time;
use crate::options::Options;
use crate::sample::{Role, Sample};
use crate::tracks::Objective;

/// Folder names that mark the submitted version when a record has several.
pub const SUBMITTED_WORDS: [&str; 4] = ["this_pr", "this_record", "record", "combined"];

/// The record's candidate and baseline, as indices into `samples`. On a track that
/// competes on steps there is no baseline: a rerun of the baseline is not a time
/// comparison.
pub(crate) fn pick(
    samples: &[Sample],
    objective: Objective,
    options: &Options,
) -> (Option<usize>, Option<usize>) {
    let candidate = pick_candidate(samples, options).map(|c| {
        // Where the authors list the runs behind their claim and every one of them has
        // a log, those runs are the submission; the largest such list wins.
        let parent_files: BTreeSet<&str> =
            samples[c].runs.iter().map(|r| r.file.as_str()).collect();
        (0..samples.len())
            .filter(|&i| {
                samples[i].listed_in.is_some()
                    && samples[i]
                        .runs
                        .iter()
                        .all(|r| parent_files.contains(r.file.as_str()))
            })
            .max_by_key(|&i| (samples[i].n(), std::cmp::Reverse(i)))
            .unwrap_or(c)
    });
    let baseline = candidate
        .filter(|_| objective == Objective::TrainTime)
        .and_then(|c| pick_baseline(samples, c));
    (candidate, baseline)
}

/// The record's submitted runs, by these rules in order: candidate-role samples
/// first (all samples if there are none); on the track's GPU count; fewest steps
/// (records cut steps, and folders of discarded versions ran longer); a folder named
/// like the submission ([`SUBMITTED_WORDS`]); most runs; the last folder name
/// (this_pr_v3 after this_pr_v2); the latest run. Samples singled out by a claim's
/// list are considered afterwards, in [`pick`].
fn pick_candidate(samples: &[Sample], options: &Options) -> Option<usize> {
    let folders: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].listed_in.is_none())
        .collect();
    let pool: Vec<usize> = {
        let c: Vec<usize> = folders
            .iter()
            .copied()
            .filter(|&i| samples[i].role == Role::Candidate)
            .collect();
        if c.is_empty() { folders } else { c }
    };
    pool.into_iter().min_by(|&a, &b| {
        let (x, y) = (&samples[a], &samples[b]);
        let off_track = |s: &Sample| s.gpu_count != Some(options.track_gpus);
        let unnamed = |s: &Sample| {
            let f = s.folder.to_ascii_lowercase();
            !SUBMITTED_WORDS.iter().any(|w| f.contains(w))
        };
        off_track(x)
            .cmp(&off_track(y))
            .then(
                x.total_steps
                    .unwrap_or(u32::MAX)
                    .cmp(&y.total_steps.unwrap_or(u32::MAX)),
            )
            .then(unnamed(x).cmp(&unnamed(y)))
            .then(y.n().cmp(&x.n()))
            .then(y.folder.cmp(&x.folder))
            .then(latest_run(y).cmp(&latest_run(x)))
    })
}

/// When the sample's last run started (nvidia-smi's clock): of cumulative
/// ablations run one after another, the last is the record's own.
fn latest_run(s: &Sample) -> Option<chrono::NaiveDateTime> {
    s.runs
        .iter()
        .filter_map(|r| r.log.nvidia_smi_time.as_deref().and_then(smi_time))
        .max()
}

/// The same-hardware baseline: baseline-role folder samples on the candidate's GPU
/// count; most steps (the unchanged previous record, not a step-cut ablation); a
/// label saying "baseline"; most runs; the last folder name.
fn pick_baseline(samples: &[Sample], candidate: usize) -> Option<usize> {
    let c = &samples[candidate];
    (0..samples.len())
        .filter(|&i| {
            let s = &samples[i];
            i != candidate
                && s.listed_in.is_none()
                && s.role == Role::Baseline
                && s.gpu_count == c.gpu_count
        })
        .min_by(|&a, &b| {
            let (x, y) = (&samples[a], &samples[b]);
            let unnamed = |s: &Sample| !s.label.to_ascii_lowercase().contains("baseline");
            y.total_steps
                .cmp(&x.total_steps)
                .then(unnamed(x).cmp(&unnamed(y)))
                .then(y.n().cmp(&x.n()))
                .then(y.folder.cmp(&x.folder))
        })
}
