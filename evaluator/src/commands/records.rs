//! `speedcert records rebuild | show | frontier | site`: the published records, from
//! the analysis crate. Parsing only; all work is in `speedcert_analysis`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit::{ERROR, FAILED_VERDICT, SUCCESS};
use super::{code, out};

/// The published records: rebuild the tables from verified bundles, show them, the
/// efficiency frontier, and the leaderboard page.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// Options every `records` subcommand shares.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// The records folder (bundles/, keys/, runs.csv, records.csv, imported/).
    #[arg(long, default_value = "records")]
    pub dir: PathBuf,
}

/// What to do with the records.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify every bundle in DIR/bundles/ exactly as `speedcert verify` does (signatures
    /// and recomputed statistics) and rebuild DIR/runs.csv, DIR/records.csv and
    /// DIR/curves.csv. A bundle becomes a record only if it beats the record current at
    /// its date, by its own comparison against that record. Bundles that fail
    /// verification and rejected record claims are listed with their reasons; exits 3
    /// if there was any.
    Rebuild {
        #[command(flatten)]
        common: Common,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the record chain of each track (and the imported history, marked unverified).
    Show {
        #[command(flatten)]
        common: Common,
        /// Only this track.
        #[arg(long)]
        track: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the efficiency frontier per track: the best validation loss attained within
    /// each training-time and each token budget, over every validation of every valid
    /// candidate run (from the step logs).
    Frontier {
        #[command(flatten)]
        common: Common,
        /// Only this track.
        #[arg(long)]
        track: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the static leaderboard page (index.html and plots/*.svg) to OUT, and
    /// DIR/README.md.
    Site {
        #[command(flatten)]
        common: Common,
        /// Folder for index.html and plots/.
        #[arg(long, default_value = "site")]
        out: PathBuf,
    },
}

/// Runs a `records` subcommand and returns the process exit code (0 success, 1 error,
/// 3 when rebuild had to exclude a bundle that failed verification).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Rebuild { common, json } => {
            let report = match speedcert_analysis::rebuild(&common.dir) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(code(ERROR));
                }
            };
            if json {
                out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else {
                // Exclusions and rejections go to stderr, so a cron job's mail shows them.
                eprint!("{}", report.excluded_text());
                out(&format!("{}\n", report.summary_line()))?;
            }
            Ok(code(if report.all_included() {
                SUCCESS
            } else {
                FAILED_VERDICT
            }))
        }
        Command::Show {
            common,
            track,
            json,
        } => {
            let view = speedcert_analysis::load(&common.dir)
                .and_then(|t| speedcert_analysis::view::show(&t, track.as_deref()));
            match view {
                Ok(v) => {
                    if json {
                        out(&format!("{}\n", v.to_json()))?;
                    } else {
                        out(&v.to_text())?;
                    }
                    Ok(code(SUCCESS))
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(code(ERROR))
                }
            }
        }
        Command::Frontier {
            common,
            track,
            json,
        } => match speedcert_analysis::load(&common.dir) {
            Ok(t) => {
                let v = speedcert_analysis::view::frontier(&t.curves, track.as_deref());
                if json {
                    out(&format!("{}\n", v.to_json()))?;
                } else {
                    out(&v.to_text())?;
                }
                Ok(code(SUCCESS))
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(code(ERROR))
            }
        },
        Command::Site { common, out } => match speedcert_analysis::site(&common.dir, &out) {
            Ok(r) => {
                for n in &r.notes {
                    eprintln!("warning: {n}");
                }
                println!(
                    "wrote {} ({} plot{}) and {}",
                    r.index.display(),
                    r.plots.len(),
                    if r.plots.len() == 1 { "" } else { "s" },
                    r.readme.display()
                );
                Ok(code(SUCCESS))
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(code(ERROR))
            }
        },
    }
}
