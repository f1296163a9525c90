//! Verification across schema versions, and of bundles whose files were edited and
//! re-signed by a trusted key.

use std::path::{Path, PathBuf};

use speedcert_attest::{Outcome, Signer, TrustStore, TrustedKey};
use speedcert_bundle::summary::{self, BundleInputs};
use speedcert_bundle::{CheckId, SummaryVersion, Verdict, layout, seal, verify_bundle};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/summary-v1")
}

fn fixture_trust() -> TrustStore {
    TrustStore::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/summary-v1-key.pub.pem"),
    )
    .unwrap()
}

/// A copy of the fixture in a temp folder, with a fresh signing key trusted alone.
fn copy_with_key() -> (tempfile::TempDir, PathBuf, Signer, TrustStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    copy_dir(&fixture(), &dir);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let trust = TrustStore::from_keys(vec![TrustedKey::new(key.verifying_key(), "test key")]);
    (tmp, dir, Signer::from_signing_key(key, "test key"), trust)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn failures(report: &speedcert_attest::VerifyReport) -> Vec<String> {
    report.failures().map(|c| c.to_string()).collect()
}

#[test]
fn a_bundle_signed_before_a_check_existed_still_verifies() {
    let report = verify_bundle(&fixture(), &fixture_trust(), 1).unwrap();
    assert!(report.is_genuine(), "{report}");
    let stats = report
        .checks()
        .iter()
        .find(|c| c.check == "statistics")
        .unwrap();
    assert!(stats.detail.contains("speedcert/summary/v1"), "{stats:?}");
    // The check added in v2 ran as advice, and passes on these honest runs.
    let later = report
        .checks()
        .iter()
        .find(|c| c.check == "later-checks")
        .unwrap();
    assert_eq!(later.outcome, Outcome::Pass, "{later:?}");
    assert!(later.detail.contains("step_log"), "{later:?}");
}

#[test]
fn each_schema_computes_its_own_checks() {
    let inputs = BundleInputs::read(&fixture()).unwrap();
    let v1 = summary::compute_version(&inputs, SummaryVersion::V1);
    let v2 = summary::compute_version(&inputs, SummaryVersion::V2);
    let v3 = summary::compute(&inputs);
    assert_eq!(v1.schema, "speedcert/summary/v1");
    assert_eq!(v2.schema, "speedcert/summary/v2");
    assert_eq!(v3.schema, SummaryVersion::CURRENT.schema());
    let has = |s: &speedcert_bundle::Summary| s.checks.iter().any(|c| c.name == CheckId::StepLog);
    assert!(!has(&v1) && has(&v2));
    assert_eq!(v1.verdict, Verdict::NewRecord);
    assert_eq!(v2.verdict, Verdict::NewRecord);
    // v3 decides on the plan's pairs, and a v1 plan drew none: no paired test, no record,
    // and the verdict says why and which comparison it was.
    assert_eq!(v3.verdict, Verdict::NotSignificant, "{}", v3.verdict_detail);
    assert!(
        v3.verdict_detail
            .starts_with("paired comparison with baseline reruns on this machine: no time comparison: paired test impossible (0 complete pairs"),
        "{}",
        v3.verdict_detail
    );
    // Welch stays as a reported figure.
    let t = v3.time.as_ref().unwrap();
    assert_eq!(t.welch_p, v2.time.as_ref().unwrap().p_value);
}

#[test]
fn an_edited_summary_resigned_by_a_trusted_key_fails_recomputation() {
    let (_tmp, dir, signer, trust) = copy_with_key();
    let inputs = BundleInputs::read(&dir).unwrap();
    let mut s = summary::compute(&inputs);
    let time = s.time.as_mut().unwrap();
    time.candidate.mean_ms *= 0.5;
    seal(&dir, &[signer], &s, None).unwrap();
    let report = verify_bundle(&dir, &trust, 1).unwrap();
    assert!(!report.is_genuine());
    let f = failures(&report).join("\n");
    assert!(f.contains("time.candidate.mean_ms"), "{f}");
}

#[test]
fn a_step_log_that_contradicts_its_run_fails_schema_v2() {
    let (_tmp, dir, signer, trust) = copy_with_key();
    // Stretch the training time at the end of run 0's log, then sign an honest v2 summary of the
    // edited files: the signature and the statistics agree, the runs do not.
    let steps = layout::run_dir(&dir, 0).join(layout::STEPS);
    let text = std::fs::read_to_string(&steps).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines.len() - 1;
    let mut cells: Vec<String> = lines[last].split(',').map(str::to_owned).collect();
    let t: f64 = cells[2].parse().unwrap();
    cells[2] = (t * 1.001).to_string();
    lines[last] = cells.join(",");
    std::fs::write(&steps, lines.join("\n") + "\n").unwrap();
    let inputs = BundleInputs::read(&dir).unwrap();
    let s = summary::compute_version(&inputs, SummaryVersion::V2);
    assert_eq!(s.verdict, Verdict::CheckFailed, "{}", s.verdict_detail);
    let check = s
        .checks
        .iter()
        .find(|c| c.name == CheckId::StepLog)
        .unwrap();
    assert!(!check.passed);
    assert!(check.detail.contains("run-000"), "{}", check.detail);
    assert!(check.detail.contains("ms"), "{}", check.detail);
    seal(&dir, &[signer], &s, None).unwrap();
    // Genuine as a signature, but its verdict is "check failed": nothing to certify.
    let report = verify_bundle(&dir, &trust, 1).unwrap();
    assert!(report.is_genuine(), "{report}");
}

#[test]
fn a_summary_from_an_unknown_schema_is_refused_with_the_reason() {
    let (_tmp, dir, signer, trust) = copy_with_key();
    let inputs = BundleInputs::read(&dir).unwrap();
    let mut s = summary::compute(&inputs);
    s.schema = "speedcert/summary/v99".into();
    seal(&dir, &[signer], &s, None).unwrap();
    let report = verify_bundle(&dir, &trust, 1).unwrap();
    assert!(!report.is_genuine());
    assert!(failures(&report).join("\n").contains("v99"), "{report}");
}

#[test]
fn verification_reads_through_the_layout() {
    for f in [
        layout::TRACK,
        layout::ENV,
        layout::PLAN,
        layout::SUMMARY,
        layout::ATTESTATION,
    ] {
        assert!(fixture().join(f).is_file(), "{f}");
    }
    assert!(layout::run_dir(&fixture(), 5).join(layout::RUN).is_file());
}

#[test]
fn a_track_that_requires_fences_is_official_only_when_every_run_was_in_them() {
    use speedcert_track::Fence;
    let mut inputs = BundleInputs::read(&fixture()).unwrap();
    let fences = |s: &speedcert_bundle::Summary| {
        s.checks
            .iter()
            .find(|c| c.name == CheckId::PinFences)
            .cloned()
    };
    // Schema v2 decides on Welch's test, by which these runs make a record: only a failed
    // pin stands between them and it. A track that requires no fence has no such check.
    let before = summary::compute_version(&inputs, SummaryVersion::V2);
    assert!(fences(&before).is_none() && before.official);
    assert_eq!(before.verdict, Verdict::NewRecord);

    inputs.track.spec.certification.required_fences =
        vec![Fence::NetworkNamespace, Fence::LandlockFilesystem];
    // These runs were made before fences existed: none was in them.
    let s = summary::compute_version(&inputs, SummaryVersion::V2);
    let c = fences(&s).unwrap();
    assert!(!c.passed && !s.official, "{c:?}");
    let n = inputs.runs.len();
    assert!(
        c.detail.contains(&format!(
            "{n} of {n} runs were not: run-000 not in network-namespace, landlock-filesystem"
        )),
        "{}",
        c.detail
    );
    assert_eq!(s.verdict, Verdict::UnofficialEnvironment);
    assert!(
        s.verdict_detail.contains("pin.fences"),
        "{}",
        s.verdict_detail
    );

    // One run in only one of them: that run is named, with the fence it lacked.
    for r in &mut inputs.runs {
        r.fences = Fence::ALL.iter().map(|f| f.to_string()).collect();
    }
    inputs.runs[1].fences = vec!["network-namespace".into()];
    let c = fences(&summary::compute_version(&inputs, SummaryVersion::V2)).unwrap();
    assert!(!c.passed, "{c:?}");
    assert!(
        c.detail.ends_with(&format!(
            "1 of {n} runs were not: run-001 not in landlock-filesystem"
        )),
        "{}",
        c.detail
    );

    // Every run in every required fence: the pin holds and the bundle is official again.
    inputs.runs[1].fences = inputs.runs[0].fences.clone();
    let s = summary::compute_version(&inputs, SummaryVersion::V2);
    let c = fences(&s).unwrap();
    assert!(c.passed && s.official, "{c:?}");
    assert_eq!(s.verdict, before.verdict);
}

#[test]
fn a_track_pinning_eight_gpus_is_official_only_for_runs_that_trained_on_eight() {
    use speedcert_track::DeviceKind;
    let mut inputs = BundleInputs::read(&fixture()).unwrap();
    inputs.track.spec.hardware.device = DeviceKind::Cuda;
    inputs.track.spec.hardware.gpu_count = Some(8);
    for r in &mut inputs.runs {
        r.device = DeviceKind::Cuda;
        r.env.gpu_count = 8;
    }
    let count = |s: &speedcert_bundle::Summary| {
        s.checks
            .iter()
            .find(|c| c.name == CheckId::PinGpuCount)
            .cloned()
            .unwrap()
    };
    // An 8-GPU machine, runs that recorded no device count: they trained on one, as every
    // run of the harness has so far. Not official, whatever the machine had.
    let s = summary::compute_version(&inputs, SummaryVersion::V2);
    let c = count(&s);
    assert!(!c.passed && !s.official, "{c:?}");
    assert!(
        c.detail
            .starts_with("track pins 8 GPUs, found 8, trained on 1"),
        "{}",
        c.detail
    );
    assert_eq!(s.verdict, Verdict::UnofficialEnvironment);

    // One run on 8, the others on 1: still not.
    inputs.runs[0].devices = Some(8);
    assert!(!count(&summary::compute_version(&inputs, SummaryVersion::V2)).passed);

    // Every run on all 8 GPUs: the pin holds.
    for r in &mut inputs.runs {
        r.devices = Some(8);
    }
    let s = summary::compute_version(&inputs, SummaryVersion::V2);
    assert!(count(&s).passed && s.official, "{:?}", count(&s));
    assert_eq!(s.verdict, Verdict::NewRecord);
}

/// run.json's memory plan is recomputed from track.toml, and its device count must fit
/// the machine the run reported: an edited value is refused, naming the file and field.
#[test]
fn a_memory_plan_or_device_count_that_contradicts_the_bundle_is_refused() {
    use speedcert_track::memory::MemoryPlan;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    copy_dir(&fixture(), &dir);
    let run = layout::run_dir(&dir, 0).join(layout::RUN);
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&run).unwrap()).unwrap();
    let track = BundleInputs::read(&dir).unwrap().track.spec;
    let plan = MemoryPlan::estimate(&track.model, &track.reference);
    let write = |memory_plan: &MemoryPlan, devices: u32| {
        let mut r = original.clone();
        r["memory"] = serde_json::json!({
            "plan": memory_plan, "device_bytes": 1u64 << 34,
            "baseline_bytes": null, "peak_bytes": null
        });
        r["devices"] = devices.into();
        std::fs::write(&run, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    };

    write(&plan, 1);
    BundleInputs::read(&dir).expect("the plan track.toml gives, on one CPU");

    let edited = MemoryPlan {
        total: plan.total / 2,
        ..plan
    };
    write(&edited, 2);
    let err = BundleInputs::read(&dir).unwrap_err().to_string();
    for words in [
        "runs/run-000/run.json",
        "memory.plan is",
        "but track.toml's memory plan says",
        "devices is 2, but a cpu run on its machine (env.gpu_count 0) can train on 1 to 1",
    ] {
        assert!(err.contains(words), "{words:?} not in {err}");
    }
}
