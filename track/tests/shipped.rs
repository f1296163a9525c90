//! Every track this repository ships (records/tracks, the test suite's, the copies inside
//! shipped bundles and fixtures, and the embedded default) passes validation.

use std::path::{Path, PathBuf};

use speedcert_track::Track;

/// Files named `*.toml` under `dir` that are tracks: every file in a `tracks` folder,
/// and every `track.toml`.
fn track_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(name.as_str(), "target" | "vendor" | ".git" | "node_modules") {
                track_files(&p, out);
            }
        } else if name == "track.toml"
            || (name.ends_with(".toml") && dir.file_name().is_some_and(|d| d == "tracks"))
        {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_track_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for dir in ["records", "tests", "bundle", "evaluator", "data", "track"] {
        track_files(&root.join(dir), &mut files);
    }
    files.sort();
    for must in [
        "records/tracks/synthetic-tiny.toml",
        "records/tracks/synthetic-gpt2-1xh100.toml",
        "records/tracks/fineweb-gpt2-1xh100.toml",
        "records/tracks/fineweb-gpt2-8xh100.toml",
        "tests/tracks/test-tiny.toml",
    ] {
        assert!(
            files.contains(&root.join(must)),
            "{must} not found: {files:?}"
        );
    }
    let failed: Vec<String> = files
        .iter()
        .filter_map(|f| Track::load(f).err().map(|e| e.to_string()))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(Track::embedded_default().spec.problems().is_empty());
}
