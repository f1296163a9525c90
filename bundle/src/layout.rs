//! Where every file of a bundle lives (docs/bundle-format.md). Nothing else in speedcert
//! spells a bundle's file names.

use std::path::{Path, PathBuf};

/// The exact track spec the runs used, copied byte for byte.
pub const TRACK: &str = "track.toml";
/// The certifying machine's environment.
pub const ENV: &str = "env.json";
/// Every planned run, fixed before the first.
pub const PLAN: &str = "plan.json";
/// Statistics, checks and verdict.
pub const SUMMARY: &str = "summary.json";
/// A nightly rerun against the record.
pub const DRIFT: &str = "drift.json";
/// The record's env.json, copied into a nightly bundle for the environment diff.
pub const RECORD_ENV: &str = "record-env.json";
/// The folder of seals signed as the certification happens (crate::journal).
pub const JOURNAL: &str = "journal";
/// The plan's seal, in [`JOURNAL`].
pub const PLAN_SEAL: &str = "plan.dsse.json";
/// The folder of runs.
pub const RUNS: &str = "runs";
/// One run's record; written last, so it marks a finished run.
pub const RUN: &str = "run.json";
/// One run's step log.
pub const STEPS: &str = "steps.csv";
/// One run's GPU samples.
pub const GPU: &str = "gpu.csv";
/// One run's child-process stderr.
pub const STDERR: &str = "stderr.log";
/// A command run's log, as the run left it (the clock and loss it reports are read from it).
pub const TRAIN_LOG: &str = "train.log";
/// A command run's standard output.
pub const STDOUT: &str = "stdout.log";
/// The folder of submission sources the runs were built from (crate::source).
pub const SOURCE: &str = "source";
/// The DSSE envelope that signs the bundle (attest owns the name).
pub use speedcert_attest::ENVELOPE_FILE as ATTESTATION;

/// `run-NNN`, the folder name of run `index`.
pub fn run_name(index: usize) -> String {
    format!("run-{index:03}")
}

/// `runs/run-NNN/FILE`, the path of a run's file relative to the bundle, as problems
/// and checks name it.
pub fn run_file(index: usize, file: &str) -> String {
    format!("{RUNS}/{}/{file}", run_name(index))
}

/// `runs/run-NNN` inside the bundle at `bundle`.
pub fn run_dir(bundle: &Path, index: usize) -> PathBuf {
    bundle.join(RUNS).join(run_name(index))
}

/// `source/<digest>`: the shipped copy of the submission source with that digest.
pub fn source_dir(bundle: &Path, digest: &str) -> PathBuf {
    bundle.join(SOURCE).join(digest)
}

/// `source/<digest>.files`: that source's manifest, which hashes to the digest.
pub fn source_manifest(bundle: &Path, digest: &str) -> PathBuf {
    bundle.join(SOURCE).join(format!("{digest}.files"))
}

/// The run index of a `run-NNN` folder name.
pub fn parse_run_name(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("run-")?;
    (digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_round_trip() {
        assert_eq!(run_name(7), "run-007");
        assert_eq!(parse_run_name("run-007"), Some(7));
        assert_eq!(parse_run_name("run-1234"), Some(1234));
        assert_eq!(parse_run_name("run-7"), None);
        assert_eq!(parse_run_name("runs"), None);
        assert_eq!(
            run_dir(Path::new("b"), 3),
            Path::new("b").join("runs").join("run-003")
        );
    }
}
