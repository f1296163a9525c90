//! The submission contract, as the evaluator uses it: defined once in `speedcert-sdk`
//! (the crate a submitter depends on) and re-exported here for the harness and the
//! built-in submissions.

pub use speedcert_sdk::reference;
pub use speedcert_sdk::{
    Family, InitContext, Ranks, StepReport, Submission, SubmissionError, TrackView,
};
