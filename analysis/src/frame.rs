//! The table work: per-bundle statistics from run rows, the record chain with
//! improvements, and the frontier points per track. Shared by `rebuild`, `show`, the
//! site and the benchmark (bench/records/), so the benchmark times the code that ships.
//!
//! Plain hash maps and sorts over the columns of a [`RunTable`]. This used to run on
//! polars over owned rows, which meant copying every text cell into a polars frame
//! first: at 100,000 runs the table work took 51 ms and the frontier 35 ms, against
//! about 6 ms and 5 ms now, with the same results (bench/results/records-2026-11-30.md).

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::frontier::{self, Point};
use crate::table::{RunRow, RunTable};

/// A bundle that may join a track's record chain.
#[derive(Debug, Clone)]
pub struct ChainInput {
    pub track: String,
    pub created_at: String,
    pub bundle: String,
    pub time_mean_ms: Option<f64>,
}

/// A link of a record chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainRow {
    /// Index of the [`ChainInput`] this row came from.
    pub input_index: usize,
    pub track: String,
    pub created_at: String,
    pub bundle: String,
    /// 1-based position in the track's chain.
    pub number: u32,
    pub improvement_ms: Option<f64>,
    pub improvement_pct: Option<f64>,
}

/// One link as [`chain_links`] computes it, before the caller attaches its own fields.
struct Link {
    index: usize,
    number: u32,
    improvement_ms: Option<f64>,
    improvement_pct: Option<f64>,
}

/// Orders (track, time, bundle, mean) entries by track, then time, then bundle, and
/// computes each entry's improvement over the previous entry of its track: previous
/// mean minus this mean, and that as a percentage of the previous mean. A missing mean
/// on either side, or a non-finite result, leaves the improvement empty.
fn chain_links(entries: &[(&str, &str, &str, Option<f64>)]) -> Vec<Link> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Stable, and the index breaks ties, so equal keys order the same way everywhere.
    order.sort_by_key(|&i| (entries[i].0, entries[i].1, entries[i].2));
    let mut links = Vec::with_capacity(order.len());
    let mut prev: Option<(&str, Option<f64>, u32)> = None;
    for i in order {
        let (track, _, _, mean) = entries[i];
        let (number, prev_mean) = match prev {
            Some((t, m, n)) if t == track => (n + 1, m),
            _ => (1, None),
        };
        let improvement_ms = prev_mean.zip(mean).map(|(p, m)| p - m);
        let improvement_pct = prev_mean.zip(improvement_ms).map(|(p, d)| d / p * 100.0);
        links.push(Link {
            index: i,
            number,
            improvement_ms: improvement_ms.filter(|v| v.is_finite()),
            improvement_pct: improvement_pct.filter(|v| v.is_finite()),
        });
        prev = Some((track, mean, number));
    }
    links
}

/// Orders record bundles per track by certification time (then bundle path, so equal
/// timestamps still order the same way everywhere) and computes each record's
/// improvement over the previous one.
pub fn record_chain(inputs: impl IntoIterator<Item = ChainInput>) -> Result<Vec<ChainRow>> {
    let inputs: Vec<ChainInput> = inputs.into_iter().collect();
    let entries: Vec<_> = inputs
        .iter()
        .map(|i| {
            (
                i.track.as_str(),
                i.created_at.as_str(),
                i.bundle.as_str(),
                i.time_mean_ms,
            )
        })
        .collect();
    Ok(chain_links(&entries)
        .into_iter()
        .map(|l| {
            let inp = &inputs[l.index];
            ChainRow {
                input_index: l.index,
                track: inp.track.clone(),
                created_at: inp.created_at.clone(),
                bundle: inp.bundle.clone(),
                number: l.number,
                improvement_ms: l.improvement_ms,
                improvement_pct: l.improvement_pct,
            }
        })
        .collect())
}

/// Statistics of the candidate runs of each bundle, recomputed from runs.csv: what a
/// reader can check against the certified summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BundleStats {
    pub track: String,
    pub bundle: String,
    pub submission: String,
    pub verdict: String,
    pub date: String,
    /// Candidate runs that finished.
    pub n: u32,
    /// Candidate runs that failed.
    pub failed: u32,
    pub time_mean_ms: Option<f64>,
    pub time_sd_ms: Option<f64>,
    pub time_min_ms: Option<f64>,
    pub loss_mean: Option<f64>,
}

/// Running statistics of one bundle's candidate runs.
struct BundleAcc<'a> {
    /// First candidate run of the bundle: its submission and verdict stand for the
    /// bundle's.
    first: usize,
    date: &'a str,
    n: u32,
    failed: u32,
    time_sum: f64,
    time_min: Option<f64>,
    /// Welford's running mean and sum of squared deviations, for a standard deviation
    /// that does not cancel catastrophically on times of 10⁶ ms that differ by 1%.
    time_count: u32,
    time_mean: f64,
    time_m2: f64,
    loss_sum: f64,
    loss_count: u32,
}

impl BundleAcc<'_> {
    fn add_ok(&mut self, time: Option<f64>, loss: Option<f64>) {
        self.n += 1;
        if let Some(t) = time {
            self.time_sum += t;
            self.time_min = Some(self.time_min.map_or(t, |m| m.min(t)));
            self.time_count += 1;
            let delta = t - self.time_mean;
            self.time_mean += delta / f64::from(self.time_count);
            self.time_m2 += delta * (t - self.time_mean);
        }
        if let Some(l) = loss {
            self.loss_sum += l;
            self.loss_count += 1;
        }
    }
}

/// Group-by (track, bundle) over candidate runs, sorted by (track, date, bundle). A
/// bundle's date is the latest date of its candidate runs; times and losses are those of
/// the runs with status "ok"; the standard deviation has n - 1 degrees of freedom and
/// is empty below two times.
pub fn bundle_stats_of(runs: &RunTable) -> Vec<BundleStats> {
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut accs: Vec<BundleAcc> = Vec::new();
    // A bundle's runs are written together, so most rows belong to the previous row's
    // group: compare with it before hashing.
    let mut last: Option<usize> = None;
    for i in 0..runs.len() {
        if runs.role.get(i) != "candidate" {
            continue;
        }
        let key = (runs.track.get(i), runs.bundle.get(i));
        let date = runs.date.get(i);
        let g = match last {
            Some(g) if keys[g] == key => g,
            _ => *index.entry(key).or_insert_with(|| {
                keys.push(key);
                accs.push(BundleAcc {
                    first: i,
                    date,
                    n: 0,
                    failed: 0,
                    time_sum: 0.0,
                    time_min: None,
                    time_count: 0,
                    time_mean: 0.0,
                    time_m2: 0.0,
                    loss_sum: 0.0,
                    loss_count: 0,
                });
                keys.len() - 1
            }),
        };
        last = Some(g);
        let acc = &mut accs[g];
        acc.date = acc.date.max(date);
        if runs.status.get(i) == "ok" {
            acc.add_ok(runs.train_time_ms[i], runs.final_val_loss[i]);
        } else {
            acc.failed += 1;
        }
    }
    let mean = |sum: f64, count: u32| (count > 0).then(|| sum / f64::from(count));
    let mut stats: Vec<BundleStats> = keys
        .into_iter()
        .zip(accs)
        .map(|((track, bundle), a)| BundleStats {
            track: track.to_string(),
            bundle: bundle.to_string(),
            submission: runs.submission.get(a.first).to_string(),
            verdict: runs.verdict.get(a.first).to_string(),
            date: a.date.to_string(),
            n: a.n,
            failed: a.failed,
            time_mean_ms: mean(a.time_sum, a.time_count),
            time_sd_ms: (a.time_count > 1)
                .then(|| (a.time_m2 / f64::from(a.time_count - 1)).max(0.0).sqrt()),
            time_min_ms: a.time_min,
            loss_mean: mean(a.loss_sum, a.loss_count),
        })
        .collect();
    stats.sort_by(|a, b| (&a.track, &a.date, &a.bundle).cmp(&(&b.track, &b.date, &b.bundle)));
    stats
}

/// [`bundle_stats_of`] over rows.
pub fn bundle_stats(runs: &[RunRow]) -> Result<Vec<BundleStats>> {
    Ok(bundle_stats_of(&RunTable::from_rows(runs)))
}

/// The record chain recomputed from run rows alone, with the bundle statistics it came
/// from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChain {
    /// Every bundle, as [`bundle_stats_of`] returns them.
    pub bundles: Vec<BundleStats>,
    /// The chain in track order; `input_index` is the record's index in `bundles`, and
    /// `created_at` its date.
    pub records: Vec<ChainRow>,
}

/// The record chain recomputed from run rows alone (bundles whose verdict is "new
/// record", per track by date, improvement from the runs' own means). `rebuild` takes
/// the certified means from summary.json instead; the benchmark times this variant
/// because it is the heavier table work (group-by over every run, then the chain).
pub fn chain_from_runs(runs: &RunTable) -> RunChain {
    let bundles = bundle_stats_of(runs);
    let records: Vec<usize> = (0..bundles.len())
        .filter(|&i| bundles[i].verdict == speedcert_bundle::Verdict::NewRecord.as_str())
        .collect();
    let entries: Vec<_> = records
        .iter()
        .map(|&i| {
            let b = &bundles[i];
            (
                b.track.as_str(),
                b.date.as_str(),
                b.bundle.as_str(),
                b.time_mean_ms,
            )
        })
        .collect();
    let records = chain_links(&entries)
        .into_iter()
        .map(|l| {
            let i = records[l.index];
            let b = &bundles[i];
            ChainRow {
                input_index: i,
                track: b.track.clone(),
                created_at: b.date.clone(),
                bundle: b.bundle.clone(),
                number: l.number,
                improvement_ms: l.improvement_ms,
                improvement_pct: l.improvement_pct,
            }
        })
        .collect();
    RunChain { bundles, records }
}

/// Which run a frontier point is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunTag {
    pub submission: String,
    pub bundle: String,
    pub run_index: u32,
    pub role: String,
}

/// The runs that may be on the frontier ([`RunRow::is_frontier_run`]: official
/// candidate runs with a time and a loss) as points, per track.
pub fn points_by_track(runs: &[RunRow]) -> BTreeMap<String, Vec<Point<RunTag>>> {
    let mut out: BTreeMap<String, Vec<Point<RunTag>>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.is_frontier_run()) {
        out.entry(r.track.clone()).or_default().push(Point {
            time_ms: r.train_time_ms.unwrap_or(f64::NAN),
            loss: r.final_val_loss.unwrap_or(f64::NAN),
            tag: RunTag {
                submission: r.submission.clone(),
                bundle: r.bundle.clone(),
                run_index: r.run_index,
                role: r.role.clone(),
            },
        });
    }
    out
}

/// The Pareto set of every track, over the same runs as [`points_by_track`]. Points
/// carry row numbers until the set is known, so only frontier runs get an owned tag.
pub fn frontier_by_track(runs: &RunTable) -> BTreeMap<String, Vec<Point<RunTag>>> {
    let mut points: BTreeMap<&str, Vec<Point<usize>>> = BTreeMap::new();
    for i in (0..runs.len()).filter(|&i| runs.is_frontier_run(i)) {
        points.entry(runs.track.get(i)).or_default().push(Point {
            time_ms: runs.train_time_ms[i].unwrap_or(f64::NAN),
            loss: runs.final_val_loss[i].unwrap_or(f64::NAN),
            tag: i,
        });
    }
    points
        .into_iter()
        .map(|(track, pts)| {
            let front = frontier::pareto_indices(&pts)
                .into_iter()
                .map(|k| {
                    let (p, i) = (&pts[k], pts[k].tag);
                    Point {
                        time_ms: p.time_ms,
                        loss: p.loss,
                        tag: RunTag {
                            submission: runs.submission.get(i).to_string(),
                            bundle: runs.bundle.get(i).to_string(),
                            run_index: runs.run_index[i],
                            role: runs.role.get(i).to_string(),
                        },
                    }
                })
                .collect();
            (track.to_string(), front)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(role: &str, status: &str, official: bool, time: f64, loss: f64) -> RunRow {
        RunRow {
            track: "t".into(),
            submission: format!("{role}-{status}-{official}"),
            role: role.into(),
            bundle: "bundles/t/b".into(),
            bundle_digest: "00".into(),
            run_index: 0,
            seed: Some(1),
            status: status.into(),
            train_time_ms: Some(time),
            final_val_loss: Some(loss),
            heldout_val_loss: None,
            train_tokens: None,
            date: "2026-11-30".into(),
            device: "cpu".into(),
            official,
            verdict: "new record".into(),
        }
    }

    /// Frontier of each path (rows for `show` and the site, columns for the benchmark)
    /// as (submission, time, loss).
    fn frontiers(runs: &[RunRow]) -> [Vec<(String, f64, f64)>; 2] {
        let flat = |m: BTreeMap<String, Vec<Point<RunTag>>>| -> Vec<_> {
            m.into_values()
                .flatten()
                .map(|p| (p.tag.submission, p.time_ms, p.loss))
                .collect()
        };
        let by_rows = points_by_track(runs)
            .into_iter()
            .map(|(t, pts)| (t, frontier::pareto(&pts)))
            .collect();
        [
            flat(by_rows),
            flat(frontier_by_track(&RunTable::from_rows(runs))),
        ]
    }

    #[test]
    fn only_official_finished_candidates_are_on_the_frontier() {
        let mut runs = vec![
            run("candidate", "ok", true, 100.0, 3.3),
            run("candidate", "ok", true, 120.0, 3.2),
            // Each of these would dominate both candidates.
            run("baseline", "ok", true, 50.0, 3.0),
            run("candidate", "failed", true, 40.0, 2.9),
            run("candidate", "ok", false, 30.0, 2.8),
        ];
        let expected = vec![
            ("candidate-ok-true".to_string(), 100.0, 3.3),
            ("candidate-ok-true".to_string(), 120.0, 3.2),
        ];
        for f in frontiers(&runs) {
            assert_eq!(f, expected);
        }
        // A candidate without a final loss is not measured, whatever its time.
        runs.push(RunRow {
            final_val_loss: None,
            ..run("candidate", "ok", true, 10.0, 0.0)
        });
        for f in frontiers(&runs) {
            assert_eq!(f, expected);
        }
        // Only excluded runs: no frontier at all.
        for f in frontiers(&runs[2..]) {
            assert!(f.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn bundle_statistics_and_chain() {
        let mut runs = Vec::new();
        for (bundle, date, verdict, times) in [
            (
                "b1",
                "2026-11-01",
                "new record",
                &[1000.0, 1010.0, 990.0][..],
            ),
            ("b2", "2026-11-03", "not significant", &[950.0][..]),
            ("b3", "2026-11-02", "new record", &[900.0, 905.0, 895.0][..]),
        ] {
            for (k, &t) in times.iter().enumerate() {
                let mut r = run("candidate", "ok", true, t, 3.0 + k as f64 / 100.0);
                r.bundle = bundle.into();
                r.submission = bundle.into();
                r.date = date.into();
                r.verdict = verdict.into();
                runs.push(r);
                // A baseline run between candidates counts for nothing here.
                runs.push(RunRow {
                    role: "baseline".into(),
                    ..runs[runs.len() - 1].clone()
                });
            }
        }
        let mut failed = runs[0].clone();
        failed.status = "failed".into();
        failed.date = "2026-11-05".into();
        runs.push(failed);

        let chain = chain_from_runs(&RunTable::from_rows(&runs));
        let b: Vec<_> = chain
            .bundles
            .iter()
            .map(|s| (s.bundle.as_str(), s.date.as_str(), s.n, s.failed))
            .collect();
        // Sorted by (track, date, bundle); b1's date is its latest run's, the failed one.
        assert_eq!(
            b,
            [
                ("b3", "2026-11-02", 3, 0),
                ("b2", "2026-11-03", 1, 0),
                ("b1", "2026-11-05", 3, 1)
            ]
        );
        let b1 = &chain.bundles[2];
        assert_eq!(b1.time_mean_ms, Some(1000.0));
        assert_eq!(b1.time_min_ms, Some(990.0));
        assert!((b1.time_sd_ms.unwrap() - 10.0).abs() < 1e-12);
        assert!((b1.loss_mean.unwrap() - 3.01).abs() < 1e-12);
        assert_eq!(chain.bundles[1].time_sd_ms, None);
        assert_eq!(bundle_stats(&runs).unwrap(), chain.bundles);

        let links: Vec<_> = chain
            .records
            .iter()
            .map(|r| (r.bundle.as_str(), r.number, r.improvement_ms))
            .collect();
        assert_eq!(links, [("b3", 1, None), ("b1", 2, Some(-100.0))]);
        assert_eq!(chain.records[1].input_index, 2);
        assert_eq!(
            chain.records[1].improvement_pct,
            Some(-100.0 / 900.0 * 100.0)
        );
    }

    #[test]
    fn record_chain_orders_per_track_and_skips_missing_means() {
        let input = |track: &str, at: &str, mean: Option<f64>| ChainInput {
            track: track.into(),
            created_at: at.into(),
            bundle: format!("{track}/{at}"),
            time_mean_ms: mean,
        };
        let chain = record_chain([
            input("b", "2026-01-02", Some(80.0)),
            input("a", "2026-01-03", Some(90.0)),
            input("a", "2026-01-01", Some(100.0)),
            input("b", "2026-01-01", None),
        ])
        .unwrap();
        let got: Vec<_> = chain
            .iter()
            .map(|r| (r.input_index, r.number, r.improvement_ms, r.improvement_pct))
            .collect();
        assert_eq!(
            got,
            [
                (2, 1, None, None),
                (1, 2, Some(10.0), Some(10.0)),
                (3, 1, None, None),
                (0, 2, None, None)
            ]
        );
    }
}
