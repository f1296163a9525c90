//! speedcert's evaluator: tracks, the reference model, submissions, the timed harness,
//! anti-gaming checks, certification, and the command line on top of them.
//!
//! The command layer (`cli`, `commands`) is in the library, not the binary, so that a
//! submitter's crate (or the adversarial test binary) builds the same `speedcert` with
//! its own submissions registered: see [`cli::main_with`].

pub mod alloc;
pub mod backend;

pub mod causality;
pub mod certify;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod crew;
pub mod data;
pub mod envinfo;
pub mod fence;
pub mod harness;
pub mod memory;
pub use speedcert_sdk::model;
pub mod nightly;
pub mod outside;
pub mod parity;
pub mod provenance;
pub mod registry;
pub mod submission;
pub mod telemetry;
pub mod threads;
pub use speedcert_track as track;
