//! The audit's pipeline: find every record's logs and claims, group runs into
//! samples, test them, compare with what the authors state, and grade each record.
//! Each step is a module of its own; this one only runs them in order.
//!
//! Rules, in the order they apply to one record folder:
//!
//! 1. **Runs** ([`crate::discover`], [`crate::logfile`], `duplicates`).
//!    Every `.txt`/`.log` file (also gzipped) is parsed; finished runs (a
//!    validation loss at step N of N) are kept, other files are
//!    [`LogProblem`](crate::LogProblem)s.
//! 2. **Samples** ([`crate::sample`]). Runs are grouped by subfolder (`seed_N/`
//!    folders merged), role, printed script (fingerprint), scheduled steps (track 3:
//!    final step) and GPU count; a claim list matching runs of several scripts pools
//!    them as the authors did. Copies of a run (here or in another record) are
//!    counted once. The role is *baseline* when the subfolder (or, for files in the
//!    record folder itself, the file name) contains one of
//!    [`BASELINE_WORDS`](crate::BASELINE_WORDS), else *candidate*.
//! 3. **Claims** ([`crate::claims`], `matching`). `statistics.md` files and
//!    README code blocks are read. A block that lists per-run values is tied to the
//!    sample holding most of those runs (matched by loss to 4 decimals and time to the
//!    ms). If every listed run has a log but the folder holds more, the listed runs
//!    become a sample of their own: the authors have said which runs their figures
//!    are about.
//! 4. **Candidate** ([`crate::select`]). Among candidate-role folder samples (all
//!    samples if there are none): on the track's GPU count; fewest steps (records cut
//!    steps; discarded versions ran longer); a folder named like the submission
//!    ([`SUBMITTED_WORDS`](crate::SUBMITTED_WORDS)); most runs; the last folder name
//!    (this_pr_v3 after this_pr_v2). Then, if claims singled out runs of that sample,
//!    the largest such listed subset.
//! 5. **Baseline** ([`crate::select`]). Among baseline-role folder samples on the
//!    candidate's GPU count (so the time comparison is same-hardware): most steps
//!    (the unchanged previous record, not a step-cut ablation); a label saying
//!    "baseline"; most runs; the last folder name.
//! 6. **Statistics** ([`crate::sample`], here). Per sample: summary of final loss and
//!    train time, one-sided one-sample t-test of the loss against the target.
//!    Candidate against baseline: [`speedcert_stats::compare`] of times (Welch,
//!    bootstrap CI, effect size, Mann–Whitney).
//! 7. **Claim checks** ([`crate::check`]). Each stated figure against the same
//!    statistic of its sample, within the written precision; a block whose runs have
//!    no logs is still checked against its own listed values.
//! 8. **Grade** (`grade`, a [`Support`]), first match wins:
//!    no finished run → logs missing; a stated figure disagrees → claims disagree;
//!    the record's loss claim lists runs none of whose logs are in the folder → logs
//!    missing; one run → single run; loss p < threshold and (no baseline, or time
//!    p < threshold) → evidence sufficient; else insufficient.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use speedcert_stats::compare;

use crate::check::{ClaimContext, check_claims};
use crate::claims::read_claims;
use crate::dates::record_date;
use crate::discover::{RecordPlan, TrackPlan, plan_tracks};
use crate::duplicates::find_duplicates;
use crate::error::AuditError;
use crate::grade::grade;
use crate::logfile::{LogEntry, Parsed, is_log_file, read_and_parse};
use crate::matching::{pool_listed_scripts, tie_blocks};
use crate::options::Options;
use crate::paths::relative;
use crate::report::{AuditReport, RecordAudit, Totals, TrackCoverage};
use crate::sample::{Sample, form_samples};
use crate::select::pick;
use crate::support::Support;

/// Audits a modded-nanogpt records folder: the repository's `records/` (every
/// `track_*` folder in it, each with its own target, objective and claim formats),
/// one track folder (`records/track_1_short`), or any folder of record folders.
/// Each record folder is one record; a log lying directly in a track's records
/// folder is a record of its own; every other file or folder not read is listed in
/// [`AuditReport::tracks`] with the reason.
///
/// Fails only if the folder cannot be listed; unreadable or unparseable logs are
/// reported in the result.
pub fn audit_modded_nanogpt(
    records_dir: &Path,
    options: &Options,
) -> Result<AuditReport, AuditError> {
    let plans = plan_tracks(records_dir, options)?;

    // List every file first, then parse all logs in parallel.
    let mut entries: Vec<(usize, usize, PathBuf)> = Vec::new();
    for (t, plan) in plans.iter().enumerate() {
        for (r, rec) in plan.records.iter().enumerate() {
            for f in rec.files.iter().filter(|f| is_log_file(f)) {
                entries.push((t, r, f.clone()));
            }
        }
    }
    let parsed: Vec<Parsed> = entries
        .par_iter()
        .map(|(t, _, path)| read_and_parse(path, plans[*t].spec.objective))
        .collect();
    let owners = find_duplicates(&plans, &entries, &parsed, records_dir);

    let mut per_record: Vec<Vec<Vec<LogEntry>>> = plans
        .iter()
        .map(|p| p.records.iter().map(|_| Vec::new()).collect())
        .collect();
    for (i, ((t, r, path), result)) in entries.iter().zip(parsed).enumerate() {
        per_record[*t][*r].push(LogEntry {
            file: relative(records_dir, path),
            inner: relative(&plans[*t].records[*r].dir, path),
            parsed: result,
            duplicate_of: owners[i].clone(),
        });
    }

    let mut records = Vec::new();
    let mut tracks = Vec::new();
    for (plan, logs) in plans.iter().zip(per_record) {
        let track_options = Options {
            target_loss: plan.target_loss,
            ..options.clone()
        };
        let before = records.len();
        for (rec, logs) in plan.records.iter().zip(logs) {
            records.push(audit_record(records_dir, plan, rec, logs, &track_options));
        }
        tracks.push(TrackCoverage {
            track: plan.name.clone(),
            target_loss: plan.target_loss,
            objective: plan.spec.objective,
            records_dir: relative(records_dir, &plan.root),
            records: records.len() - before,
            log_files: records[before..].iter().map(|r| r.log_files).sum(),
            skipped: plan.skipped.clone(),
        });
    }

    Ok(AuditReport {
        tool: format!("speedcert-audit {}", env!("CARGO_PKG_VERSION")),
        records_dir: records_dir.display().to_string(),
        options: options.clone(),
        tracks,
        totals: Totals::of(&records),
        records,
    })
}

/// Audits one record from its parsed logs (`options` carry the track's target).
fn audit_record(
    base: &Path,
    plan: &TrackPlan,
    rec: &RecordPlan,
    logs: Vec<LogEntry>,
    options: &Options,
) -> RecordAudit {
    let name = rec.name.as_str();
    let objective = plan.spec.objective;
    let log_files = logs.len();
    let formed = form_samples(logs, objective, options);
    let blocks = read_claims(base, &rec.files);
    let mut samples = pool_listed_scripts(formed.samples, &blocks, name, options);
    let complete_runs = samples.iter().map(Sample::n).sum();

    // Claims first: a list of per-run values whose runs all have logs tells exactly
    // which runs a claim is about, and may single out part of a folder.
    let tied = tie_blocks(&blocks, &mut samples, name, options);
    let (candidate, baseline) = pick(&samples, objective, options);

    let (time_comparison, time_comparison_error) = match (candidate, baseline) {
        (Some(c), Some(b)) => {
            match compare(&samples[c].times(), &samples[b].times(), &options.bootstrap) {
                Ok(cmp) => (Some(cmp), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        _ => (None, None),
    };

    let ctx = ClaimContext {
        samples: &samples,
        candidate,
        baseline,
        time_comparison: time_comparison.as_ref(),
        options,
    };
    let checked = check_claims(&blocks, tied, name, &ctx);

    let mut audit = RecordAudit {
        track: plan.name.clone(),
        objective,
        target_loss: options.target_loss,
        record: name.to_string(),
        folder_date: record_date(name),
        log_files,
        complete_runs,
        samples,
        candidate,
        baseline,
        time_comparison,
        time_comparison_error,
        claims: checked.claims,
        unchecked_claims: checked.unchecked,
        claims_without_logs: checked.claims_without_logs,
        // Graded below, from everything else.
        verdict: Support::LogsMissing,
        verdict_reason: String::new(),
        problems: formed.problems,
        duplicates_note: crate::duplicates::note(&formed.duplicates),
    };
    let (verdict, reason) = grade(&audit, options);
    audit.verdict = verdict;
    audit.verdict_reason = reason;
    audit
}
