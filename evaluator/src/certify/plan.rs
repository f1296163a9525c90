//! Drawing a certification's plan: fresh, distinct seeds for every run, fixed before
//! the first run (the plan.json types live in speedcert-bundle).

pub use speedcert_bundle::plan::{PLAN_SCHEMA, Plan, Slot, StoredBaseline, TimeBaseline};
use speedcert_bundle::run::Role;

/// The most runs one arm of a certification may plan, the same cap a track's
/// `certification.runs` has: a typo such as `--runs 100000` would otherwise plan 200,000
/// slots, weeks of machine time, without a word.
pub use speedcert_track::MAX_CERTIFICATION_RUNS as MAX_RUNS_PER_ARM;

/// Draws a fresh seed per slot from the OS generator, all distinct, and, for each pair of
/// one candidate and one baseline run, which of the two runs first (a fair coin per
/// pair, recorded by the slot order and `pair`): an order effect inside a pair (a warm
/// cache, a cooling GPU) then adds noise to the paired differences instead of bias.
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
        let c = (i < runs).then(|| (Role::Candidate, candidate.to_owned()));
        let b = baseline
            .filter(|_| i < baseline_runs)
            .map(|b| (Role::Baseline, b.to_owned()));
        match (c, b) {
            (Some(c), Some(b)) => {
                let pair = Some(i);
                if rand::random::<bool>() {
                    slots.extend([(c, pair), (b, pair)]);
                } else {
                    slots.extend([(b, pair), (c, pair)]);
                }
            }
            (c, b) => slots.extend(c.into_iter().chain(b).map(|x| (x, None))),
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(index, ((role, submission), pair))| Slot {
            index,
            role,
            submission,
            seed: fresh(),
            heldout_seed: fresh(),
            pair,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_hold_one_run_of_each_arm_in_a_drawn_order() {
        let slots = interleave("c", 200, Some("b"), 200);
        assert_eq!(slots.len(), 400);
        let mut candidate_first = 0;
        for pair in slots.chunks(2) {
            assert_eq!(pair[0].pair, pair[1].pair);
            assert_ne!(pair[0].role, pair[1].role);
            candidate_first += usize::from(pair[0].role == Role::Candidate);
        }
        // A fair coin over 200 pairs: outside 60..140 with probability below 1e-8.
        assert!((60..=140).contains(&candidate_first), "{candidate_first}");
        let seeds: std::collections::HashSet<u64> = slots
            .iter()
            .flat_map(|s| [s.seed, s.heldout_seed])
            .collect();
        assert_eq!(seeds.len(), 800);
    }

    #[test]
    fn unmatched_runs_are_unpaired() {
        let slots = interleave("c", 3, Some("b"), 1);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots.iter().filter(|s| s.pair == Some(0)).count(), 2);
        assert!(
            slots[2..]
                .iter()
                .all(|s| s.pair.is_none() && s.role == Role::Candidate)
        );
        assert!(interleave("c", 2, None, 0).iter().all(|s| s.pair.is_none()));
    }
}
