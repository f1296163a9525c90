//! Grading a record: the [`Support`] its logs give its claim, and the reason in
//! words, first matching rule wins.

use std::collections::BTreeMap;

use speedcert_stats::format::fmt_p;

use crate::check::ClaimCheck;
use crate::options::Options;
use crate::problem::LogProblem;
use crate::report::RecordAudit;
use crate::support::Support;
use crate::tracks::Objective;

/// How well the record's claim is supported, and why: no finished run → logs
/// missing; a stated figure disagrees → claims disagree; the record's loss claim
/// lists runs none of whose logs are in the folder → logs missing; one run → single
/// run; loss p < threshold and (no baseline, or time p < threshold) → evidence
/// sufficient; else insufficient. Reads everything of `r` but its verdict.
pub(crate) fn grade(r: &RecordAudit, options: &Options) -> (Support, String) {
    let Some(c) = r.candidate_sample() else {
        let why = if r.log_files == 0 {
            "no log files in the folder".to_string()
        } else {
            let mut why = format!(
                "none of the {} log files holds a finished run of its own ({})",
                r.log_files,
                summarize_problems(&r.problems)
            );
            if let Some(d) = &r.duplicates_note {
                why.push_str(&format!("; {d}"));
            }
            why
        };
        return (Support::LogsMissing, why);
    };
    let bad: Vec<&ClaimCheck> = r
        .claims
        .iter()
        .filter(|c| c.agrees == Some(false))
        .collect();
    if !bad.is_empty() {
        let first: Vec<String> = bad
            .iter()
            .take(3)
            .map(|b| {
                format!(
                    "{} stated {} ({}:{}), logs give {}",
                    b.quantity.as_str(),
                    b.stated,
                    b.source,
                    b.line,
                    b.ours.map_or("nothing".into(), |o| b.shown(o)),
                )
            })
            .collect();
        return (
            Support::ClaimsDisagree,
            format!(
                "{} of {} checked figures disagree: {}",
                bad.len(),
                r.claims_checked(),
                first.join("; ")
            ),
        );
    }
    if let Some(why) = &r.claims_without_logs {
        let logs = match &c.loss_test {
            Some(t) => format!(
                "; the {} logs of {} give loss p = {}",
                c.n(),
                c.label,
                fmt_p(t.p)
            ),
            None => format!("; {} has {} finished run(s)", c.label, c.n()),
        };
        return (Support::LogsMissing, format!("{why}{logs}"));
    }
    if c.n() == 1 {
        return (
            Support::SingleRun,
            format!("one finished run in {}", c.label),
        );
    }
    let Some(t) = &c.loss_test else {
        return (
            Support::Insufficient,
            format!(
                "loss test not possible: {}",
                c.loss_test_error.as_deref().unwrap_or("unknown")
            ),
        );
    };
    let th = options.threshold;
    let loss_ok = t.p < th;
    let mut reason = format!(
        "loss p = {} {} {th} (n = {})",
        fmt_p(t.p),
        if loss_ok { "<" } else { "≥" },
        c.n()
    );
    if r.objective == Objective::Steps
        && let Some(steps) = c.total_steps
    {
        reason = format!("{steps} steps to target {}: {reason}", r.target_loss);
    }
    let mut time_ok = true;
    if let Some(b) = r.baseline_sample() {
        match &r.time_comparison {
            Some(cmp) => {
                time_ok = cmp.welch_less.p < th;
                reason.push_str(&format!(
                    "; time vs {}: p = {} {} {th}",
                    b.label,
                    fmt_p(cmp.welch_less.p),
                    if time_ok { "<" } else { "≥" }
                ));
            }
            None => {
                time_ok = false;
                reason.push_str(&format!(
                    "; time vs {}: no test ({})",
                    b.label,
                    r.time_comparison_error.as_deref().unwrap_or("unknown")
                ));
            }
        }
    }
    if loss_ok && time_ok {
        (Support::EvidenceSufficient, reason)
    } else {
        (Support::Insufficient, reason)
    }
}

fn summarize_problems(problems: &[LogProblem]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for p in problems {
        *kinds.entry(p.kind.as_str()).or_default() += 1;
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
