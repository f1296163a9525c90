//! Audits the NanoGPT speedrun's published records from their raw logs.
//!
//! The speedrun (github.com/KellerJordan/modded-nanogpt) keeps, for every record, a
//! folder `records/<track>/<date>_<name>/` (track 3: `records/track_3_optimization/
//! results/`) with the logs of the runs behind it,
//! sometimes split into `this_pr/` and `baseline/`, sometimes with a `statistics.md`
//! stating the mean loss, the p-value and the times. This crate re-derives those
//! figures from the logs alone and grades, per record, how well the published
//! evidence supports it:
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
//! Pipeline, run by [`audit`] (each step a module; none uses a later one):
//!
//! - [`tracks`]: the speedrun's tracks, their targets and objectives; [`options`]:
//!   how to audit; [`error`]: why an audit cannot run.
//! - [`discover`] finds the track and record folders and their files;
//!   [`logfile`] reads each log, which [`parse`] parses (tolerating two years of
//!   format changes); [`problem`] classifies files that are not finished runs
//!   (reported by path, never fatal); `duplicates` finds copies of a run.
//! - [`sample`] groups a record's runs into samples with their statistics;
//!   [`claims`] reads what the authors state; `matching` ties each claim block to a
//!   sample; [`select`] picks the candidate and baseline; [`check`] checks each
//!   stated figure; `grade` decides the record's [`Support`].
//! - [`report`] holds the one result, [`AuditReport`]; [`export`] writes markdown,
//!   CSV and JSON from it.

pub mod audit;
pub mod check;
pub mod claims;
mod dates;
pub mod discover;
mod duplicates;
pub mod error;
pub mod export;
mod grade;
pub mod logfile;
mod matching;
pub mod options;
pub mod parse;
mod paths;
pub mod problem;
pub mod report;
pub mod sample;
pub mod select;
pub mod support;
pub mod tracks;

pub use audit::audit_modded_nanogpt;
pub use check::{ClaimCheck, UncheckedClaim};
pub use claims::{ClaimBlock, Quantity, Stated};
pub use discover::Skipped;
pub use error::AuditError;
pub use export::{Written, to_csv, to_json, to_markdown, write_outputs};
pub use logfile::{is_log_file, read_log};
pub use options::Options;
pub use parse::{LineDefect, LogFormat, RunLog, ValPoint, parse_log, parse_trials};
pub use problem::{LogProblem, ProblemKind, problem_of};
pub use report::{AuditReport, RecordAudit, Totals, TrackCoverage};
pub use sample::{BASELINE_WORDS, Environment, Role, Run, Sample};
pub use select::SUBMITTED_WORDS;
pub use support::Support;
pub use tracks::{Objective, TRACKS, TrackSpec};
