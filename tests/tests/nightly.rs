//! `speedcert nightly` end to end on the CPU test track: a record is certified and
//! published, a machine that got slower is caught (exit 3, a signed nightly bundle that
//! verifies, a row in nightly.csv), a second night on the same day gets its own folder,
//! and a second nightly while one runs is refused by the lock.

mod common;
use common::*;
use std::path::Path;

// Sizing (bench/results/timing-tests-2026-11-30.md: reference-fast's compute is 0.21 s
// median, its largest excursion above the median 0.20 s and the mean excursion 56 ms over 60
// runs with one core loaded; an exponential tail with that mean gives P(one run > x above
// its median) = 0.5 exp(-x / 56 ms)).

/// Each run of the record sleeps this long per step: 1.12 s on 0.21 s of compute, so a
/// night's time change is measured against runs whose compute noise is diluted.
const RECORD_SLEEP_MS: u64 = 40;
/// The slow night sleeps this long per step: 4.48 s more per run than the record.
const SLOW_NIGHT_SLEEP_MS: u64 = 200;

/// Certifies `slows-by-env` (reference-fast underneath, plus `RECORD_SLEEP_MS` per step) as
/// a new record against `slowed-reference` (4.3 s a run by construction, a gap of 2.97 s:
/// one record run must be 1.12 s slower than usual, P 2e-9, to lose the verdict; see the
/// sizing at SLOWED_REFERENCE_SLEEP), and publishes it in `records`.
fn publish_record(records: &Path, key: &Path) {
    let bundle = records.join("bundles/test-tiny-1");
    let mut c = adversarial();
    c.env("SPEEDCERT_TEST_STEP_SLEEP_MS", RECORD_SLEEP_MS.to_string());
    let out = certify_test_track(
        c,
        "slows-by-env",
        key,
        &bundle,
        &["--baseline", "slowed-reference"],
    );
    assert_eq!(out.status.code(), Some(0), "the record must certify");
    let mut c = adversarial();
    c.args(["records", "rebuild", "--dir"]).arg(records);
    let out = run(c);
    assert_eq!(out.status.code(), Some(0));
    let csv = std::fs::read_to_string(records.join("records.csv")).unwrap();
    assert!(csv.contains("bundles/test-tiny-1"), "{csv}");
}

fn nightly(records: &Path, key: &Path, sleep_ms: u64) -> std::process::Output {
    let mut c = adversarial();
    c.args(["nightly", "--track", "test-tiny", "--runs", "3", "--key"])
        .arg(key)
        .arg("--records")
        .arg(records)
        .args(["--date", "2026-11-23"])
        .env("SPEEDCERT_TEST_STEP_SLEEP_MS", sleep_ms.to_string());
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

    // Tonight every step sleeps 160 ms longer: +4.48 s on runs of 1.33 s. Welch's two-sided
    // test at p < 0.01 (t > 9.925 at its worst 2 degrees of freedom) misses it only if one
    // record run was slower than usual by 3/10.925 of the gap (1.23 s, P 2e-10) or one night
    // run by 3/8.925 of it (1.51 s).
    let out = nightly(&records, &key, SLOW_NIGHT_SLEEP_MS);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "drift must exit 3");
    assert!(report.contains("environment against record #1"), "{report}");
    // The loss test is a two-sided Welch at 0.01 on 3 fresh seeds a side: about one night
    // in a hundred also flags the loss by chance (seen once: p = 0.0028), so the time
    // alarm is what must be there.
    assert!(
        report.contains("Nightly: time drift") || report.contains("Nightly: time and loss drift"),
        "{report}"
    );
    let bundle = records.join("nightly/2026-11-23/test-tiny");
    let drift = json(&bundle.join("drift.json"));
    assert!(
        matches!(
            drift["verdict"].as_str(),
            Some("time drift" | "time and loss drift")
        ),
        "{drift}"
    );
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

    // The next run (same date: a new folder beside the first) is an ordinary night. Its
    // change reaches 30% only if the mean of its 3 runs moves by 0.40 s (30% of 1.33 s)
    // against the record's: excursions summing to 1.19 s in one arm (P < 1e-7 for three
    // exponential excursions of mean 56 ms).
    let out = nightly(&records, &key, RECORD_SLEEP_MS);
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
    let out = nightly(&records, &key, RECORD_SLEEP_MS);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another `speedcert nightly` holds the lock"),
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
    let out = nightly(&records, &key, RECORD_SLEEP_MS);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("track `test-tiny` has no certified record"),
        "{}",
        stderr(&out)
    );
}
