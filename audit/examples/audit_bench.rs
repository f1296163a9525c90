//! Audits a modded-nanogpt records folder and reports how long it took.
//!
//! ```text
//! cargo run --release -p speedcert-audit --example audit_bench -- RECORDS_DIR [--repeat N] [--out DIR] [--json] [--source TEXT]
//! ```
//!
//! The benchmark of bench/audit/ runs this against bench/audit/audit_ref.py; with
//! `--out` it also writes the report (modded-nanogpt-audit.{md,csv[,json]}), which is
//! how records/imported/ is produced without building the `speedcert` binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use speedcert_audit::{Options, audit_modded_nanogpt, write_outputs};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut json = false;
    let mut repeat = 1usize;
    let mut source: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--json" => json = true,
            "--source" => source = args.next(),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            other => {
                eprintln!("error: unexpected argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!(
            "usage: audit_bench RECORDS_DIR [--repeat N] [--out DIR] [--json] [--source TEXT]"
        );
        return ExitCode::from(2);
    };
    let options = Options {
        source,
        ..Options::default()
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        match audit_modded_nanogpt(&dir, &options) {
            Ok(r) => last = Some(r),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
        times.push(start.elapsed().as_secs_f64());
    }
    let report = last.expect("at least one run");
    let t = &report.totals;
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "audited {} records, {} log files, {} finished runs, {} problems in {:.3} s (mean of {})",
        t.records,
        t.log_files,
        t.complete_runs,
        t.problems,
        mean,
        times.len()
    );
    for (verdict, n) in &t.by_verdict {
        println!("  {verdict:<20} {n}");
    }
    println!(
        "  stated figures checked {}, disagreeing {}",
        t.claims_checked, t.claims_disagreeing
    );
    // Files left out of the statistics go to stderr, as `speedcert audit` does.
    for p in report.problems() {
        if p.kind.excludes_run() {
            eprintln!("warning: {}: {}: {}", p.file, p.kind.as_str(), p.detail);
        }
    }
    if let Some(out) = out {
        match write_outputs(&report, &out, "modded-nanogpt-audit", json) {
            Ok(w) => println!("wrote {} and {}", w.markdown.display(), w.csv.display()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
