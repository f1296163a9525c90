//! The markdown export: the certification for people, to paste into a pull request or
//! a record's README. A header line with track, submission and verdict; the time
//! statistics of both samples and their comparison; the loss test; every check.
//!
//! Times are in one unit per table (`TimeUnit`, chosen from the largest figure shown, as
//! hyperfine does), p-values and losses as `speedcert_stats::format` writes them, so a
//! figure reads here as in the terminal report and on the records site.

use std::fmt::Write as _;

use speedcert_stats::format::{TimeUnit, fmt_loss, fmt_p};

use super::{Certification, ExportError, Exporter};
use crate::plan::TimeBaseline;
use crate::summary::{LossStats, Summary, TimeSample, TimeStats};

pub(super) struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn export(&self, cert: &Certification<'_>) -> Result<String, ExportError> {
        Ok(to_markdown(cert.summary))
    }
}

/// Shown where a figure could not be computed.
const NONE: &str = "–";

/// A table cell: `|` would end the cell and a newline the row, so they are escaped and
/// folded.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// `p = 0.0012 < 0.01`: the p-value beside the threshold it is judged by.
fn p_vs(p: Option<f64>, threshold: f64) -> String {
    match p {
        Some(p) if p < threshold => format!("{} < {threshold}", fmt_p(p)),
        Some(p) => format!("{} ≥ {threshold}", fmt_p(p)),
        None => NONE.to_owned(),
    }
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| NONE.to_owned())
}

/// The report.
pub fn to_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} · {} · {}\n", s.track, s.submission, s.verdict);
    let _ = writeln!(out, "**Verdict: {}.** {}\n", s.verdict, s.verdict_detail);

    let against = match (s.comparison, &s.baseline_submission) {
        (TimeBaseline::SameMachine, Some(b)) => {
            format!("`{b}`, rerun on the same machine, interleaved")
        }
        (TimeBaseline::StoredRecord, Some(b)) => format!("`{b}`, stored record times"),
        _ => "none (only the loss test applies)".to_owned(),
    };
    let r = &s.runs;
    let _ = writeln!(out, "- track: `{}` (sha256 `{}`)", s.track, s.track_sha256);
    let _ = writeln!(out, "- submission: `{}`", s.submission);
    let _ = writeln!(out, "- baseline: {against}");
    let _ = writeln!(
        out,
        "- runs: candidate {}/{} finished, baseline {}/{} finished",
        r.candidate - r.candidate_failed,
        r.candidate,
        r.baseline - r.baseline_failed,
        r.baseline
    );
    let _ = writeln!(
        out,
        "- official environment: {}",
        if s.official { "yes" } else { "no" }
    );
    let _ = writeln!(
        out,
        "- threshold: p < {}; bootstrap {} resamples, seed {}",
        s.threshold, s.bootstrap_resamples, s.bootstrap_seed
    );
    if let Some(clock) = s.clock {
        let _ = writeln!(out, "- clock: **{clock}** ({})", clock.label());
    }
    let _ = writeln!(out, "- created: {} ({})\n", s.created_at, s.schema);
    if !r.failures.is_empty() {
        let _ = writeln!(out, "Failed runs:\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }

    match &s.time {
        Some(t) => time_section(&mut out, s, t),
        None => {
            let _ = writeln!(out, "## Time\n\nNo finished candidate run to time.\n");
        }
    }
    match &s.loss {
        Some(l) => loss_section(&mut out, s, l),
        None => {
            let _ = writeln!(
                out,
                "## Validation loss\n\nNo finished candidate run with a validation loss.\n"
            );
        }
    }
    speedrun_section(&mut out, s);
    checks_section(&mut out, s);
    out
}

/// The figures the speedrun asks of a record's pull request (its statistics.md): mean
/// final loss with its one-sided t-test against the target, mean time and the change
/// against the baseline, in one block to paste.
fn speedrun_section(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "## For the pull request
"
    );
    let _ = writeln!(out, "```");
    match &s.loss {
        Some(l) => {
            let _ = writeln!(
                out,
                "val loss  mean {} over {} runs; one-sided t-test mean < {}: p = {}",
                fmt_loss(l.mean),
                l.n,
                fmt_loss(s.target_val_loss),
                opt(l.p_value, fmt_p)
            );
        }
        None => {
            let _ = writeln!(out, "val loss  no finished run");
        }
    }
    if let Some(t) = &s.time {
        let secs = |ms: f64| format!("{:.3} s", ms / 1e3);
        let _ = writeln!(
            out,
            "time      mean {} over {} runs{}",
            secs(t.candidate.mean_ms),
            t.candidate.n,
            t.baseline
                .as_ref()
                .map(|b| format!(
                    "; baseline `{}` mean {} over {} runs",
                    s.baseline_submission.as_deref().unwrap_or("baseline"),
                    secs(b.mean_ms),
                    b.n
                ))
                .unwrap_or_default()
        );
        if let (Some(c), Some(ci)) = (t.change_pct, t.ci95_change_pct) {
            let _ = writeln!(
                out,
                "change    {c:+.2}% (95% CI {:+.2}% to {:+.2}%), p = {}",
                ci[0],
                ci[1],
                opt(t.p_value, fmt_p)
            );
        }
    }
    if let Some(clock) = s.clock {
        let _ = writeln!(out, "clock     {clock}: {}", clock.label());
    }
    let _ = writeln!(out, "```\n");
}

fn time_section(out: &mut String, s: &Summary, t: &TimeStats) {
    let _ = writeln!(out, "## Time\n");
    let mut samples: Vec<(String, &TimeSample)> =
        vec![(format!("candidate `{}`", s.submission), &t.candidate)];
    if let Some(b) = &t.baseline {
        let name = s.baseline_submission.as_deref().unwrap_or("baseline");
        samples.push((format!("baseline `{name}`"), b));
    }
    let unit = TimeUnit::for_ms(
        samples
            .iter()
            .map(|(_, x)| x.max_ms.abs())
            .fold(0.0, f64::max),
    );
    let _ = writeln!(out, "| sample | n | mean ± sd | median | min … max |");
    let _ = writeln!(out, "|:---|---:|---:|---:|---:|");
    for (label, x) in &samples {
        let mean_sd = match x.sd_ms {
            Some(sd) => format!("{} ± {}", unit.fmt(x.mean_ms), unit.fmt(sd)),
            None => unit.fmt(x.mean_ms),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} … {} |",
            cell(label),
            x.n,
            mean_sd,
            unit.fmt(x.median_ms),
            unit.fmt(x.min_ms),
            unit.fmt(x.max_ms)
        );
    }
    out.push('\n');

    if let Some(e) = &t.comparison_error {
        let _ = writeln!(out, "No comparison: {e}.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Comparison, H1: the candidate is faster (one-sided tests):\n"
    );
    let _ = writeln!(
        out,
        "| change | 95% CI (change) | 95% CI (difference) | Welch t (df) | p | Hedges' g | Mann-Whitney p |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let diff_unit = TimeUnit::for_ms(
        t.ci95_diff_ms
            .map_or(0.0, |[lo, hi]| lo.abs().max(hi.abs())),
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |",
        opt(t.change_pct, |c| format!("{c:+.2}%")),
        opt(t.ci95_change_pct, |[lo, hi]| format!(
            "[{lo:+.2}%, {hi:+.2}%]"
        )),
        opt(t.ci95_diff_ms, |[lo, hi]| format!(
            "[{}, {}]",
            diff_unit.fmt(lo),
            diff_unit.fmt(hi)
        )),
        match (t.welch_t, t.welch_df) {
            (Some(tt), Some(df)) => format!("{tt:.2} ({df:.1})"),
            _ => NONE.to_owned(),
        },
        p_vs(t.p_value, s.threshold),
        opt(t.effect_size, |g| format!("{g:.2}")),
        opt(t.mann_whitney_p, fmt_p),
    );
    out.push('\n');
}

fn loss_section(out: &mut String, s: &Summary, l: &LossStats) {
    let _ = writeln!(out, "## Validation loss\n");
    let _ = writeln!(
        out,
        "Final validation loss of the finished candidate runs, H1: the mean is below the target (one-sided t-test):\n"
    );
    let _ = writeln!(
        out,
        "| n | mean ± sd | target | floor | t (df) | p | held-out mean | held-out − public |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mean_sd = match l.sd {
        Some(sd) => format!("{} ± {}", fmt_loss(l.mean), fmt_loss(sd)),
        None => fmt_loss(l.mean),
    };
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        l.n,
        mean_sd,
        fmt_loss(s.target_val_loss),
        opt(s.loss_floor, fmt_loss),
        match (l.t, l.df) {
            (Some(t), Some(df)) => format!("{t:.2} ({df:.1})"),
            _ => NONE.to_owned(),
        },
        p_vs(l.p_value, s.threshold),
        opt(l.heldout_mean, fmt_loss),
        opt(l.heldout_gap, fmt_loss),
    );
    out.push('\n');
    if let Some(e) = &l.test_error {
        let _ = writeln!(out, "No loss test: {e}.\n");
    }
}

fn checks_section(out: &mut String, s: &Summary) {
    let _ = writeln!(out, "## Checks\n");
    if s.checks.is_empty() {
        let _ = writeln!(out, "No checks recorded.");
        return;
    }
    let _ = writeln!(out, "| check | result | detail |");
    let _ = writeln!(out, "|:---|:---|:---|");
    for c in &s.checks {
        // A failed pin only makes the bundle unofficial; say so where it shows.
        let result = match (c.passed, c.name.is_pin()) {
            (true, _) => "ok",
            (false, false) => "FAIL",
            (false, true) => "FAIL (unofficial)",
        };
        let _ = writeln!(out, "| {} | {} | {} |", c.name, result, cell(&c.detail));
    }
    if !s.not_run.is_empty() {
        let _ = writeln!(
            out,
            "\nChecks that could not run (the submission reported its own clock and loss):\n"
        );
        for n in &s.not_run {
            let _ = writeln!(out, "- `{}`: {}", n.name, n.why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_fold_lines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn p_values_sit_beside_their_threshold() {
        assert_eq!(p_vs(Some(2.1434e-6), 0.01), "2.143e-6 < 0.01");
        assert_eq!(p_vs(Some(0.25), 0.01), "0.2500 ≥ 0.01");
        assert_eq!(p_vs(None, 0.01), NONE);
    }
}
