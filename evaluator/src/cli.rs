//! The command line (clap only): one subcommand per job, each defined in `commands`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{self, exit};
use crate::registry::Registry;

#[derive(Debug, Parser)]
#[command(
    name = "speedcert",
    version,
    about = "Certifies training-speed records for language-model benchmarks",
    long_about = "Certifies training-speed records for language-model benchmarks such as the \
                  NanoGPT speedrun: reruns a submission, owns the clock, the data and the \
                  validation loss, checks for gaming, decides with statistics, and signs the \
                  result.\n\nExit codes: 0 success, 1 error, 2 bad usage, 3 a verdict or check \
                  that failed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a submission once on a track and report its time to target.
    Run(commands::run::Args),
    /// Rerun a submission N times, check it, compare with the record, sign the bundle.
    Certify(commands::certify::Args),
    /// Rerun each track's current record, test for drift, sign, append records/nightly.csv;
    /// exit 3 on significant drift.
    Nightly(commands::nightly::Args),
    /// Check a bundle offline: file digests, signatures, and the statistics it claims.
    Verify(commands::verify::Args),
    /// Export a bundle as JSON, CSV, markdown or MLPerf-style MLLOG lines.
    Export(commands::export::Args),
    /// Create an ed25519 key pair for signing bundles.
    Keygen(commands::keygen::Args),
    /// Sign (or co-sign) an existing bundle folder.
    Sign(commands::sign::Args),
    /// The published records: rebuild the tables from bundles, show them, the frontier, the site.
    Records(commands::records::Args),
    /// Token data: write the synthetic corpus, fetch pinned shards, prepare text, inspect shards.
    Data(commands::data::Args),
    /// Audit another benchmark's published records from their raw logs.
    Audit(commands::audit::Args),
    /// Print the environment fingerprint; with --check, compare it with a track's pins.
    Env(commands::env::Args),
    /// Submissions from a folder: `submission new NAME` writes one.
    Submission(commands::submission::Args),
    /// Fence this process, then run a command in it (how certify runs a command submission).
    #[command(hide = true)]
    Fenced(commands::fenced::Args),
}

/// Parses the process arguments and runs the command with `registry`'s submissions.
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args, &registry),
        Command::Certify(args) => commands::certify::run(args, &registry),
        Command::Nightly(args) => commands::nightly::run(args, &registry),
        Command::Verify(args) => commands::verify::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Sign(args) => commands::sign::run(args),
        Command::Records(args) => commands::records::run(args),
        Command::Data(args) => commands::data::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Env(args) => commands::env::run(args),
        Command::Submission(args) => commands::submission::run(args, &registry),
        Command::Fenced(args) => commands::fenced::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
