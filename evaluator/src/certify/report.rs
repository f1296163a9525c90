//! The printed certification report, in the manner of hyperfine and criterion.rs:
//! aligned columns, units on every number, n beside each figure, the interval and the
//! p-value next to its threshold, and one line a person can quote.

use std::fmt::Write;

use speedcert_stats::format::{fmt_loss, fmt_ms, fmt_p};

use super::plan::TimeBaseline;
use super::summary::{Summary, TimeSample};

fn sample_line(label: &str, s: &TimeSample) -> String {
    format!(
        "  {label:<10} {:>10} ± {:>9}   range {} … {}   n = {}",
        fmt_ms(s.mean_ms),
        s.sd_ms.map(fmt_ms).unwrap_or_else(|| "-".into()),
        fmt_ms(s.min_ms),
        fmt_ms(s.max_ms),
        s.n
    )
}

fn p_vs(p: Option<f64>, threshold: f64) -> String {
    match p {
        Some(p) if p < threshold => format!("p = {} < {threshold}", fmt_p(p)),
        Some(p) => format!("p = {} >= {threshold}", fmt_p(p)),
        None => "p = n/a".to_owned(),
    }
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let against = match (&s.comparison, &s.baseline_submission) {
        (TimeBaseline::SameMachine, Some(b)) => {
            format!(" vs {b} (rerun on this machine, interleaved)")
        }
        (TimeBaseline::StoredRecord, Some(b)) => format!(" vs {b} (stored record times)"),
        _ => " (no baseline)".to_owned(),
    };
    let _ = writeln!(out, "{} · {}{against}", s.track, s.submission);
    if let Some(clock @ speedcert_bundle::command::Clock::SelfReported) = s.clock {
        let _ = writeln!(out, "  {:<10} {}", "clock", clock.label());
    }
    if let Some(t) = &s.time {
        let _ = writeln!(out, "{}", sample_line("time", &t.candidate));
        if let Some(b) = &t.baseline {
            let _ = writeln!(out, "{}", sample_line("baseline", b));
        }
        if let Some(p) = &t.paired {
            let _ = writeln!(
                out,
                "  {:<10} {:>10} ± {:>9}   95% CI [{} {}]   ({}, paired t over {} pairs{})   r = {}",
                "pairs",
                fmt_ms(p.mean_diff_ms),
                fmt_ms(p.sd_diff_ms),
                fmt_ms(p.ci95_diff_ms[0]),
                fmt_ms(p.ci95_diff_ms[1]),
                p_vs(Some(p.p_value), s.threshold),
                p.pairs,
                if p.broken_pairs > 0 {
                    format!(", {} left out with a failed run", p.broken_pairs)
                } else {
                    String::new()
                },
                p.correlation
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "-".into())
            );
        }
        if let (Some(ci), Some(change)) = (t.ci95_change_pct, t.change_pct) {
            // Before summary v3 the deciding p is Welch's; from v3 on Welch's is reported
            // beside the paired one.
            let welch = t.welch_p.or(t.p_value);
            let _ = writeln!(
                out,
                "  {:<10} [{:+.2}% {:+.2}% {:+.2}%]   Welch {}   Mann-Whitney {}   Hedges' g = {:.2}",
                "change",
                ci[0],
                change,
                ci[1],
                p_vs(welch, s.threshold),
                p_vs(t.mann_whitney_p, s.threshold),
                t.effect_size.unwrap_or(f64::NAN)
            );
        }
        if let Some(e) = &t.comparison_error {
            let _ = writeln!(out, "  {:<10} not computed: {e}", "change");
        }
        if let Some(m) = &t.mde {
            let _ = writeln!(
                out,
                "  {:<10} {:>10}{}   smallest speed-up these runs detect with power {} at {}",
                "detectable",
                fmt_ms(m.ms),
                m.pct.map(|p| format!(" ({p:.2}%)")).unwrap_or_default(),
                m.power,
                m.alpha
            );
        }
    }
    if let Some(l) = &s.loss {
        let floor = s
            .loss_floor
            .map(|f| format!(", floor {}", fmt_loss(f)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<10} {:>10} ± {:>9}   target {}{floor}   ({})   n = {}",
            "val loss",
            fmt_loss(l.mean),
            l.sd.map(fmt_loss).unwrap_or_else(|| "-".into()),
            fmt_loss(s.target_val_loss),
            p_vs(l.p_value, s.threshold),
            l.n
        );
        if let (Some(h), Some(gap)) = (l.heldout_mean, l.heldout_gap) {
            let _ = writeln!(
                out,
                "  {:<10} {h:>10.4}   gap to public {gap:+.4}",
                "held-out"
            );
        }
    }
    let r = &s.runs;
    let _ = writeln!(
        out,
        "  {:<10} candidate {}/{} finished, baseline {}/{} finished",
        "runs",
        r.candidate - r.candidate_failed,
        r.candidate,
        r.baseline - r.baseline_failed,
        r.baseline
    );
    for f in &r.failures {
        let _ = writeln!(out, "  {:<10} {f}", "failed");
    }
    for c in &s.checks {
        let _ = writeln!(
            out,
            "  {:<10} {:<4} {:<20} {}",
            "check",
            if c.passed { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    for n in &s.not_run {
        let _ = writeln!(
            out,
            "  {:<10} {:<4} {:<20} {}",
            "check", "n/a", n.name, n.why
        );
    }
    out.push_str(&render_capabilities(&s.capabilities));
    let _ = writeln!(out);
    let _ = writeln!(out, "Verdict: {} — {}", s.verdict, s.verdict_detail);
    out
}

/// The capability report of each submission built from a folder: where in its shipped
/// source a reviewer should read (the fence does not contain `unsafe` or build-time code).
pub fn render_capabilities(caps: &[speedcert_bundle::source::SourceCapabilities]) -> String {
    let mut out = String::new();
    for c in caps {
        let digest = c.source_sha256.get(..16).unwrap_or(&c.source_sha256);
        if c.found.is_empty() {
            let _ = writeln!(
                out,
                "source of {} ({digest}): no unsafe, FFI, build script, proc-macro or std::fs/net/process/env",
                c.submission
            );
            continue;
        }
        let _ = writeln!(
            out,
            "source of {} ({digest}): {} place(s) to read, in source/{}/",
            c.submission,
            c.found.len(),
            c.source_sha256
        );
        for f in &c.found {
            let at = if f.line == 0 {
                f.file.clone()
            } else {
                format!("{}:{}", f.file, f.line)
            };
            let _ = writeln!(out, "  {:<13} {at}", f.kind);
        }
    }
    out
}
