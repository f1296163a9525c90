//! `speedcert audit modded-nanogpt RECORDS_DIR [--json] [--out DIR]`: audit a
//! benchmark's published records from their raw logs. Parsing only; all work is in
//! `speedcert_audit`.
//!
//! One subcommand per audited benchmark, so other audits can be added beside
//! `modded-nanogpt`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::code;
use super::exit::{ERROR, SUCCESS};

/// Arguments of `speedcert audit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// Which benchmark's records to audit.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Audit the NanoGPT speedrun (github.com/KellerJordan/modded-nanogpt): parse every
    /// run log under RECORDS_DIR (a checkout's records/, every track in it with its own
    /// target and objective; or one track folder such as records/track_1_short), recompute
    /// each record's loss and time statistics, check them against the figures its
    /// statistics.md and README state, and give each record a verdict: evidence
    /// sufficient, insufficient, single run, logs missing, claims disagree.
    ///
    /// Without --out the markdown report goes to stdout. With --out DIR it writes
    /// DIR/modded-nanogpt-audit.md and .csv (and .json with --json). Exits 0 when the
    /// audit ran, whatever the verdicts; 1 when RECORDS_DIR cannot be read.
    ModdedNanogpt {
        /// The speedrun's records folder (records/ of a checkout, or one track folder in it).
        #[arg(value_name = "RECORDS_DIR")]
        records_dir: PathBuf,
        /// Print the full report as JSON (and write the .json with --out).
        #[arg(long)]
        json: bool,
        /// Folder to write the report files into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Loss the mean must be below.
        #[arg(long, default_value_t = speedcert_stats::SPEEDRUN_TARGET_LOSS)]
        target_loss: f64,
        /// p-value threshold for "evidence sufficient".
        #[arg(long, default_value_t = 0.01)]
        threshold: f64,
        /// Where RECORDS_DIR came from (e.g. "KellerJordan/modded-nanogpt at f411b3d"),
        /// printed in the report.
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
    },
}

/// File stem of the reports written with `--out`.
const STEM: &str = "modded-nanogpt-audit";

/// Runs an `audit` subcommand and returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::ModdedNanogpt {
            records_dir,
            json,
            out,
            target_loss,
            threshold,
            source,
        } => {
            let options = speedcert_audit::Options {
                target_loss,
                threshold,
                source,
                ..speedcert_audit::Options::default()
            };
            let report = match speedcert_audit::audit_modded_nanogpt(&records_dir, &options) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(code(ERROR));
                }
            };
            if let Some(dir) = &out {
                match speedcert_audit::write_outputs(&report, dir, STEM, json) {
                    Ok(w) => {
                        eprintln!("wrote {}", w.markdown.display());
                        eprintln!("wrote {}", w.csv.display());
                        if let Some(j) = &w.json {
                            eprintln!("wrote {}", j.display());
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(code(ERROR));
                    }
                }
            }
            if json {
                println!("{}", speedcert_audit::to_json(&report));
            } else if out.is_some() {
                print_summary(&report);
            } else {
                print!("{}", speedcert_audit::to_markdown(&report));
            }
            // File problems go to stderr, so a cron job's mail shows them.
            for p in report.problems() {
                if p.kind.excludes_run() {
                    eprintln!("warning: {}: {}: {}", p.file, p.kind.as_str(), p.detail);
                }
            }
            Ok(code(SUCCESS))
        }
    }
}

/// A few lines a person can quote, in the style of hyperfine's summary.
fn print_summary(report: &speedcert_audit::AuditReport) {
    let t = &report.totals;
    println!(
        "Audited {} records: {} log files, {} finished runs, {} file problems",
        t.records, t.log_files, t.complete_runs, t.problems
    );
    for v in speedcert_audit::Support::ALL {
        let n = t.by_verdict.get(v.as_str()).copied().unwrap_or(0);
        println!("  {:<20} {n:>4} records", v.as_str());
    }
    println!(
        "  stated figures checked: {}, disagreeing: {}",
        t.claims_checked, t.claims_disagreeing
    );
}
