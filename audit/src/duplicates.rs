//! Copies of a run: which logs repeat a run counted elsewhere, and which copy is the
//! one counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dates::{day_number, days, record_date, smi_time};
use crate::discover::TrackPlan;
use crate::logfile::Parsed;
use crate::paths::{file_name, relative};

/// For every log, the log it repeats (`None` for the one counted). Logs are the same
/// run when they have the same content, the same run id (the UUID in the file name)
/// or the same final validation (step, loss and train time to the ms). Of a set of
/// copies, the one counted is in the record whose folder date is the earliest on or
/// after the day the run was made (a run cannot be evidence for a record dated
/// before it); within a record, the one sitting with the most other logs (with its
/// sibling runs, not a copy put beside the README), then the largest.
///
/// `entries` are (track, record, path) of every log, indexing `plans`; `parsed`
/// holds their parses in the same order.
pub(crate) fn find_duplicates(
    plans: &[TrackPlan],
    entries: &[(usize, usize, PathBuf)],
    parsed: &[Parsed],
    base: &Path,
) -> Vec<Option<String>> {
    let n = entries.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in parsed.iter().enumerate() {
        let Ok(p) = p else { continue };
        let mut keys = vec![format!("content {} {}", p.bytes, p.content)];
        if let Some(id) = run_id(&file_name(&entries[i].2)) {
            keys.push(format!("id {id}"));
        }
        // The final validation to the ms: distinct runs do not share it.
        if let (Some(step), Some(l), Some(ms)) = (
            p.log.final_step(),
            p.log.final_val_loss,
            p.log.train_time_ms,
        ) {
            keys.push(format!("final {:?} {step} {l} {ms}", p.log.total_steps));
        }
        for k in keys {
            match seen.get(&k) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    seen.insert(k, i);
                }
            }
        }
    }
    let mut per_dir: BTreeMap<&Path, usize> = BTreeMap::new();
    for (_, _, path) in entries {
        *per_dir.entry(path.parent().unwrap_or(path)).or_default() += 1;
    }
    let logs_beside: BTreeMap<usize, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (_, _, path))| (i, per_dir[path.parent().unwrap_or(path)]))
        .collect();
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = vec![None; n];
    for members in groups.values().filter(|m| m.len() > 1) {
        let made = members.iter().find_map(|&i| {
            parsed[i]
                .as_ref()
                .ok()
                .and_then(|p| p.log.nvidia_smi_time.as_deref())
                .and_then(smi_time)
                .map(|t| days(t.date()))
        });
        let record_date_of = |i: usize| {
            let (t, r, _) = &entries[i];
            record_date(&plans[*t].records[*r].name)
        };
        let owner = *members
            .iter()
            .min_by_key(|&&i| {
                let d = record_date_of(i);
                // Folder dates are the announcement's day and nvidia-smi's clock has
                // no time zone: a record may be dated up to 2 days before its run.
                let before_run = match (d.as_deref().and_then(day_number), made) {
                    (Some(d), Some(m)) => d + 2 < m,
                    _ => false,
                };
                let siblings = std::cmp::Reverse(logs_beside[&i]);
                // Then the fullest copy: a whole log over a one-line summary of it.
                let size = std::cmp::Reverse(parsed[i].as_ref().map_or(0, |p| p.bytes));
                (before_run, d.is_none(), d, siblings, size, i)
            })
            .expect("a group has members");
        let owner_path = relative(base, &entries[owner].2);
        for &i in members.iter().filter(|&&i| i != owner) {
            out[i] = Some(owner_path.clone());
        }
    }
    out
}

/// The run id a log's file name carries: its UUID (`comparison_0f6c8eac-….txt`).
fn run_id(name: &str) -> Option<String> {
    static UUID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            .expect("valid regex")
    });
    UUID.find(name).map(|m| m.as_str().to_string())
}

/// A record's logs left out as copies, in words: `duplicates` are (copy, the log
/// counted) pairs; `None` when there are none.
pub(crate) fn note(duplicates: &[(String, String)]) -> Option<String> {
    (!duplicates.is_empty()).then(|| {
        let mut elsewhere: BTreeSet<&str> = BTreeSet::new();
        for (_, first) in duplicates {
            elsewhere.insert(first.rsplit_once('/').map_or(first.as_str(), |(d, _)| d));
        }
        format!(
            "{} log(s) left out as copies of runs counted in {}",
            duplicates.len(),
            elsewhere.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}
