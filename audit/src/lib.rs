//! Audits the NanoGPT speedrun's published records from their raw logs.
//!
//! The speedrun (github.com/KellerJordan/modded-nanogpt) keeps, for every record, a
//! folder `records/<track>/<date>_<name>/` (track 3: `records/track_3_optimization/
//! results/`) with the logs of the runs behind it,
//! sometimes split into `this_pr/` and `baseline/`, sometimes with a `statistics.md`
//! stating the mean loss, the p-value and the times. This crate re-derives those
//! figures from the logs alone and says, per record, whether the published evidence
//! holds up:
//!
//! ```no_run
//! use speedcert_audit::{Options, audit_modded_nanogpt, write_outputs};
//! let report = audit_modded_nanogpt("modded-nanogpt/records".as_ref(),
//!                                   &Options::default())?;
//! for r in &report.records {
//!     println!("{}/{}: {}", r.track, r.record, r.verdict);
//! }
//! write_outputs(&report, "out".as_ref(), "modded-nanogpt-audit", true)?;
//! # Ok::<(), speedcert_audit::AuditError>(())
//! ```
//!
//! Pipeline: [`parse`] reads each log (tolerating two years of format changes);
//! [`problem`] classifies files that are not finished runs (reported by path, never
//! fatal); [`audit`] groups runs into samples, picks each record's candidate and
//! baseline, runs the tests of `speedcert-stats`, checks the [`claims`] and decides a
//! [`Verdict`]; [`report`] writes markdown, CSV and JSON from the one result.

pub mod audit;
pub mod claims;
pub mod parse;
pub mod problem;
pub mod report;

pub use audit::{
    AuditError, AuditReport, ClaimCheck, Environment, Objective, Options, RecordAudit, Role, Run,
    Sample, Skipped, TRACKS, Totals, TrackCoverage, TrackSpec, UncheckedClaim, Verdict,
    audit_modded_nanogpt, is_log_file, read_log,
};
pub use claims::{ClaimBlock, Quantity, Stated};
pub use parse::{LineDefect, LogFormat, RunLog, ValPoint, parse_log, parse_trials};
pub use problem::{LogProblem, ProblemKind, problem_of};
pub use report::{Written, to_csv, to_json, to_markdown, write_atomic, write_outputs};
