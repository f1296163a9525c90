//! Dishonest and broken submissions, from the adversarial build of the real CLI.

mod common;
use common::*;

fn certify_alone(submission: &str, dir: &std::path::Path) -> serde_json::Value {
    let (key, _) = keygen(dir);
    let bundle = dir.join(submission);
    let out = certify_test_track(
        adversarial(),
        submission,
        &key,
        &bundle,
        &["--baseline-runs", "0"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a dishonest submission is never a record"
    );
    json(&bundle.join("summary.json"))
}

#[test]
fn looking_at_future_tokens_fails_the_causality_check() {
    let dir = tempfile::tempdir().unwrap();
    let s = certify_alone("peeks-future", dir.path());
    assert_eq!(s["verdict"], "check failed", "{s}");
    let c = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "causality")
        .unwrap();
    assert_eq!(c["passed"], false);
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("moved earlier logits"),
        "{c}"
    );
}

#[test]
fn a_made_up_train_loss_is_ignored() {
    let (_, r) = run_json(adversarial(), "fake-loss", 5);
    // It claimed 0.0 at every step; the harness's own validation loss is a real one.
    let loss = r["final_val_loss"].as_f64().unwrap();
    assert!(loss > 2.0 && loss < 3.5, "{loss}");
}

#[test]
fn a_panic_in_run_2_fails_that_run_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let s = certify_alone("panics-in-run-2", dir.path());
    assert_eq!(s["runs"]["candidate"], 3);
    assert_eq!(s["runs"]["candidate_failed"], 1);
    let failures = s["runs"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].as_str().unwrap().contains("run-001")
            && failures[0].as_str().unwrap().contains("deliberate panic"),
        "{failures:?}"
    );
    assert_eq!(s["loss"]["n"], 2, "the two good runs are kept");
    let bundle = dir.path().join("panics-in-run-2");
    assert_eq!(json(&bundle.join("runs/run-000/run.json"))["status"], "ok");
    assert_eq!(
        json(&bundle.join("runs/run-001/run.json"))["status"],
        "failed"
    );
    assert!(
        s["verdict_detail"].as_str().unwrap().contains("run-001"),
        "{s}"
    );
}

#[test]
fn a_nan_loss_ends_the_run_as_failed() {
    let (code, r) = run_json(adversarial(), "emits-nan", 5);
    assert_eq!(code, Some(3));
    assert_eq!(r["status"], "failed");
    let why = r["failure"].as_str().unwrap();
    assert!(why.contains("NaN") || why.contains("inf"), "{why}");
}

/// The track file is public, and with it the seed of its synthetic language: a submission
/// can learn that language in its untimed `init` and need no timed step. A certification
/// trains and validates every run on a language of its own, drawn per certification
/// (the floor and the target do not depend on the seed), so that submission misses.
#[test]
fn learning_the_public_language_before_the_clock_does_not_pass_a_certification() {
    let mut c = adversarial();
    c.env("SPEEDCERT_TEST_TRACK", test_track());
    let (_, r) = run_json(c, "pretrains-on-public-language", 2);
    assert_eq!(
        (r["steps"].as_u64(), r["reached_target"].as_bool()),
        (Some(0), Some(true)),
        "on the public language it needs no timed step: {r}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let bundle = dir.path().join("b");
    let mut c = adversarial();
    c.env("SPEEDCERT_TEST_TRACK", test_track());
    let out = certify_test_track(
        c,
        "pretrains-on-public-language",
        &key,
        &bundle,
        &["--baseline-runs", "0"],
    );
    assert_eq!(out.status.code(), Some(3));
    let plan = json(&bundle.join("plan.json"));
    let secret = plan["language_seed"]
        .as_u64()
        .expect("plan.json draws a language");
    for i in 0..3 {
        let r = json(&bundle.join(format!("runs/run-{i:03}/run.json")));
        assert_eq!(r["language_seed"].as_u64(), Some(secret), "{r}");
        assert_eq!(r["reached_target"], false, "{r}");
        let loss = r["final_val_loss"].as_f64().unwrap();
        assert!(loss > r["target_val_loss"].as_f64().unwrap() + 0.5, "{r}");
    }
}
