//! Tying claim blocks to samples: which runs a block's listed values are, which
//! sample it is about, and the samples its lists create (the listed subset of a
//! folder, or runs of several scripts the authors pooled).

use std::collections::{BTreeMap, BTreeSet};

use speedcert_stats::format::{TimeUnit, fmt_loss};

use crate::claims::ClaimBlock;
use crate::options::Options;
use crate::paths::strip_record;
use crate::sample::{Role, Run, Sample, build_sample};

/// Loss values are logged to 4 decimals, times to whole ms: compare them as integers.
fn loss_key(v: f64) -> i64 {
    (v * 1e4).round() as i64
}

/// A time rounded to `unit_ms`, the precision the author listed times with.
fn time_key(ms: f64, unit_ms: f64) -> i64 {
    (ms / unit_ms).round() as i64
}

/// The precision of listed times, in ms: 1 for "139.441" (s), 100 for track 3's
/// "611.1", so a log's 611.138 s matches the listed 611.1.
fn listed_time_unit_ms(times_ms: &[f64]) -> f64 {
    [1.0, 10.0, 100.0, 1000.0]
        .into_iter()
        .rev()
        .find(|unit| {
            times_ms
                .iter()
                .all(|t| ((t / unit) - (t / unit).round()).abs() < 1e-6)
        })
        .unwrap_or(1.0)
}

/// A claim block tied to a sample.
pub(crate) struct BlockMatch {
    /// The folder sample the block is about.
    pub(crate) sample: usize,
    /// Indices into the sample's runs of the listed runs found in its logs.
    pub(crate) runs: Vec<usize>,
    /// Number of runs the block lists (0 if it lists none).
    pub(crate) listed: usize,
    /// Every listed run has a log.
    pub(crate) all_found: bool,
    /// Listed runs found by one value whose other listed value differs from the log.
    pub(crate) mismatches: Vec<String>,
}

/// Pairs each listed run (loss and time, as far as listed) with a distinct log of
/// `sample`: first on both values, then on the loss alone, then on the time alone
/// (lists are not always in the same order). Returns the run indices found.
fn pair_runs(block: &ClaimBlock, sample: &Sample) -> (Vec<usize>, usize, Vec<String>) {
    let losses: Vec<i64> = block
        .losses
        .iter()
        .flatten()
        .map(|v| loss_key(*v))
        .collect();
    let unit = listed_time_unit_ms(block.times_ms.as_deref().unwrap_or(&[]));
    let times: Vec<i64> = block
        .times_ms
        .iter()
        .flatten()
        .map(|v| time_key(*v, unit))
        .collect();
    let listed = losses.len().max(times.len());
    let entries: Vec<(Option<i64>, Option<i64>)> = (0..listed)
        .map(|i| (losses.get(i).copied(), times.get(i).copied()))
        .collect();
    let keys: Vec<(Option<i64>, Option<i64>)> = sample
        .runs
        .iter()
        .map(|r| {
            (
                r.log.final_val_loss.map(loss_key),
                r.log.train_time_ms.map(|t| time_key(t, unit)),
            )
        })
        .collect();
    let mut used = vec![false; keys.len()];
    let mut found: Vec<Option<usize>> = vec![None; entries.len()];
    for pass in 0..3 {
        for (e, entry) in entries.iter().enumerate() {
            if found[e].is_some() {
                continue;
            }
            let hit = keys.iter().enumerate().position(|(k, key)| {
                !used[k]
                    && match pass {
                        0 => entry.0.is_some() && entry.1.is_some() && *entry == *key,
                        1 => entry.0.is_some() && entry.0 == key.0,
                        _ => entry.1.is_some() && entry.1 == key.1,
                    }
            });
            if let Some(k) = hit {
                used[k] = true;
                found[e] = Some(k);
            }
        }
    }
    // Runs paired on one value whose other listed value differs from the log.
    let loss = |v: Option<f64>| v.map_or("?".into(), fmt_loss);
    let mismatches = found
        .iter()
        .enumerate()
        .filter_map(|(e, k)| {
            let k = (*k)?;
            let entry = entries[e];
            (entry.0.is_some() && entry.1.is_some() && entry != keys[k]).then(|| {
                let log = &sample.runs[k];
                let name = log.file.rsplit('/').next().unwrap_or(&log.file);
                format!(
                    "listed {} / {}, but {name} logs {} / {}",
                    loss(block.losses.as_ref().map(|l| l[e])),
                    TimeUnit::S.fmt(block.times_ms.as_ref().map_or(f64::NAN, |t| t[e])),
                    loss(log.log.final_val_loss),
                    TimeUnit::S.fmt(log.log.train_time_ms.unwrap_or(f64::NAN)),
                )
            })
        })
        .collect();
    (found.into_iter().flatten().collect(), listed, mismatches)
}

/// Which sample a claim block talks about. A block listing per-run values goes to
/// the sample holding most of them (at least two and half the list); one without
/// lists goes to the only sample of its folder (statistics.md) or of the record.
fn match_block(block: &ClaimBlock, samples: &[Sample]) -> Result<BlockMatch, String> {
    if block.losses.is_some() || block.times_ms.is_some() {
        let best = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.listed_in.is_none())
            .map(|(i, s)| (i, pair_runs(block, s)))
            .max_by_key(|(i, (runs, _, _))| (runs.len(), std::cmp::Reverse(*i)));
        let listed = block
            .losses
            .as_ref()
            .map_or(0, Vec::len)
            .max(block.times_ms.as_ref().map_or(0, Vec::len));
        return match best {
            Some((i, (runs, listed, mismatches)))
                if runs.len() >= 2 && 2 * runs.len() >= listed =>
            {
                Ok(BlockMatch {
                    sample: i,
                    all_found: runs.len() == listed,
                    runs,
                    listed,
                    mismatches,
                })
            }
            _ => Err(format!(
                "none of the record's logs matches the {listed} listed runs"
            )),
        };
    }
    let folder = block
        .source
        .rsplit_once('/')
        .map(|(dir, _)| dir.split_once('/').map_or("", |(_, f)| f))
        .unwrap_or("");
    let folders: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].listed_in.is_none())
        .collect();
    let here: Vec<usize> = folders
        .iter()
        .copied()
        .filter(|&i| samples[i].folder == folder)
        .collect();
    let only = if block.statistics_md && here.len() == 1 {
        Some(here[0])
    } else if folders.len() == 1 {
        Some(folders[0])
    } else {
        None
    };
    match only {
        Some(i) => Ok(BlockMatch {
            sample: i,
            runs: (0..samples[i].n()).collect(),
            listed: 0,
            all_found: true,
            mismatches: Vec::new(),
        }),
        None => Err(format!(
            "lists no per-run values and the record has {} samples, so its figures cannot \
             be tied to one",
            folders.len()
        )),
    }
}

/// Ties every block to a sample, in block order: the block's match and the index of
/// the sample its figures are checked against, or why it matches none. A list whose
/// runs all have logs but are only part of a folder becomes a sample of its own
/// (appended to `samples`): the authors have said which runs their figures are about.
pub(crate) fn tie_blocks(
    blocks: &[ClaimBlock],
    samples: &mut Vec<Sample>,
    record: &str,
    options: &Options,
) -> Vec<Result<(BlockMatch, usize), String>> {
    // Match every block first, against the folder samples only.
    let matches: Vec<Result<BlockMatch, String>> =
        blocks.iter().map(|b| match_block(b, samples)).collect();
    let mut tied = Vec::with_capacity(blocks.len());
    for (block, m) in blocks.iter().zip(matches) {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                tied.push(Err(e));
                continue;
            }
        };
        let parent = &samples[m.sample];
        if !(m.all_found && m.runs.len() < parent.n()) {
            // The list is exactly a sample that the script split out of a folder
            // (2026-02-06_SparseBigramGradient: 5 runs of one script, 3 of another):
            // say that these are the runs the authors list, as for a subset.
            let split_out = samples
                .iter()
                .filter(|s| {
                    s.listed_in.is_none() && s.folder == parent.folder && s.role == parent.role
                })
                .count()
                > 1;
            if m.all_found
                && m.runs.len() == parent.n()
                && split_out
                && parent.listed_in.is_none()
                && !parent.label.contains(" runs listed at ")
            {
                let at = format!("{}:{}", strip_record(&block.source, record), block.line);
                let label = format!("{} — the {} runs listed at {at}", parent.label, parent.n());
                samples[m.sample].label = label;
            }
            let t = m.sample;
            tied.push(Ok((m, t)));
            continue;
        }
        let mut picked = m.runs.clone();
        picked.sort_unstable();
        let files: Vec<&str> = picked
            .iter()
            .map(|&i| parent.runs[i].file.as_str())
            .collect();
        let existing = samples.iter().position(|s| {
            s.listed_in.is_some()
                && s.runs
                    .iter()
                    .map(|r| r.file.as_str())
                    .eq(files.iter().copied())
        });
        let idx = match existing {
            Some(i) => i,
            None => {
                let at = format!("{}:{}", strip_record(&block.source, record), block.line);
                let label = format!(
                    "{} — the {} runs listed at {at}",
                    parent.label,
                    picked.len()
                );
                let runs: Vec<Run> = picked.iter().map(|&i| parent.runs[i].clone()).collect();
                let mut derived = build_sample(
                    label,
                    parent.folder.clone(),
                    parent.role,
                    parent.total_steps,
                    parent.gpu_count,
                    runs,
                    Some(at),
                    options,
                );
                derived.script = parent.script.clone();
                samples.push(derived);
                samples.len() - 1
            }
        };
        tied.push(Ok((m, idx)));
    }
    tied
}

/// Where the authors list per-run values that match runs of several scripts of one
/// folder (same role, steps and GPUs), they pooled those runs themselves (Yarn's
/// runs differ in type annotations): their samples are merged, and the label says
/// so. Without such a list, runs of different scripts stay apart.
pub(crate) fn pool_listed_scripts(
    mut samples: Vec<Sample>,
    blocks: &[ClaimBlock],
    record: &str,
    options: &Options,
) -> Vec<Sample> {
    for block in blocks
        .iter()
        .filter(|b| b.losses.is_some() || b.times_ms.is_some())
    {
        // (folder, role, steps, GPUs) -> samples
        type Family = (String, Role, Option<u32>, Option<u32>);
        let mut families: BTreeMap<Family, Vec<usize>> = BTreeMap::new();
        for (i, s) in samples.iter().enumerate() {
            families
                .entry((s.folder.clone(), s.role, s.total_steps, s.gpu_count))
                .or_default()
                .push(i);
        }
        let Some((members, pooled)) = families.into_values().find_map(|members| {
            if members.len() < 2 {
                return None;
            }
            let first = &samples[members[0]];
            let runs: Vec<Run> = members
                .iter()
                .flat_map(|&i| samples[i].runs.iter().cloned())
                .collect();
            let pooled = build_sample(
                String::new(),
                first.folder.clone(),
                first.role,
                first.total_steps,
                first.gpu_count,
                runs,
                None,
                options,
            );
            let (found, listed, _) = pair_runs(block, &pooled);
            if found.len() < 2 || 2 * found.len() < listed {
                return None;
            }
            let hit: BTreeSet<&str> = found
                .iter()
                .map(|&k| pooled.runs[k].file.as_str())
                .collect();
            let touched: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| {
                    samples[i]
                        .runs
                        .iter()
                        .any(|r| hit.contains(r.file.as_str()))
                })
                .collect();
            (touched.len() > 1).then_some((touched, pooled))
        }) else {
            continue;
        };
        let first = &samples[members[0]];
        let folder = if first.folder.is_empty() {
            ".".to_string()
        } else {
            first.folder.clone()
        };
        let steps = first
            .total_steps
            .map_or("? steps".into(), |s| format!("{s} steps"));
        let gpus = first
            .gpu_count
            .map_or("? GPUs".into(), |g| format!("{g} GPUs"));
        let label = format!(
            "{folder} ({steps}, {gpus}), {} scripts pooled as listed at {}:{}",
            members.len(),
            strip_record(&block.source, record),
            block.line
        );
        let runs: Vec<Run> = members
            .iter()
            .flat_map(|&i| samples[i].runs.iter().cloned())
            .collect();
        let merged = build_sample(
            label,
            pooled.folder,
            pooled.role,
            pooled.total_steps,
            pooled.gpu_count,
            runs,
            None,
            options,
        );
        let mut kept: Vec<Sample> = samples
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !members.contains(i))
            .map(|(_, s)| s)
            .collect();
        kept.push(merged);
        samples = kept;
    }
    samples
}
