//! The audit's outputs, all from one [`AuditReport`]: a markdown report for people,
//! a CSV (one row per record) for the records table, and JSON with everything.
//!
//! # CSV columns
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
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{AuditError, AuditReport, RecordAudit, Sample, Verdict, fmt_p};

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
    let env_col = |f: fn(&crate::audit::Environment) -> &BTreeMap<String, usize>| {
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
        duplicates: r
            .problems
            .iter()
            .filter(|p| p.kind == crate::problem::ProblemKind::Duplicate)
            .count(),
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
        claims_checked: r.claims.iter().filter(|c| c.agrees.is_some()).count(),
        claims_disagreeing: r.claims.iter().filter(|c| c.agrees == Some(false)).count(),
        claims_unchecked: r.unchecked_claims.len()
            + r.claims.iter().filter(|c| c.agrees.is_none()).count(),
        gpu_models: env_col(|e| &e.gpus),
        torch_versions: env_col(|e| &e.torch),
        cuda_versions: env_col(|e| &e.cuda),
        python_versions: env_col(|e| &e.python),
        triton_versions: env_col(|e| &e.triton),
        driver_versions: env_col(|e| &e.driver),
    }
}

/// The CSV: a header and one row per record.
pub fn to_csv(report: &AuditReport) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &report.records {
        w.serialize(row(r))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("csv of UTF-8 strings is UTF-8"))
}

/// The JSON: the whole report.
pub fn to_json(report: &AuditReport) -> String {
    serde_json::to_string_pretty(report).expect("the report serialises")
}

fn secs(ms: f64) -> String {
    format!("{:.3} s", ms / 1000.0)
}

fn mean_sd_s(s: Option<&speedcert_stats::Summary>) -> String {
    match s {
        Some(t) => match t.sd {
            Some(sd) => format!("{:.3} ± {:.3} s", t.mean / 1000.0, sd / 1000.0),
            None => secs(t.mean),
        },
        None => "–".into(),
    }
}

fn mean_sd_loss(s: Option<&speedcert_stats::Summary>) -> String {
    match s {
        Some(l) => match l.sd {
            Some(sd) => format!("{:.4} ± {:.4}", l.mean, sd),
            None => format!("{:.4}", l.mean),
        },
        None => "–".into(),
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The markdown report.
pub fn to_markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let t = &report.totals;
    let o = &report.options;
    let _ = writeln!(out, "# modded-nanogpt record audit\n");
    let tracks: Vec<&str> = report.tracks.iter().map(|t| t.track.as_str()).collect();
    let _ = writeln!(
        out,
        "Audited by {} from `{}`: {}. Threshold p < {}, track hardware {} GPUs; bootstrap {} \
         resamples at {:.0} %, seed {:#x}.\n",
        report.tool,
        report.records_dir,
        tracks.join(", "),
        o.threshold,
        o.track_gpus,
        o.bootstrap.resamples,
        o.bootstrap.level * 100.0,
        o.bootstrap.seed
    );
    if let Some(src) = &o.source {
        let _ = writeln!(out, "Source: {src}\n");
    }
    let _ = writeln!(
        out,
        "{} records · {} log files · {} finished runs (each counted once) · {} file problems \
         ({} duplicates) · {} stated figures checked, {} disagree\n",
        t.records,
        t.log_files,
        t.complete_runs,
        t.problems,
        t.duplicates,
        t.claims_checked,
        t.claims_disagreeing
    );
    let verdicts: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v.as_str(),
                t.by_verdict.get(v.as_str()).unwrap_or(&0)
            )
        })
        .collect();
    let _ = writeln!(out, "Verdicts: {}\n", verdicts.join(" · "));
    let _ = writeln!(out, "{}", HOW_TO_READ);

    let _ = writeln!(out, "## Coverage\n");
    let _ = writeln!(
        out,
        "| track | records folder | objective | target loss | records | log files |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|");
    for c in &report.tracks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.track,
            c.records_dir,
            c.objective.as_str(),
            c.target_loss,
            c.records,
            c.log_files
        );
    }
    out.push('\n');
    let skipped: Vec<_> = report.tracks.iter().flat_map(|c| &c.skipped).collect();
    if skipped.is_empty() {
        let _ = writeln!(out, "Nothing was skipped.\n");
    } else {
        let _ = writeln!(out, "Not audited:\n");
        for k in skipped {
            let _ = writeln!(out, "- `{}`: {}", k.path, k.reason);
        }
        out.push('\n');
    }

    for c in &report.tracks {
        let _ = writeln!(
            out,
            "## Records: {} (target {}, objective: {})\n",
            c.track,
            c.target_loss,
            c.objective.as_str()
        );
        let _ = writeln!(
            out,
            "| record | verdict | n | steps | loss mean ± sd | loss p | time mean ± sd | vs baseline | p (time) | GPUs |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---|---:|---|---|---:|---|");
        for r in report.records.iter().filter(|r| r.track == c.track) {
            let c = r.candidate_sample();
            let cmp = r.time_comparison.as_ref();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.record,
                r.verdict,
                c.map_or("0".into(), |s| s.n().to_string()),
                c.and_then(|s| s.total_steps)
                    .map_or("–".into(), |v| v.to_string()),
                mean_sd_loss(c.and_then(|s| s.loss.as_ref())),
                c.and_then(|s| s.loss_test.as_ref())
                    .map_or("–".into(), |t| fmt_p(t.p)),
                mean_sd_s(c.and_then(|s| s.time_ms.as_ref())),
                cmp.map_or("–".into(), |x| {
                    format!(
                        "{:+.3} s ({:+.2} %)",
                        x.difference / 1000.0,
                        x.percent_change.unwrap_or(f64::NAN)
                    )
                }),
                cmp.map_or("–".into(), |x| fmt_p(x.welch_less.p)),
                c.map_or("–".into(), |s| md_escape(&short_env(&s.environment.gpus))),
            );
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Details\n");
    for r in &report.records {
        record_details(&mut out, r, o.threshold);
    }

    let problems: Vec<_> = report.problems().collect();
    let _ = writeln!(out, "## File problems\n");
    if problems.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        let _ = writeln!(out, "| file | problem | detail |\n|---|---|---|");
        for p in problems {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md_escape(&p.file),
                p.kind.as_str(),
                md_escape(&p.detail)
            );
        }
        out.push('\n');
    }
    out
}

const HOW_TO_READ: &str = "How to read this: each record folder's finished runs are grouped \
into samples (same subfolder, baseline or not, same printed training script, same step count \
and GPU count); runs of different scripts (ablations, other optimizers) are never pooled. A \
run counts once: copies of a log (same content, same run id, or same start time and result) \
are file problems naming the log counted. A run is finished only if its log ends with a whole, \
finite final validation line (track 3: its last validation, whose step is the result). One \
sample is taken as the record's candidate and, where the folder holds a same-hardware baseline \
rerun, one as its baseline (rules in the speedcert-audit docs); the others are shown beside it \
as ablations or baselines. \"loss p\" is the one-sided one-sample \
t-test of the candidate's final validation losses against the target (H1: mean below); \"p \
(time)\" is the one-sided Welch test that the candidate is faster than the baseline. Stated \
figures from statistics.md and README code blocks are checked to the precision they are \
written with: half a unit in the last digit, plus four float32 ulps of the sample mean for means, \
sds and medians (the speedrun prints them with torch.std_mean on float32). \"logs give\" is our \
value from the logs, \"from listed values\" the same statistic of the per-run values the author \
lists, which tells a wrong sum from a different set of runs.\n";

fn short_env(map: &BTreeMap<String, usize>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn record_details(out: &mut String, r: &RecordAudit, threshold: f64) {
    let _ = writeln!(out, "### {}/{} — {}\n", r.track, r.record, r.verdict);
    let _ = writeln!(out, "{}\n", r.verdict_reason);
    if let Some(d) = &r.duplicates_note {
        let _ = writeln!(out, "Duplicates: {d}.\n");
    }
    let _ = writeln!(
        out,
        "{} log files, {} finished runs, {} samples.\n",
        r.log_files,
        r.complete_runs,
        r.samples.len()
    );
    if !r.samples.is_empty() {
        let _ = writeln!(
            out,
            "| sample | role | n | loss mean ± sd | loss p | time mean ± sd | time median | scripts | PyTorch |"
        );
        let _ = writeln!(out, "|---|---|---:|---|---:|---|---:|---:|---|");
        for (i, s) in r.samples.iter().enumerate() {
            let mark = if Some(i) == r.candidate {
                " **(candidate)**"
            } else if Some(i) == r.baseline {
                " **(baseline)**"
            } else if s.listed_in.is_some() {
                ""
            } else {
                // Shown beside the evidence, never pooled into it.
                match s.role {
                    crate::audit::Role::Candidate => " *(ablation or other version)*",
                    crate::audit::Role::Baseline => " *(other baseline)*",
                }
            };
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&s.label),
                mark,
                match s.role {
                    crate::audit::Role::Candidate => "candidate",
                    crate::audit::Role::Baseline => "baseline",
                },
                s.n(),
                mean_sd_loss(s.loss.as_ref()),
                s.loss_test.as_ref().map_or("–".into(), |t| fmt_p(t.p)),
                mean_sd_s(s.time_ms.as_ref()),
                s.time_ms.as_ref().map_or("–".into(), |t| secs(t.median)),
                s.environment.scripts,
                md_escape(&short_env(&s.environment.torch)),
            );
        }
        out.push('\n');
    }
    if let Some(c) = &r.time_comparison {
        let d = &c.bootstrap.difference;
        let _ = writeln!(
            out,
            "```\ntime:    [{} {} {}]  (candidate − baseline, bootstrap {:.0} % CI)",
            secs(d.lower),
            secs(d.estimate),
            secs(d.upper),
            d.level * 100.0
        );
        if let Some(p) = c.bootstrap.percent_change {
            let _ = writeln!(
                out,
                "change:  [{:+.3} % {:+.3} % {:+.3} %]",
                p.lower, p.estimate, p.upper
            );
        }
        let _ = writeln!(
            out,
            "Welch:   t = {:.3}, df = {:.1}, p = {} {} {}  (H1: candidate faster)\n\
             Hedges' g = {:.2}; Mann-Whitney U = {}, p = {} ({})\n```\n",
            c.welch_less.t,
            c.welch_less.df,
            fmt_p(c.welch_less.p),
            if c.welch_less.p < threshold {
                "<"
            } else {
                "≥"
            },
            threshold,
            c.effect.hedges_g,
            c.mann_whitney_less.u,
            fmt_p(c.mann_whitney_less.p),
            c.mann_whitney_less.method.as_str(),
        );
    } else if let Some(e) = &r.time_comparison_error {
        let _ = writeln!(out, "Time comparison not possible: {e}\n");
    }
    if !r.claims.is_empty() {
        let _ = writeln!(
            out,
            "| stated in | sample | figure | stated | logs give | from listed values | agrees | note |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---:|---|---|");
        for c in &r.claims {
            let agrees = match c.agrees {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            };
            let _ = writeln!(
                out,
                "| {}:{} | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&c.source),
                c.line,
                md_escape(&c.sample),
                c.quantity.as_str(),
                md_escape(&c.stated),
                c.ours.map_or("–".into(), |v| shown(v, c)),
                c.from_listed.map_or("–".into(), |v| shown(v, c)),
                agrees,
                md_escape(&c.note)
            );
        }
        out.push('\n');
    }
    for u in &r.unchecked_claims {
        let _ = writeln!(
            out,
            "- Not checked: {}:{}: {}",
            md_escape(&u.source),
            u.line,
            u.reason
        );
    }
    if !r.unchecked_claims.is_empty() {
        out.push('\n');
    }
    for p in &r.problems {
        let _ = writeln!(out, "- `{}`: {}: {}", p.file, p.kind.as_str(), p.detail);
    }
    if !r.problems.is_empty() {
        out.push('\n');
    }
}

/// A recomputed value in the unit and style of the stated one.
fn shown(v: f64, c: &crate::audit::ClaimCheck) -> String {
    crate::audit::format_like(v / c.scale, &c.stated)
}

/// Paths written by [`write_outputs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub json: Option<PathBuf>,
}

/// Writes `<stem>.md`, `<stem>.csv` and, with `json`, `<stem>.json` into `dir`,
/// each atomically (a temporary file in the same folder, then a rename), so a
/// reader never sees half a report.
pub fn write_outputs(
    report: &AuditReport,
    dir: &Path,
    stem: &str,
    json: bool,
) -> Result<Written, AuditError> {
    std::fs::create_dir_all(dir).map_err(|source| AuditError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let markdown = dir.join(format!("{stem}.md"));
    write_atomic(&markdown, to_markdown(report).as_bytes())?;
    let csv_path = dir.join(format!("{stem}.csv"));
    let csv_text = to_csv(report).map_err(|e| AuditError::Output {
        path: csv_path.clone(),
        detail: e.to_string(),
    })?;
    write_atomic(&csv_path, csv_text.as_bytes())?;
    let json_path = if json {
        let p = dir.join(format!("{stem}.json"));
        write_atomic(&p, to_json(report).as_bytes())?;
        Some(p)
    } else {
        None
    };
    Ok(Written {
        markdown,
        csv: csv_path,
        json: json_path,
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    // tempfile creates 0600; reports are data to share, so make them 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
