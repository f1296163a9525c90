//! One module per subcommand. Each holds its clap `Args` and a `run` that returns the
//! process exit code; the binary's `main.rs` only parses and dispatches.

pub mod audit;
pub mod certify;
pub mod data;
pub mod env;
pub mod export;
pub mod keygen;
pub mod nightly;
pub mod records;
pub mod run;
pub mod sign;
pub mod verify;

use std::process::ExitCode;

/// Exit codes shared by every command (DESIGN.md, Command line).
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    /// A verdict or check that failed: not a new record, tampered bundle, drift, pin mismatch.
    pub const FAILED_VERDICT: u8 = 3;
}

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
