//! `speedcert export`: one certification bundle in another format, from the same result
//! type (speedcert-bundle's exporters): JSON (the summary), CSV (one row per run),
//! markdown (the report), or MLPerf-style `:::MLLOG` lines for every run.

use std::path::PathBuf;
use std::process::ExitCode;

use speedcert_bundle::export::{self, Format, check_mllog};
use speedcert_bundle::{BundleInputs, Summary, layout};

use super::exit::SUCCESS;
use super::{code, out};

/// Arguments of `speedcert export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle folder to export (read as it is; run `speedcert verify` to check it).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// json | csv | markdown (md) | mllog.
    #[arg(long, value_name = "FORMAT")]
    pub format: Format,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = BundleInputs::read(&args.bundle)?;
    let summary: Summary = speedcert_bundle::io::read_json(&args.bundle.join(layout::SUMMARY))?;
    let text = export::export(&inputs, &summary, args.format)?;
    if args.format == Format::Mllog {
        // What we emit must pass the MLPerf rules we check; a failure here is our bug.
        let problems = check_mllog(&text);
        anyhow::ensure!(
            problems.is_empty(),
            "the MLLOG export breaks MLPerf logging rules: {}",
            problems.join("; ")
        );
    }
    match &args.out {
        Some(path) => {
            speedcert_bundle::io::write_bytes(path, text.as_bytes())?;
            eprintln!("wrote {} ({})", path.display(), args.format);
        }
        None => out(&text)?,
    }
    Ok(code(SUCCESS))
}
