//! `speedcert fenced -- CMD...` (hidden): fences its own new, single-threaded process and
//! then becomes CMD. This is how the referee fences every run of code not its own: a
//! runner, a built-in run on a track that requires fences, a command submission
//! ([`crate::fence::wrap`]). The fence is set before CMD's first instruction.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::fence::{FENCES_ENV, FenceSpec, Network};

/// Exit codes of its own, as env(1) has: the fence could not be set (CMD never ran), or
/// CMD could not be started.
pub mod exit {
    pub const FENCE_FAILED: u8 = 125;
    pub const NOT_STARTED: u8 = 127;
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A folder or file the command may read (repeat), besides the system folders.
    #[arg(long, value_name = "PATH")]
    pub read: Vec<PathBuf>,
    /// A folder the command may write (repeat).
    #[arg(long, value_name = "DIR")]
    pub write: Vec<PathBuf>,
    /// The network the command has: none (a harness run) or the namespace's own
    /// loopback (a command run's processes meet over it).
    #[arg(long, value_enum, default_value_t = Network::None)]
    pub network: Network,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Landlock skips a rule for a path that is not there; a fence asked for a path that
    // does not exist is not the fence asked for.
    let missing = args
        .read
        .iter()
        .find(|p| !p.exists())
        .or_else(|| args.write.iter().find(|p| !p.is_dir()));
    if let Some(missing) = missing {
        eprintln!(
            "speedcert fenced: {} is not there (or, to be written, not a folder); the command did not run",
            missing.display()
        );
        return Ok(ExitCode::from(exit::FENCE_FAILED));
    }
    let spec = FenceSpec {
        read: args.read,
        write: args.write,
        network: args.network,
    };
    let fences = match crate::fence::apply(&spec) {
        Ok(fences) => fences,
        Err(e) => {
            eprintln!("speedcert fenced: {e}; the command did not run");
            return Ok(ExitCode::from(exit::FENCE_FAILED));
        }
    };
    let e = std::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .env(FENCES_ENV, fences.join(","))
        .exec();
    eprintln!(
        "speedcert fenced: could not start `{}`: {e}",
        args.command[0].to_string_lossy()
    );
    Ok(ExitCode::from(exit::NOT_STARTED))
}
