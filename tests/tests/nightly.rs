//! `speedcert nightly` end to end on the CPU test track: a record is certified and
//! published, a machine that got slower is caught (exit 3, a signed nightly bundle that
//! verifies, a row in nightly.csv), a second night on the same day gets its own folder,
//! and a second nightly while one runs is refused by the lock.

mod common;
use common::*;
use std::path::Path;

/// Certifies `slows-by-env` (reference-fast underneath) as a new record against the
/// reference on this machine, and publishes it in `records`.
fn publish_record(records: &Path, key: &Path) {
    let bundle = records.join("bundles/test-tiny-1");
    let mut c = adversarial();
    c.env_remove("SPEEDCERT_TEST_STEP_SLEEP_MS");
    let out = certify_test_track(c, "slows-by-env", key, &bundle, &[]);
    assert_eq!(out.status.code(), Some(0), "the record must certify");
    let mut c = adversarial();
    c.args(["records", "rebuild", "--dir"]).arg(records);
    let out = run(c);
    assert_eq!(out.status.code(), Some(0));
    let csv = std::fs::read_to_string(records.join("records.csv")).unwrap();
    assert!(csv.contains("bundles/test-tiny-1"), "{csv}");
}

fn nightly(records: &Path, key: &Path, sleep_ms: Option<u64>) -> std::process::Output {
    let mut c = adversarial();
    c.args(["nightly", "--track", "test-tiny", "--runs", "3", "--key"])
        .arg(key)
        .arg("--records")
        .arg(records)
        .args(["--date", "2026-11-23"]);
    match sleep_ms {
        Some(ms) => c.env("SPEEDCERT_TEST_STEP_SLEEP_MS", ms.to_string()),
        None => c.env_remove("SPEEDCERT_TEST_STEP_SLEEP_MS"),
    };
    run(c)
}

fn nightly_rows(records: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(records.join("nightly.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    assert_eq!(&header[0], "date");
    r.records().map(Result::unwrap).collect()
}

#[test]
fn a_slower_machine_raises_the_drift_alarm_and_the_next_night_runs_normally() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("keys")).unwrap();
    let (key, public) = keygen(dir.path());
    std::fs::copy(&public, records.join("keys/certifier.pub.pem")).unwrap();
    publish_record(&records, &key);

    // Tonight every step sleeps 25 ms: about +0.7 s on runs of well under a second.
    let out = nightly(&records, &key, Some(25));
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "drift must exit 3");
    assert!(report.contains("environment against record #1"), "{report}");
    assert!(report.contains("Nightly: time drift"), "{report}");
    let bundle = records.join("nightly/2026-11-23/test-tiny");
    let drift = json(&bundle.join("drift.json"));
    assert_eq!(drift["verdict"], "time drift");
    assert!(drift["time"]["change_pct"].as_f64().unwrap() > 30.0);
    assert!(drift["time"]["p_two_sided"].as_f64().unwrap() < 0.01);
    assert_eq!(drift["env_changes"].as_array().unwrap().len(), 0);
    assert_eq!(drift["runs"], 3);
    // The nightly bundle is signed, and verify recomputes its drift.
    let out = verify(&bundle, &public);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("drift"),
        "verify must check drift.json"
    );
    let rows = nightly_rows(&records);
    assert_eq!(rows.len(), 1);

    // The next run (same date: a new folder beside the first) is an ordinary night.
    let out = nightly(&records, &key, None);
    let second = records.join("nightly/2026-11-23/test-tiny-2");
    let drift = json(&second.join("drift.json"));
    assert_ne!(drift["verdict"], "runs failed");
    let alarm = drift["verdict"] != "no drift";
    assert_eq!(out.status.code(), Some(if alarm { 3 } else { 0 }));
    assert!(
        drift["time"]["change_pct"].as_f64().unwrap().abs() < 30.0,
        "an unslowed night is within noise of the record: {drift}"
    );
    let rows = nightly_rows(&records);
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][6], "nightly/2026-11-23/test-tiny-2");
}

#[test]
fn a_second_nightly_is_refused_while_one_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("nightly")).unwrap();
    let (key, _) = keygen(dir.path());
    let lock = std::fs::File::create(records.join("nightly/.lock")).unwrap();
    lock.lock().unwrap();
    let out = nightly(&records, &key, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another `speedcert nightly` holds this lock"),
        "{}",
        stderr(&out)
    );
    assert!(!records.join("nightly.csv").exists());
}

#[test]
fn a_track_without_a_record_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("keys")).unwrap();
    let (key, public) = keygen(dir.path());
    std::fs::copy(&public, records.join("keys/certifier.pub.pem")).unwrap();
    std::fs::write(
        records.join("records.csv"),
        "track,number,date,submission,baseline_submission,bundle,bundle_digest,n,time_mean_ms,time_sd_ms,improvement_ms,improvement_pct,p_value,threshold,change_pct,loss_mean,comparison,official,created_at\n",
    )
    .unwrap();
    let out = nightly(&records, &key, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("track `test-tiny` has no certified record"),
        "{}",
        stderr(&out)
    );
}
