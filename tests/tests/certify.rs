//! Certification end to end on the CPU test track: a real improvement is a new record,
//! a slower submission is not, bundles verify, tampering is caught, and an interrupted
//! certification resumes without repeating finished runs.
//!
//! Verdicts on time rest on 3 timed runs a side. Where a test asserts one, the two arms
//! differ by the adversarial binary's `slowed-reference` sleep (4.0 s against 0.2-0.3 s of
//! compute, sized at `SLOWED_REFERENCE_SLEEP`), never by the machine's luck.

mod common;
use common::*;
use std::path::Path;

fn certify(submission: &str, key: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    certify_test_track(speedcert(), submission, key, out, extra)
}

/// Certification by the adversarial build, which knows `slowed-reference`.
fn certify_adversarial(
    submission: &str,
    key: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    certify_test_track(adversarial(), submission, key, out, extra)
}

/// reference-fast against a baseline 4 s slower per run: a new record by construction.
const AGAINST_SLOWED: [&str; 2] = ["--baseline", "slowed-reference"];

#[test]
fn a_faster_submission_is_a_new_record_that_verifies_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("fast");
    let out = certify_adversarial("reference-fast", &key, &bundle, &AGAINST_SLOWED);
    assert_eq!(out.status.code(), Some(0), "expected a new record");
    let report = stdout(&out);
    assert!(report.contains("Verdict: new record"), "{report}");
    let s = json(&bundle.join("summary.json"));
    assert_eq!(s["verdict"], "new record");
    assert_eq!(s["comparison"], "same-machine");
    assert!(s["time"]["p_value"].as_f64().unwrap() < 0.01);
    assert!(s["loss"]["p_value"].as_f64().unwrap() < 0.01);
    assert!(s["time"]["change_pct"].as_f64().unwrap() < 0.0);
    assert_eq!(s["runs"]["candidate"], 3);
    assert_eq!(s["runs"]["baseline"], 3);
    // Interleaved in pairs, the order inside each pair drawn by the plan.
    let plan = json(&bundle.join("plan.json"));
    let slots = plan["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 6);
    for (k, pair) in slots.chunks(2).enumerate() {
        assert_eq!(pair[0]["pair"], k, "{plan}");
        assert_eq!(pair[1]["pair"], k, "{plan}");
        assert_ne!(pair[0]["role"], pair[1]["role"], "{plan}");
    }
    let checks = s["checks"].as_array().unwrap();
    for name in [
        "causality",
        "validation_isolation",
        "loss_floor",
        "heldout_validation",
        "independent_seeds",
        "token_accounting",
        "identity",
    ] {
        let c = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}"));
        assert_eq!(c["passed"], true, "{c}");
    }

    let ok = verify(&bundle, &public);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains("statistics"), "{}", stdout(&ok));

    // Resume: the last run as if killed before it finished (no run.json, no seal) and no
    // signature yet; only that run is redone. (A sealed run is never redone: sealing.rs.)
    let kept = std::fs::read(bundle.join("runs/run-000/run.json")).unwrap();
    std::fs::remove_file(bundle.join("runs/run-005/run.json")).unwrap();
    std::fs::remove_file(bundle.join("journal/run-005.dsse.json")).unwrap();
    std::fs::remove_file(bundle.join("summary.json")).unwrap();
    std::fs::remove_file(bundle.join("attestation.dsse.json")).unwrap();
    let resumed = certify_adversarial("reference-fast", &key, &bundle, &["--resume"]);
    assert!(
        stderr(&resumed).contains("5 of 6 runs already finished"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(
        std::fs::read(bundle.join("runs/run-000/run.json")).unwrap(),
        kept
    );
    assert!(bundle.join("runs/run-005/run.json").is_file());
    assert_eq!(verify(&bundle, &public).status.code(), Some(0));

    // A run.json whose throughput was edited (and re-signed) does not verify: the figure
    // is recomputed from its tokens and time, naming the file.
    let run_json = bundle.join("runs/run-001/run.json");
    let original = std::fs::read(&run_json).unwrap();
    let mut r = json(&run_json);
    r["train_tokens_per_s"] = (r["train_tokens_per_s"].as_f64().unwrap() * 2.0).into();
    std::fs::write(&run_json, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    let resign = || {
        std::fs::remove_file(bundle.join("attestation.dsse.json")).unwrap();
        let mut c = speedcert();
        c.arg("sign").arg(&bundle).arg("--key").arg(&key);
        assert!(run(c).status.success());
    };
    resign();
    let edited = verify(&bundle, &public);
    assert_eq!(edited.status.code(), Some(3), "{}", stdout(&edited));
    assert!(
        stdout(&edited).contains("runs/run-001/run.json")
            && stdout(&edited).contains("train_tokens_per_s"),
        "{}",
        stdout(&edited)
    );
    std::fs::write(&run_json, original).unwrap();
    resign();
    assert_eq!(verify(&bundle, &public).status.code(), Some(0));

    // Editing a step log after signing is caught, naming the file.
    let steps = bundle.join("runs/run-002/steps.csv");
    let mut text = std::fs::read_to_string(&steps).unwrap();
    text = text.replacen(',', ";", 1);
    std::fs::write(&steps, text).unwrap();
    let bad = verify(&bundle, &public);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        stdout(&bad).contains("runs/run-002/steps.csv"),
        "{}",
        stdout(&bad)
    );
}

/// The reference against itself would be "not significant" only at the test's level
/// (a 1% false record by design): a candidate 4 s slower per run is one whatever the noise.
#[test]
fn a_slower_submission_is_not_significant() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let bundle = dir.path().join("slower");
    let out = certify_adversarial(
        "slowed-reference",
        &key,
        &bundle,
        &["--baseline", "reference"],
    );
    assert_eq!(out.status.code(), Some(3));
    let s = json(&bundle.join("summary.json"));
    assert_eq!(s["verdict"], "not significant", "{s}");
    assert!(s["time"]["p_value"].as_f64().unwrap() >= 0.01);
    assert!(s["time"]["change_pct"].as_f64().unwrap() > 0.0, "{s}");
}

#[test]
fn a_summary_edited_and_resigned_fails_the_statistics_check() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("b");
    certify("reference", &key, &bundle, &["--baseline-runs", "0"]);
    // A certifier who lies: claims a new record and signs it with a trusted key.
    let path = bundle.join("summary.json");
    let mut s = json(&path);
    s["verdict"] = "new record".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    std::fs::remove_file(bundle.join("attestation.dsse.json")).unwrap();
    let mut c = speedcert();
    c.arg("sign").arg(&bundle).arg("--key").arg(&key);
    assert!(run(c).status.success());
    let out = verify(&bundle, &public);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("verdict"), "{}", stdout(&out));
}

/// `--device cuda` where there is no NVIDIA driver (CI) stops before the first run and
/// before the bundle folder has any content, instead of failing every run alike.
#[test]
fn certify_on_cuda_without_a_driver_stops_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let out_dir = dir.path().join("bundle");
    let out = certify("reference", &key, &out_dir, &["--device", "cuda"]);
    let err = stderr(&out);
    if out_dir.join("summary.json").is_file() {
        return; // a GPU machine: the certification ran (its verdict is another test's)
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--device cpu") && !err.contains("panicked"),
        "{err}"
    );
    let written = std::fs::read_dir(&out_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "{err}");
}
