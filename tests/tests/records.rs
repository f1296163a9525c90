//! How a new record is added, through the binary (README "Adding a record"): certify,
//! copy the bundle into records/bundles/, rebuild. `records rebuild` verifies every
//! bundle as `speedcert verify` does and accepts a record only if it was certified
//! against the record current at its date; it names every bundle it leaves out and why.
//!
//! Arms differ by construction (`slowed-reference` sleeps 100 ms a step, 4 s a run over
//! the test track: see the sizing in tests/certify.rs), so no verdict here is luck.

mod common;
use common::*;
use std::path::Path;

fn rebuild(records: &Path) -> std::process::Output {
    let mut c = speedcert();
    c.args(["records", "rebuild", "--json", "--dir"])
        .arg(records);
    run(c)
}

fn certified(submission: &str, key: &Path, out: &Path, extra: &[&str]) {
    let o = certify_test_track(adversarial(), submission, key, out, extra);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "certify {submission} failed to run"
    );
}

#[test]
fn records_are_recomputed_and_only_a_win_over_the_current_record_counts() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("keys")).unwrap();
    let (key, public) = keygen(dir.path());
    std::fs::copy(&public, records.join("keys/certifier.pub.pem")).unwrap();
    let bundles = records.join("bundles/test-tiny");

    // 1. The track's first record: its reference, certified with no time comparison.
    certified(
        "slowed-reference",
        &key,
        &bundles.join("1-slowed-reference"),
        &["--baseline-runs", "0"],
    );
    let out = rebuild(&records);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 1, "{report}");

    // 2. A faster submission, certified against the current record's submission.
    certified(
        "reference-fast",
        &key,
        &bundles.join("2-reference-fast"),
        &["--baseline", "slowed-reference"],
    );
    // 3. A "new record" against the old record, not the current one: it beats
    //    slowed-reference, but nobody compared it with reference-fast.
    certified(
        "reference",
        &key,
        &bundles.join("3-reference"),
        &["--baseline", "slowed-reference"],
    );
    assert_eq!(
        json(&bundles.join("3-reference/summary.json"))["verdict"],
        "new record"
    );
    // 4. Record 2 with its summary edited (twice as fast) and re-signed by the trusted key.
    let forged = bundles.join("4-forged");
    copy_dir(&bundles.join("2-reference-fast"), &forged);
    let path = forged.join("summary.json");
    let mut s = json(&path);
    let mean = s["time"]["candidate"]["mean_ms"].as_f64().unwrap();
    s["time"]["candidate"]["mean_ms"] = (mean / 2.0).into();
    std::fs::write(&path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    std::fs::remove_file(forged.join("attestation.dsse.json")).unwrap();
    let mut c = speedcert();
    c.arg("sign").arg(&forged).arg("--key").arg(&key);
    assert!(run(c).status.success());

    let out = rebuild(&records);
    assert_eq!(out.status.code(), Some(3), "a rejected bundle exits 3");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 2, "{report}");
    let excluded = report["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{report}");
    assert_eq!(excluded[0]["bundle"], "bundles/test-tiny/4-forged");
    let why = excluded[0]["reasons"].to_string();
    assert!(why.contains("time.candidate.mean_ms"), "{why}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0]["bundle"], "bundles/test-tiny/3-reference");
    let why = rejected[0]["reasons"].to_string();
    assert!(
        why.contains("slowed-reference") && why.contains("reference-fast"),
        "{why}"
    );

    let csv = std::fs::read_to_string(records.join("records.csv")).unwrap();
    let chain: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(chain.len(), 2, "{csv}");
    assert!(chain[0].contains("1-slowed-reference") && chain[1].contains("2-reference-fast"));

    // The frontier is made of candidate validations only: slowed-reference appears from
    // its own certification, never as the baseline of records 2 and 3.
    let mut c = speedcert();
    c.args(["records", "frontier", "--json", "--dir"])
        .arg(&records);
    let out = run(c);
    assert!(out.status.success());
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let track = &f["tracks"][0];
    // Valid candidate runs: 3 per verified bundle (1, 2 and 3).
    assert_eq!(track["runs"], 9, "{f}");
    for step in track["by_time"].as_array().unwrap() {
        assert_ne!(step["bundle"], "bundles/test-tiny/4-forged", "{f}");
    }
    let mut c = speedcert();
    c.args(["records", "show", "--dir"]).arg(&records);
    let out = run(c);
    assert!(out.status.success());
    assert!(stdout(&out).contains("reference-fast"), "{}", stdout(&out));
}

/// The records the repository ships (README "Add a record to records/"): every bundle
/// verifies with today's code, and rebuilding gives the committed tables byte for byte,
/// so a fresh clone's `records show` and `nightly` work on what is published.
#[test]
fn the_shipped_records_verify_and_rebuild_to_the_committed_tables() {
    let shipped = workspace().join("records");
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    copy_dir(&shipped.join("keys"), &records.join("keys"));
    copy_dir(&shipped.join("bundles"), &records.join("bundles"));
    let out = rebuild(&records);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["records"].as_u64().unwrap() >= 2, "{report}");
    for table in ["runs.csv", "records.csv", "curves.csv"] {
        assert_eq!(
            std::fs::read_to_string(records.join(table)).unwrap(),
            std::fs::read_to_string(shipped.join(table)).unwrap(),
            "records/{table} is not what `speedcert records rebuild` makes of records/bundles"
        );
    }
    let mut c = speedcert();
    c.args(["records", "show", "--track", "synthetic-tiny"]);
    let out = run(c);
    assert!(out.status.success());
    assert!(stdout(&out).contains("reference-fast"), "{}", stdout(&out));

    // Every shipped bundle exports in every format; MLLOG passes the MLPerf rules the
    // exporter checks (one run_start/run_stop per run, monotone time).
    for bundle in std::fs::read_dir(shipped.join("bundles/synthetic-tiny")).unwrap() {
        let bundle = bundle.unwrap().path();
        for format in ["json", "csv", "markdown", "mllog"] {
            let mut c = speedcert();
            c.arg("export").arg(&bundle).args(["--format", format]);
            let out = run(c);
            assert!(out.status.success(), "{format}: {}", stderr(&out));
            assert!(!out.stdout.is_empty());
        }
    }
}
