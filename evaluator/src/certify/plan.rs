//! Drawing a certification's plan: fresh, distinct seeds for every run, fixed before
//! the first run (the plan.json types live in speedcert-bundle).

pub use speedcert_bundle::plan::{PLAN_SCHEMA, Plan, Slot, StoredBaseline, TimeBaseline};
use speedcert_bundle::run::Role;

/// The most runs one arm of a certification may plan, the same cap a track's
/// `certification.runs` has: a typo such as `--runs 100000` would otherwise plan 200,000
/// slots, weeks of machine time, without a word.
pub use speedcert_track::MAX_CERTIFICATION_RUNS as MAX_RUNS_PER_ARM;

/// Draws a fresh seed per slot from the OS generator, all distinct.
pub fn interleave(
    candidate: &str,
    runs: usize,
    baseline: Option<&str>,
    baseline_runs: usize,
) -> Vec<Slot> {
    let mut used = std::collections::HashSet::new();
    let mut fresh = || loop {
        let s: u64 = rand::random();
        if used.insert(s) {
            return s;
        }
    };
    let mut slots = Vec::new();
    for i in 0..runs.max(baseline_runs) {
        if i < runs {
            slots.push((Role::Candidate, candidate.to_owned()));
        }
        if let Some(b) = baseline
            && i < baseline_runs
        {
            slots.push((Role::Baseline, b.to_owned()));
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(index, (role, submission))| Slot {
            index,
            role,
            submission,
            seed: fresh(),
            heldout_seed: fresh(),
        })
        .collect()
}
