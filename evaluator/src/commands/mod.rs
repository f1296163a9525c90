//! One module per subcommand. Each holds its clap `Args` and a `run` that returns the
//! process exit code; the binary's `main.rs` only parses and dispatches.

pub mod audit;
pub mod certify;
pub mod data;
pub mod env;
pub mod export;
pub mod fenced;
pub mod keygen;
pub mod nightly;
pub mod records;
pub mod run;
pub mod sign;
pub mod submission;
pub mod verify;

use std::io::Write;
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

/// Writes to stdout; a closed pipe (`speedcert records show | head`) ends output
/// quietly instead of panicking as `print!` would.
pub fn out(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
