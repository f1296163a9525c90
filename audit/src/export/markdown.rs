//! The markdown export: the report for people, with coverage, one table per track,
//! each record's details and every file problem.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use speedcert_stats::Summary;
use speedcert_stats::format::{TimeUnit, fmt_loss, fmt_p};

use crate::report::{AuditReport, RecordAudit};
use crate::sample::Role;
use crate::support::Support;

/// Times in the reports are in seconds, 3 decimals.
const SECS: TimeUnit = TimeUnit::S;

fn mean_sd_s(s: Option<&Summary>) -> String {
    match s {
        Some(t) => match t.sd {
            Some(sd) => format!("{:.3} ± {}", t.mean / SECS.divisor(), SECS.fmt(sd)),
            None => SECS.fmt(t.mean),
        },
        None => "–".into(),
    }
}

fn mean_sd_loss(s: Option<&Summary>) -> String {
    match s {
        Some(l) => match l.sd {
            Some(sd) => format!("{} ± {}", fmt_loss(l.mean), fmt_loss(sd)),
            None => fmt_loss(l.mean),
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
    let verdicts: Vec<String> = Support::ALL
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
                        "{:+.3} {} ({:+.2} %)",
                        x.difference / SECS.divisor(),
                        SECS.suffix(),
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
                    Role::Candidate => " *(ablation or other version)*",
                    Role::Baseline => " *(other baseline)*",
                }
            };
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&s.label),
                mark,
                s.role.as_str(),
                s.n(),
                mean_sd_loss(s.loss.as_ref()),
                s.loss_test.as_ref().map_or("–".into(), |t| fmt_p(t.p)),
                mean_sd_s(s.time_ms.as_ref()),
                s.time_ms
                    .as_ref()
                    .map_or("–".into(), |t| SECS.fmt(t.median)),
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
            SECS.fmt(d.lower),
            SECS.fmt(d.estimate),
            SECS.fmt(d.upper),
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
                c.ours.map_or("–".into(), |v| c.shown(v)),
                c.from_listed.map_or("–".into(), |v| c.shown(v)),
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
