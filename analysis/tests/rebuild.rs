//! rebuild from signed bundles: expected rows, tampered and untrusted bundles excluded
//! by name, byte-identical reruns; show and frontier over the result.

mod common;

use speedcert_analysis::table::{RecordRow, RunRow, read_records, read_runs};
use speedcert_analysis::{load, rebuild, view};

#[test]
fn rebuild_keeps_genuine_bundles_and_names_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let _keys = common::standard(records);
    let report = rebuild(records).unwrap();

    assert_eq!(report.bundles_found, 6);
    assert_eq!(
        report.included,
        vec![
            "bundles/other/2026-11-21-ref",
            "bundles/tiny/2026-11-20-reference",
            "bundles/tiny/2026-11-22-fast",
            "bundles/tiny/2026-11-23-slow",
        ]
    );
    let excluded: Vec<&str> = report.excluded.iter().map(|e| e.bundle.as_str()).collect();
    assert_eq!(
        excluded,
        vec![
            "bundles/tiny/2026-11-24-tampered",
            "bundles/tiny/2026-11-25-stranger"
        ]
    );
    // The tampered bundle's reason names the check and the file.
    let tampered = &report.excluded[0].reasons;
    assert!(
        tampered
            .iter()
            .any(|r| r.contains("digest") && r.contains("runs/run-000/run.json")),
        "{tampered:?}"
    );
    let stranger = &report.excluded[1].reasons;
    assert!(
        stranger
            .iter()
            .any(|r| r.contains("signature") || r.contains("threshold")),
        "{stranger:?}"
    );
    let text = report.to_text();
    assert!(
        text.contains("bundles/tiny/2026-11-24-tampered failed verification"),
        "{text}"
    );
    assert!(text.contains("from 4 of 6 bundles; 2 excluded"), "{text}");

    // runs.csv: every run of the 4 genuine bundles, none of the excluded ones.
    let runs: Vec<RunRow> = read_runs(&report.runs_csv).unwrap();
    assert_eq!(runs.len(), 3 + 7 + 2 + 2);
    assert_eq!(report.runs, runs.len());
    assert!(
        runs.iter()
            .all(|r| r.submission != "cheater" && r.submission != "stranger")
    );
    // Deterministic order: track, date, bundle, run index.
    let order: Vec<(&str, &str, u32)> = runs
        .iter()
        .map(|r| (r.track.as_str(), r.bundle.as_str(), r.run_index))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let baseline = runs
        .iter()
        .find(|r| r.bundle == "bundles/tiny/2026-11-22-fast" && r.run_index == 1)
        .unwrap();
    assert_eq!(baseline.role, "baseline");
    assert_eq!(baseline.submission, "reference");
    assert_eq!(baseline.seed, Some(1001));
    assert_eq!(baseline.train_time_ms, Some(1001.0));
    assert_eq!(baseline.final_val_loss, Some(3.21));
    assert_eq!(baseline.heldout_val_loss, Some(3.21 + 0.002));
    assert_eq!(baseline.train_tokens, Some(4096));
    assert_eq!(baseline.date, "2026-11-22");
    assert_eq!(baseline.device, "cpu");
    assert!(baseline.official);
    assert_eq!(baseline.verdict, "new record");
    assert_eq!(baseline.bundle_digest.len(), 64);
    let failed = runs
        .iter()
        .find(|r| r.bundle.ends_with("fast") && r.run_index == 6)
        .unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.train_time_ms),
        ("failed", None)
    );

    // records.csv: the chain per track.
    let recs: Vec<RecordRow> = read_records(&report.records_csv).unwrap();
    let chain: Vec<(&str, u32, &str)> = recs
        .iter()
        .map(|r| (r.track.as_str(), r.number, r.submission.as_str()))
        .collect();
    assert_eq!(
        chain,
        vec![
            ("other", 1, "reference"),
            ("synthetic-tiny", 1, "reference"),
            ("synthetic-tiny", 2, "fast")
        ]
    );
    let first = &recs[1];
    assert_eq!((first.improvement_ms, first.improvement_pct), (None, None));
    assert_eq!(first.time_mean_ms, Some(1000.0));
    assert_eq!(first.n, 3);
    let second = &recs[2];
    assert_eq!(second.time_mean_ms, Some(900.0));
    assert_eq!(second.improvement_ms, Some(100.0));
    assert!((second.improvement_pct.unwrap() - 10.0).abs() < 1e-12);
    assert_eq!(second.p_value, Some(0.0004));
    assert_eq!(second.n, 3);
    assert_eq!(second.date, "2026-11-22");
    assert_eq!(second.baseline_submission.as_deref(), Some("reference"));
    assert_eq!(second.comparison, "same-machine");
    let digest = runs
        .iter()
        .find(|r| r.bundle == second.bundle)
        .unwrap()
        .bundle_digest
        .clone();
    assert_eq!(second.bundle_digest, digest);
}

#[test]
fn rebuild_twice_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    let r1 = rebuild(dir.path()).unwrap();
    let runs1 = std::fs::read(&r1.runs_csv).unwrap();
    let recs1 = std::fs::read(&r1.records_csv).unwrap();
    let r2 = rebuild(dir.path()).unwrap();
    assert_eq!(runs1, std::fs::read(&r2.runs_csv).unwrap());
    assert_eq!(recs1, std::fs::read(&r2.records_csv).unwrap());
    // And from a copy in another place (paths are relative, no clock is read).
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    std::fs::remove_file(copy.path().join("runs.csv")).unwrap();
    let r3 = rebuild(copy.path()).unwrap();
    assert_eq!(runs1, std::fs::read(&r3.runs_csv).unwrap());
    assert_eq!(recs1, std::fs::read(r3.records_csv).unwrap());
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn empty_records_folder_gives_header_only_tables() {
    let dir = tempfile::tempdir().unwrap();
    let report = rebuild(dir.path()).unwrap();
    assert_eq!(
        (report.bundles_found, report.runs, report.records),
        (0, 0, 0)
    );
    let runs = std::fs::read_to_string(&report.runs_csv).unwrap();
    assert!(runs.starts_with("track,submission,role,bundle,bundle_digest,run_index,seed,status,"));
    assert_eq!(runs.lines().count(), 1);
    let t = load(dir.path()).unwrap();
    assert!(
        view::show(&t, None)
            .unwrap()
            .to_text()
            .contains("No certified runs yet")
    );
}

#[test]
fn without_keys_every_bundle_is_excluded_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    std::fs::remove_dir_all(dir.path().join("keys")).unwrap();
    let report = rebuild(dir.path()).unwrap();
    assert_eq!(report.excluded.len(), 6);
    assert_eq!(report.runs, 0);
    assert!(
        report.excluded[0].reasons[0].contains("no trusted keys"),
        "{:?}",
        report.excluded[0]
    );
}

#[test]
fn show_and_frontier_over_the_rebuilt_tables() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    rebuild(dir.path()).unwrap();
    let t = load(dir.path()).unwrap();

    let all = view::show(&t, None).unwrap();
    let text = all.to_text();
    assert!(
        text.contains("Track synthetic-tiny: 2 records, 3 bundles, 12 certified runs (1 failed)"),
        "{text}"
    );
    assert!(text.contains("Current record: fast (2026-11-22), 900.0 ms ± 5.0 ms (3 runs), 10.0% faster than #1 (p = 0.0004 < 0.01)"), "{text}");
    assert!(text.contains("-0.100 s (-10.0%)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&all.to_json()).unwrap();
    assert_eq!(json["tracks"].as_array().unwrap().len(), 2);
    assert_eq!(json["tracks"][1]["records"][1]["submission"], "fast");

    let one = view::show(&t, Some("other")).unwrap();
    assert_eq!(one.tracks.len(), 1);
    assert_eq!(one.tracks[0].track, "other");

    // Bundle statistics recomputed by polars agree with the certified summaries.
    let tiny = &all.tracks[1];
    let fast = tiny
        .bundles
        .iter()
        .find(|b| b.submission == "fast")
        .unwrap();
    assert_eq!((fast.n, fast.failed), (3, 1));
    assert_eq!(fast.time_mean_ms, Some(900.0));
    assert!((fast.time_sd_ms.unwrap() - 5.0).abs() < 1e-9);

    let f = view::frontier(&t.runs, Some("synthetic-tiny"));
    assert_eq!(f.tracks.len(), 1);
    let pts: Vec<(f64, f64)> = f.tracks[0]
        .pareto
        .iter()
        .map(|p| (p.time_ms, p.loss))
        .collect();
    // Measured synthetic-tiny runs: reference 1000/3.20 990/3.21 1010/3.22; fast
    // 900/3.25 905/3.24 895/3.26 and baselines 1001/3.21 999/3.20 1000/3.21; slow
    // 1200/3.10 and its baseline 902/3.25.
    assert_eq!(
        pts,
        vec![
            (895.0, 3.26),
            (900.0, 3.25),
            (905.0, 3.24),
            (990.0, 3.21),
            (999.0, 3.20),
            (1200.0, 3.10)
        ]
    );
    let ftext = f.to_text();
    assert!(ftext.contains("6 of 11 runs are Pareto-optimal"), "{ftext}");
    let fjson: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
    assert_eq!(fjson["tracks"][0]["pareto"][0]["tag"]["submission"], "fast");
}
