//! The validity benchmark's analysis (bench/validity/README.md): the paired t-test that
//! decides certifications, and Welch's test it replaced, applied to disjoint blocks of
//! real run pairs collected by collect.py.
//!
//! - null pool (reference against itself): the false-record rate at the track's threshold
//!   with its Clopper–Pearson 95% interval, for both tests, and the histogram of the
//!   paired p-values with a chi-square test of uniformity;
//! - slow-P pools (baseline slowed by P%): the power of both tests at N = 5, 10, 20 pairs,
//!   and whether the paired t beats Welch there: both tests judge the same trials, so the
//!   comparison is McNemar's exact test on the trials where they disagree (overlapping
//!   intervals of two rates would waste that pairing).
//!
//! Trials are disjoint sets of N pairs: by default N consecutive pairs, as certify would
//! have run them back to back on the test track; with `--spread`, every (pairs / N)-th
//! pair, so that each trial spans the whole collection, as the pairs of a GPU
//! certification lie minutes apart while the machine drifts under them.
//!
//!   cargo run --release -p speedcert-stats --example validity -- RAW_DIR [--alpha 0.01] [--spread] [--json OUT]

use std::path::{Path, PathBuf};

use speedcert_stats::{Alternative, paired_t, quantile_sorted, welch_t};
use statrs::distribution::{Beta, Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

#[derive(serde::Deserialize)]
struct Pair {
    candidate_ms: f64,
    baseline_ms: f64,
    candidate_first: bool,
    slowdown_pct: f64,
}

fn read_pool(path: &Path) -> Vec<Pair> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Clopper–Pearson interval of k successes in n trials.
fn clopper_pearson(k: usize, n: usize, level: f64) -> (f64, f64) {
    let a = (1.0 - level) / 2.0;
    let lo = if k == 0 {
        0.0
    } else {
        Beta::new(k as f64, (n - k + 1) as f64)
            .unwrap()
            .inverse_cdf(a)
    };
    let hi = if k == n {
        1.0
    } else {
        Beta::new((k + 1) as f64, (n - k) as f64)
            .unwrap()
            .inverse_cdf(1.0 - a)
    };
    (lo, hi)
}

/// How a trial's pairs are taken from a pool (see the module's doc).
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Consecutive,
    Spread,
}

/// The pairs of each disjoint trial of `n` pairs among `len`.
fn trial_pairs(len: usize, n: usize, layout: Layout) -> Vec<Vec<usize>> {
    let count = len / n;
    (0..count)
        .map(|t| match layout {
            Layout::Consecutive => (t * n..(t + 1) * n).collect(),
            Layout::Spread => (0..n).map(|k| t + k * count).collect(),
        })
        .collect()
}

/// One-sided p of both tests on each disjoint trial of `n` pairs.
fn trials(pool: &[Pair], n: usize, layout: Layout) -> Vec<(f64, f64)> {
    trial_pairs(pool.len(), n, layout)
        .into_iter()
        .filter_map(|pairs| {
            let c: Vec<f64> = pairs.iter().map(|&i| pool[i].candidate_ms).collect();
            let b: Vec<f64> = pairs.iter().map(|&i| pool[i].baseline_ms).collect();
            let paired = paired_t(&c, &b, Alternative::Less).ok()?.p;
            let welch = welch_t(&c, &b, Alternative::Less).ok()?.p;
            Some((paired, welch))
        })
        .collect()
}

fn rate(trials: &[(f64, f64)], alpha: f64, paired: bool) -> (usize, usize) {
    let hits = trials
        .iter()
        .filter(|t| if paired { t.0 } else { t.1 } < alpha)
        .count();
    (hits, trials.len())
}

/// Trials only the paired t detected, only Welch detected, and McNemar's exact one-sided p
/// that the paired t detects more often (binomial on the discordant trials).
fn mcnemar(trials: &[(f64, f64)], alpha: f64) -> (usize, usize, f64) {
    let only_paired = trials
        .iter()
        .filter(|t| t.0 < alpha && t.1 >= alpha)
        .count();
    let only_welch = trials
        .iter()
        .filter(|t| t.0 >= alpha && t.1 < alpha)
        .count();
    let discordant = (only_paired + only_welch) as u64;
    let p = if only_paired == 0 {
        1.0
    } else {
        Binomial::new(0.5, discordant)
            .unwrap()
            .sf(only_paired as u64 - 1)
    };
    (only_paired, only_welch, p)
}

/// Pearson correlation of the two runs of each pair: what pairing gains over Welch.
fn pair_correlation(pool: &[Pair]) -> f64 {
    let n = pool.len() as f64;
    let (mc, mb) = (
        pool.iter().map(|p| p.candidate_ms).sum::<f64>() / n,
        pool.iter().map(|p| p.baseline_ms).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for p in pool {
        let (x, y) = (p.candidate_ms - mc, p.baseline_ms - mb);
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    sxy / (sxx * syy).sqrt()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    quantile_sorted(&xs, 0.5)
}

fn pct(k: usize, n: usize) -> String {
    let (lo, hi) = clopper_pearson(k, n, 0.95);
    format!(
        "{:.2}% ({k}/{n}; 95% CI {:.2}–{:.2}%)",
        100.0 * k as f64 / n as f64,
        100.0 * lo,
        100.0 * hi
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let raw = PathBuf::from(
        args.next()
            .expect("usage: validity RAW_DIR [--alpha A] [--spread] [--json OUT]"),
    );
    let mut alpha = 0.01;
    let mut layout = Layout::Consecutive;
    let mut json_out = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--alpha" => alpha = args.next().unwrap().parse().unwrap(),
            "--spread" => layout = Layout::Spread,
            "--json" => json_out = Some(PathBuf::from(args.next().unwrap())),
            other => panic!("unknown argument {other}"),
        }
    }
    let mut report = serde_json::Map::new();
    report.insert("alpha".into(), alpha.into());
    let layout_name = match layout {
        Layout::Consecutive => "consecutive",
        Layout::Spread => "spread",
    };
    report.insert("trials".into(), layout_name.into());

    let null = read_pool(&raw.join("null.jsonl"));
    let diffs: Vec<f64> = null
        .iter()
        .map(|p| p.candidate_ms - p.baseline_ms)
        .collect();
    let first: Vec<f64> = null
        .iter()
        .map(|p| {
            if p.candidate_first {
                p.candidate_ms - p.baseline_ms
            } else {
                p.baseline_ms - p.candidate_ms
            }
        })
        .collect();
    let order = paired_t(&first, &vec![0.0; first.len()], Alternative::TwoSided).ok();
    println!("# Validity of the time test (alpha = {alpha})\n");
    println!(
        "Trials: {}\n",
        match layout {
            Layout::Consecutive => "N consecutive pairs each",
            Layout::Spread => "every (pairs / N)-th pair, each trial spanning the whole collection",
        }
    );
    println!(
        "null pool: {} pairs of reference against itself; mean within-pair difference {:+.2} ms; first-run-minus-second {:+.2} ms (two-sided p {})\n",
        null.len(),
        diffs.iter().sum::<f64>() / diffs.len() as f64,
        first.iter().sum::<f64>() / first.len() as f64,
        order
            .as_ref()
            .map_or("n/a".into(), |t| format!("{:.3}", t.p))
    );
    println!("## False-record rate (reference against itself)\n");
    println!("| N pairs | trials | paired t | Welch |\n|---|---|---|---|");
    let mut fpr = Vec::new();
    let mut histogram = String::new();
    for n in [5, 10, 20] {
        let t = trials(&null, n, layout);
        if t.is_empty() {
            continue;
        }
        let (kp, m) = rate(&t, alpha, true);
        let (kw, _) = rate(&t, alpha, false);
        println!("| {n} | {m} | {} | {} |", pct(kp, m), pct(kw, m));
        fpr.push(serde_json::json!({"n": n, "trials": m, "paired_false_records": kp, "welch_false_records": kw}));
        if n == 5 {
            // Uniformity of the paired p-values under the null: 10 bins, chi-square.
            let mut bins = [0usize; 10];
            for (p, _) in &t {
                bins[((p * 10.0) as usize).min(9)] += 1;
            }
            let e = m as f64 / 10.0;
            let chi2: f64 = bins.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
            let pu = 1.0 - ChiSquared::new(9.0).unwrap().cdf(chi2);
            report.insert(
                "null_paired_p_histogram_n5".into(),
                serde_json::json!({"bins": bins, "chi2": chi2, "df": 9, "p": pu}),
            );
            histogram = format!(
                "paired p-values at N = 5, 10 bins of 0.1: {bins:?}; chi-square {chi2:.2} on 9 df, p = {pu:.3}"
            );
        }
    }
    report.insert("false_record_rate".into(), fpr.into());
    println!("\n{histogram}\n");

    println!(
        "null pool: within-pair correlation r = {:.2}; median run {:.1} ms\n",
        pair_correlation(&null),
        median(null.iter().map(|p| p.candidate_ms).collect())
    );
    println!("## Power (baseline slowed by P%)\n");
    println!(
        "Paired only / Welch only: trials that one test detected and the other did not; McNemar p: exact one-sided p that the paired t detects more often.\n"
    );
    println!(
        "| slow-down | N pairs | trials | paired t | Welch | paired only / Welch only | McNemar p |\n|---|---|---|---|---|---|---|"
    );
    let mut measured = Vec::new();
    let mut power = Vec::new();
    let mut pools: Vec<PathBuf> = std::fs::read_dir(&raw)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("slow-"))
        })
        .collect();
    pools.sort_by_key(|p| {
        read_pool(p)
            .first()
            .map_or(0, |x| (x.slowdown_pct * 1000.0) as i64)
    });
    for path in pools {
        let pool = read_pool(&path);
        let Some(p0) = pool.first() else { continue };
        let achieved = median(pool.iter().map(|p| p.baseline_ms).collect())
            / median(pool.iter().map(|p| p.candidate_ms).collect())
            - 1.0;
        measured.push(format!(
            "slow-{}: {} pairs; baseline's median time {:+.2}% over the candidate's (asked {}%); within-pair r = {:.2}",
            p0.slowdown_pct,
            pool.len(),
            100.0 * achieved,
            p0.slowdown_pct,
            pair_correlation(&pool)
        ));
        for n in [5, 10, 20] {
            let t = trials(&pool, n, layout);
            if t.is_empty() {
                continue;
            }
            let (kp, m) = rate(&t, alpha, true);
            let (kw, _) = rate(&t, alpha, false);
            let (only_p, only_w, mcnemar_p) = mcnemar(&t, alpha);
            println!(
                "| {}% | {n} | {m} | {} | {} | {only_p} / {only_w} | {mcnemar_p:.3} |",
                p0.slowdown_pct,
                pct(kp, m),
                pct(kw, m)
            );
            power.push(serde_json::json!({"slowdown_pct": p0.slowdown_pct, "n": n, "trials": m, "paired_detected": kp, "welch_detected": kw, "paired_only": only_p, "welch_only": only_w, "mcnemar_p": mcnemar_p, "achieved_slowdown_pct": 100.0 * achieved}));
        }
    }
    println!();
    for line in &measured {
        println!("- {line}");
    }
    report.insert("power".into(), power.into());
    if let Some(out) = json_out {
        std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    }
}
