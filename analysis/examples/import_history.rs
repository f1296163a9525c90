//! Transcribes the NanoGPT speedrun's published record tables into
//! records/imported/modded-nanogpt.csv, so the import is a program a reviewer can rerun
//! and diff rather than a hand copy.
//!
//! ```text
//! cargo run -p speedcert-analysis --example import_history -- \
//!     README.md github:KellerJordan/modded-nanogpt@<commit>:README.md records/imported/modded-nanogpt.csv
//! ```
//! README.md is the file at that commit (`git show <commit>:README.md`), in a checkout of
//! that commit: README links to record folders that no longer exist are resolved against
//! the folders on disk beside it (or in REPO_ROOT, a fourth argument, when the README was
//! copied out).

use std::path::Path;
use std::process::ExitCode;

use speedcert_analysis::imported::{
    MODDED_NANOGPT_TRACKS, parse_readme_tables, resolve_record_folders, write_imported,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (readme, source, out, repo_root) = match args.as_slice() {
        [readme, source, out] => (readme, source, out, None),
        [readme, source, out, root] => (readme, source, out, Some(Path::new(root))),
        _ => {
            eprintln!(
                "usage: import_history README.md github:OWNER/REPO@COMMIT:README.md OUT.csv [REPO_ROOT]"
            );
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(readme) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {readme}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut rows = parse_readme_tables(&text, MODDED_NANOGPT_TRACKS, source);
    if rows.is_empty() {
        eprintln!("error: {readme}: no record table (`| # | Record time | ...`) found");
        return ExitCode::from(1);
    }
    let root = repo_root.unwrap_or_else(|| Path::new(readme).parent().unwrap_or(Path::new(".")));
    for note in resolve_record_folders(&mut rows, root) {
        eprintln!("{note}");
    }
    if let Err(e) = write_imported(Path::new(out), &rows) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let mut per_track: Vec<(String, usize)> = Vec::new();
    for r in &rows {
        match per_track.iter_mut().find(|(t, _)| *t == r.track) {
            Some((_, n)) => *n += 1,
            None => per_track.push((r.track.clone(), 1)),
        }
    }
    let counts: Vec<String> = per_track.iter().map(|(t, n)| format!("{t}: {n}")).collect();
    println!("wrote {out}: {} rows ({})", rows.len(), counts.join(", "));
    ExitCode::SUCCESS
}
