//! The CSV export: one row per record, for the records table.
//!
//! | column | meaning |
//! |---|---|
//! | `track` | track folder (`track_1_short`, `track_2_medium`, `track_3_optimization`) |
//! | `objective` | what the track competes on: `train time`, or `steps` (track 3) |
//! | `target_loss` | the loss the runs are tested against |
//! | `record` | record folder name (a log's file name for a log lying directly in the track's records folder) |
//! | `folder_date` | date the folder name starts with (YYYY-MM-DD); not the publication date of the speedrun's README table, so joins should use `record` |
//! | `verdict` | evidence sufficient, insufficient, single run, logs missing, claims disagree |
//! | `verdict_reason` | the figures behind the verdict, in words |
//! | `log_files` | `.txt`/`.log` files in the folder |
//! | `complete_runs` | runs that logged a final validation loss, all samples |
//! | `problems` | files with a problem (see the markdown report) |
//! | `duplicates` | logs left out as copies of runs counted elsewhere (also among `problems`) |
//! | `samples` | groups of runs (folder × role × steps × GPUs) |
//! | `candidate` | label of the sample taken as the record's submitted runs |
//! | `n` | runs in it |
//! | `steps` | its scheduled steps (track 3: the step of its final validation, the result) |
//! | `gpus` | GPUs per run |
//! | `loss_mean`, `loss_sd` | final validation loss (sd with n − 1) |
//! | `loss_t`, `loss_df`, `loss_p` | one-sided one-sample t-test, H1: mean < target |
//! | `time_mean_ms`, `time_median_ms`, `time_sd_ms`, `time_min_ms`, `time_max_ms` | train time at the final step |
//! | `baseline` | label of the same-hardware baseline sample, empty if none |
//! | `baseline_n`, `baseline_time_mean_ms`, `baseline_time_sd_ms` | its runs and time |
//! | `time_diff_ms`, `time_diff_ci_low_ms`, `time_diff_ci_high_ms` | candidate − baseline mean time, bootstrap percentile CI |
//! | `time_change_pct`, `time_change_ci_low_pct`, `time_change_ci_high_pct` | the same as a percent change |
//! | `time_welch_t`, `time_welch_df`, `time_welch_p` | Welch t-test, H1: candidate faster |
//! | `time_hedges_g` | effect size of the time difference |
//! | `time_mann_whitney_p` | Mann–Whitney U, H1: candidate faster |
//! | `claims_checked`, `claims_disagreeing`, `claims_unchecked` | stated figures compared with the logs |
//! | `gpu_models`, `torch_versions`, `cuda_versions`, `python_versions`, `triton_versions`, `driver_versions` | seen in the candidate's logs, `value×runs` joined by `; `; `?` where a log does not say |
//!
//! Empty cells mean "not applicable or not computable"; numbers are never NaN.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::{AuditReport, RecordAudit};
use crate::sample::{Environment, Sample};

/// One CSV row; field order is column order.
#[derive(Debug, Serialize)]
struct CsvRow<'a> {
    track: &'a str,
    objective: &'static str,
    target_loss: f64,
    record: &'a str,
    folder_date: Option<&'a str>,
    verdict: &'static str,
    verdict_reason: &'a str,
    log_files: usize,
    complete_runs: usize,
    problems: usize,
    duplicates: usize,
    samples: usize,
    candidate: Option<&'a str>,
    n: Option<usize>,
    steps: Option<u32>,
    gpus: Option<u32>,
    loss_mean: Option<f64>,
    loss_sd: Option<f64>,
    loss_t: Option<f64>,
    loss_df: Option<f64>,
    loss_p: Option<f64>,
    time_mean_ms: Option<f64>,
    time_median_ms: Option<f64>,
    time_sd_ms: Option<f64>,
    time_min_ms: Option<f64>,
    time_max_ms: Option<f64>,
    baseline: Option<&'a str>,
    baseline_n: Option<usize>,
    baseline_time_mean_ms: Option<f64>,
    baseline_time_sd_ms: Option<f64>,
    time_diff_ms: Option<f64>,
    time_diff_ci_low_ms: Option<f64>,
    time_diff_ci_high_ms: Option<f64>,
    time_change_pct: Option<f64>,
    time_change_ci_low_pct: Option<f64>,
    time_change_ci_high_pct: Option<f64>,
    time_welch_t: Option<f64>,
    time_welch_df: Option<f64>,
    time_welch_p: Option<f64>,
    time_hedges_g: Option<f64>,
    time_mann_whitney_p: Option<f64>,
    claims_checked: usize,
    claims_disagreeing: usize,
    claims_unchecked: usize,
    gpu_models: String,
    torch_versions: String,
    cuda_versions: String,
    python_versions: String,
    triton_versions: String,
    driver_versions: String,
}

fn joined(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k}×{n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn row(r: &RecordAudit) -> CsvRow<'_> {
    let c = r.candidate_sample();
    let b = r.baseline_sample();
    let cmp = r.time_comparison.as_ref();
    let env = c.map(|s| &s.environment);
    let env_col = |f: fn(&Environment) -> &BTreeMap<String, usize>| {
        env.map(|e| joined(f(e))).unwrap_or_default()
    };
    let pct = cmp.and_then(|x| x.bootstrap.percent_change);
    CsvRow {
        track: &r.track,
        objective: r.objective.as_str(),
        target_loss: r.target_loss,
        record: &r.record,
        folder_date: r.folder_date.as_deref(),
        verdict: r.verdict.as_str(),
        verdict_reason: &r.verdict_reason,
        log_files: r.log_files,
        complete_runs: r.complete_runs,
        problems: r.problems.len(),
        duplicates: r.duplicates(),
        samples: r.samples.len(),
        candidate: c.map(|s| s.label.as_str()),
        n: c.map(Sample::n),
        steps: c.and_then(|s| s.total_steps),
        gpus: c.and_then(|s| s.gpu_count),
        loss_mean: c.and_then(|s| s.loss.as_ref()).map(|l| l.mean),
        loss_sd: c.and_then(|s| s.loss.as_ref()).and_then(|l| l.sd),
        loss_t: c.and_then(|s| s.loss_test.as_ref()).map(|t| t.t),
        loss_df: c.and_then(|s| s.loss_test.as_ref()).map(|t| t.df),
        loss_p: c.and_then(|s| s.loss_test.as_ref()).map(|t| t.p),
        time_mean_ms: c.and_then(|s| s.time_ms.as_ref()).map(|t| t.mean),
        time_median_ms: c.and_then(|s| s.time_ms.as_ref()).map(|t| t.median),
        time_sd_ms: c.and_then(|s| s.time_ms.as_ref()).and_then(|t| t.sd),
        time_min_ms: c.and_then(|s| s.time_ms.as_ref()).map(|t| t.min),
        time_max_ms: c.and_then(|s| s.time_ms.as_ref()).map(|t| t.max),
        baseline: b.map(|s| s.label.as_str()),
        baseline_n: b.map(Sample::n),
        baseline_time_mean_ms: b.and_then(|s| s.time_ms.as_ref()).map(|t| t.mean),
        baseline_time_sd_ms: b.and_then(|s| s.time_ms.as_ref()).and_then(|t| t.sd),
        time_diff_ms: cmp.map(|x| x.difference),
        time_diff_ci_low_ms: cmp.map(|x| x.bootstrap.difference.lower),
        time_diff_ci_high_ms: cmp.map(|x| x.bootstrap.difference.upper),
        time_change_pct: cmp.and_then(|x| x.percent_change),
        time_change_ci_low_pct: pct.map(|p| p.lower),
        time_change_ci_high_pct: pct.map(|p| p.upper),
        time_welch_t: cmp.map(|x| x.welch_less.t),
        time_welch_df: cmp.map(|x| x.welch_less.df),
        time_welch_p: cmp.map(|x| x.welch_less.p),
        time_hedges_g: cmp.map(|x| x.effect.hedges_g),
        time_mann_whitney_p: cmp.map(|x| x.mann_whitney_less.p),
        claims_checked: r.claims_checked(),
        claims_disagreeing: r.claims_disagreeing(),
        claims_unchecked: r.claims_unchecked(),
        gpu_models: env_col(|e| &e.gpus),
        torch_versions: env_col(|e| &e.torch),
        cuda_versions: env_col(|e| &e.cuda),
        python_versions: env_col(|e| &e.python),
        triton_versions: env_col(|e| &e.triton),
        driver_versions: env_col(|e| &e.driver),
    }
}

/// The CSV: a header and one row per record.
pub fn to_csv(report: &AuditReport) -> Result<String, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in &report.records {
        w.serialize(row(r))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("csv of UTF-8 strings is UTF-8"))
}
