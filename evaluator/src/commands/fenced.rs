//! `speedcert fenced -- CMD...` (hidden): fences its own new, single-threaded process and
//! then becomes CMD. This is how certify fences a command submission's run, whose code
//! is not a runner that could fence itself before its first line.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::fence::{FenceSpec, Network};

/// Exit codes of its own, as env(1) has: the fence could not be set (CMD never ran), or
/// CMD could not be started.
pub mod exit {
    pub const FENCE_FAILED: u8 = 125;
    pub const NOT_STARTED: u8 = 127;
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A folder the command may read (repeat), besides the system folders.
    #[arg(long, value_name = "DIR")]
    pub read: Vec<PathBuf>,
    /// A folder the command may write (repeat).
    #[arg(long, value_name = "DIR")]
    pub write: Vec<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Landlock skips a rule for a path that is not there; a fence asked for a folder
    // that does not exist is not the fence asked for.
    if let Some(missing) = args.read.iter().chain(&args.write).find(|p| !p.is_dir()) {
        eprintln!(
            "speedcert fenced: {} is not a folder; the command did not run",
            missing.display()
        );
        return Ok(ExitCode::from(exit::FENCE_FAILED));
    }
    let spec = FenceSpec {
        read: args.read,
        write: args.write,
        network: Network::Loopback,
    };
    if let Err(e) = crate::fence::apply(&spec) {
        eprintln!("speedcert fenced: {e}; the command did not run");
        return Ok(ExitCode::from(exit::FENCE_FAILED));
    }
    let e = std::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .exec();
    eprintln!(
        "speedcert fenced: could not start `{}`: {e}",
        args.command[0].to_string_lossy()
    );
    Ok(ExitCode::from(exit::NOT_STARTED))
}
