//! speedcert-bundle: the certification bundle, the product's contract
//! (docs/bundle-format.md).
//!
//! One crate owns what a bundle is, so the evaluator writes it and analysis reads it
//! through the same types, and `verify`, `certify --collect` and `records rebuild` judge
//! it with the same code. No burn here: tables and verification build anywhere.
//!
//! - [`layout`]: every file name and path;
//! - [`run`], [`steps`], [`gpu`], [`env`], [`plan`]: the raw files the runs leave;
//! - [`check`], [`verdict`], [`version`]: typed check ids, the verdict vocabulary, the
//!   summary schema versions;
//! - [`inputs`]: a bundle's raw files, read for recomputation, and [`consistency`]: the
//!   cross-checks between them;
//! - [`figures`], [`checks`], [`summary`], [`drift`]: the pure computations from them;
//! - [`ledger`]: the certifier's signed log of every certification attempt;
//! - [`journal`]: the plan and run seals signed as a certification happens;
//! - [`predicate`]: the signed in-toto predicate and [`seal`];
//! - [`source`]: a submission's source, digested, shipped and checked;
//! - [`command`]: command submissions, whose clock and loss come from their own log;
//! - [`verify`]: attestation plus recomputation, by the rules of the bundle's schema;
//! - [`export`]: the summary and its runs as JSON, CSV, markdown and MLPerf `:::MLLOG` lines;
//! - [`io`]: reading and atomically writing the JSON files.

pub mod check;
pub mod checks;
pub mod command;
pub mod consistency;
pub mod drift;
pub mod env;
pub mod export;
pub mod figures;
pub mod gpu;
pub mod inputs;
pub mod io;
pub mod journal;
pub mod layout;
pub mod ledger;
pub mod plan;
pub mod predicate;
pub mod run;
pub mod source;
pub mod steps;
pub mod summary;
pub mod verdict;
pub mod verify;
pub mod version;

pub use check::{CheckId, CheckResult};
pub use inputs::BundleInputs;
pub use io::BundleError;
pub use predicate::{Predicate, seal};
pub use summary::Summary;
pub use verdict::Verdict;
pub use verify::verify_bundle;
pub use version::SummaryVersion;
