//! The audit's result: one [`AuditReport`] holding every record's [`RecordAudit`],
//! from which every export (markdown, CSV, JSON: [`crate::export`]) is written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use speedcert_stats::Comparison;

use crate::check::{ClaimCheck, UncheckedClaim};
use crate::discover::Skipped;
use crate::options::Options;
use crate::problem::{LogProblem, ProblemKind};
use crate::sample::Sample;
use crate::support::Support;
use crate::tracks::Objective;

/// What the audit covered of one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackCoverage {
    /// Track folder name ("track_1_short"; the folder's own name when it is not a
    /// known track).
    pub track: String,
    pub target_loss: f64,
    pub objective: Objective,
    /// The folder holding its records, relative to the folder audited.
    pub records_dir: String,
    pub records: usize,
    pub log_files: usize,
    pub skipped: Vec<Skipped>,
}

/// The audit of one record folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordAudit {
    /// Track folder name ("track_1_short").
    pub track: String,
    pub objective: Objective,
    /// The loss its runs are tested against.
    pub target_loss: f64,
    /// Folder name, e.g. "2026-07-17_FP8DownProjection" (a log's file name for a
    /// log that sits directly in the track's records folder).
    pub record: String,
    /// The date the folder name starts with (often not the date the record was
    /// published in the speedrun's README).
    pub folder_date: Option<String>,
    /// `.txt`/`.log` files found.
    pub log_files: usize,
    /// Finished runs among them.
    pub complete_runs: usize,
    pub samples: Vec<Sample>,
    /// Index into `samples` of the record's submitted runs.
    pub candidate: Option<usize>,
    /// Index into `samples` of the same-hardware baseline, if the record has one.
    pub baseline: Option<usize>,
    /// Candidate time against baseline time.
    pub time_comparison: Option<Comparison>,
    pub time_comparison_error: Option<String>,
    pub claims: Vec<ClaimCheck>,
    pub unchecked_claims: Vec<UncheckedClaim>,
    /// Set when the record's evidence claim lists runs that have no logs in the
    /// folder (and no other evidence claim matches the logs): why the verdict is
    /// "logs missing" although some logs exist.
    pub claims_without_logs: Option<String>,
    /// How well the record's claim is supported by its logs.
    pub verdict: Support,
    pub verdict_reason: String,
    pub problems: Vec<LogProblem>,
    /// Logs left out as copies of runs counted elsewhere, in words, naming them.
    pub duplicates_note: Option<String>,
}

impl RecordAudit {
    pub fn candidate_sample(&self) -> Option<&Sample> {
        self.candidate.map(|i| &self.samples[i])
    }

    pub fn baseline_sample(&self) -> Option<&Sample> {
        self.baseline.map(|i| &self.samples[i])
    }

    /// Stated figures that could be compared with the logs.
    pub fn claims_checked(&self) -> usize {
        self.claims.iter().filter(|c| c.agrees.is_some()).count()
    }

    /// Stated figures the logs contradict.
    pub fn claims_disagreeing(&self) -> usize {
        self.claims
            .iter()
            .filter(|c| c.agrees == Some(false))
            .count()
    }

    /// Stated figures not compared: blocks tied to no sample, and figures with
    /// nothing to compare with.
    pub fn claims_unchecked(&self) -> usize {
        self.unchecked_claims.len() + self.claims.iter().filter(|c| c.agrees.is_none()).count()
    }

    /// Logs left out as copies of runs counted elsewhere (also among `problems`).
    pub fn duplicates(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Duplicate)
            .count()
    }
}

/// Counts over the whole audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub records: usize,
    pub log_files: usize,
    /// Finished runs, each counted once (duplicates are problems, not runs).
    pub complete_runs: usize,
    pub duplicates: usize,
    pub problems: usize,
    pub claims_checked: usize,
    pub claims_disagreeing: usize,
    /// Records per [`Support`] word, every word present (0 if none).
    pub by_verdict: BTreeMap<String, usize>,
}

impl Totals {
    /// The counts over `records`.
    pub fn of(records: &[RecordAudit]) -> Totals {
        let mut totals = Totals {
            records: records.len(),
            ..Totals::default()
        };
        for v in Support::ALL {
            totals.by_verdict.insert(v.as_str().to_string(), 0);
        }
        for r in records {
            totals.log_files += r.log_files;
            totals.complete_runs += r.complete_runs;
            totals.problems += r.problems.len();
            totals.duplicates += r.duplicates();
            totals.claims_checked += r.claims_checked();
            totals.claims_disagreeing += r.claims_disagreeing();
            *totals
                .by_verdict
                .entry(r.verdict.as_str().to_string())
                .or_default() += 1;
        }
        totals
    }
}

/// The result of an audit: every record, in folder order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub tool: String,
    /// The folder audited, as given.
    pub records_dir: String,
    pub options: Options,
    /// Per track: what was audited and what was skipped.
    pub tracks: Vec<TrackCoverage>,
    pub totals: Totals,
    pub records: Vec<RecordAudit>,
}

impl AuditReport {
    /// Every file problem, in record order.
    pub fn problems(&self) -> impl Iterator<Item = &LogProblem> {
        self.records.iter().flat_map(|r| r.problems.iter())
    }
}
