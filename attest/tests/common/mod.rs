//! Shared fixtures: a small bundle shaped like docs/bundle-format.md, fixed test keys.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use speedcert_attest::{Check, Outcome, Signer, TrustStore, TrustedKey, VerifyReport};

/// Every file `write_bundle` creates, by subject name.
pub const FILES: &[&str] = &[
    "env.json",
    "runs/run-000/gpu.csv",
    "runs/run-000/run.json",
    "runs/run-000/steps.csv",
    "runs/run-001/gpu.csv",
    "runs/run-001/run.json",
    "runs/run-001/steps.csv",
    "summary.json",
    "track.toml",
];

pub fn write_bundle(dir: &Path) {
    let put = |name: &str, body: String| {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    };
    put(
        "track.toml",
        "name = \"synthetic-tiny\"\ntarget_val_loss = 3.28\n".into(),
    );
    put("env.json", json!({"cpu_count": 2, "gpu": []}).to_string());
    put(
        "summary.json",
        json!({"schema": "speedcert/summary/v1", "verdict": "new record"}).to_string(),
    );
    for i in 0..2 {
        put(
            &format!("runs/run-{i:03}/run.json"),
            json!({"schema": "speedcert/run/v1", "run_index": i, "seed": 1000 + i}).to_string(),
        );
        let mut steps = String::from("step,tokens,train_time_ms,train_loss,val_loss,lr\n");
        for s in 0..50 {
            steps.push_str(&format!(
                "{s},{},{}.5,{:.3},,0.001\n",
                s * 4096,
                s * 12,
                4.0 - s as f64 * 0.01
            ));
        }
        put(&format!("runs/run-{i:03}/steps.csv"), steps);
        put(
            &format!("runs/run-{i:03}/gpu.csv"),
            "t_ms,util,mem_mib\n".into(),
        );
    }
}

pub fn predicate() -> Value {
    json!({"summary": {"verdict": "new record", "time": {"p_value": 0.001}}})
}

/// A deterministic test key (never a real one).
pub fn signer(seed: u8) -> Signer {
    Signer::from_signing_key(
        SigningKey::from_bytes(&[seed; 32]),
        format!("test-{seed}.pem"),
    )
}

pub fn trust(signers: &[&Signer]) -> TrustStore {
    TrustStore::from_keys(
        signers
            .iter()
            .map(|s| {
                TrustedKey::new(
                    s.verifying_key(),
                    format!("test-{}.pub.pem", s.key_id().short()),
                )
            })
            .collect(),
    )
}

/// The failed check named `check` (about `subject`, if given), asserting there is one.
pub fn failed<'r>(report: &'r VerifyReport, check: &str, subject: Option<&str>) -> &'r Check {
    assert!(!report.is_genuine(), "expected a failure, got:\n{report}");
    report
        .checks()
        .iter()
        .find(|c| {
            c.outcome == Outcome::Fail
                && c.check == check
                && (subject.is_none() || c.subject.as_deref() == subject)
        })
        .unwrap_or_else(|| panic!("no FAIL {check} {subject:?} in:\n{report}"))
}

/// The check named `check` about `subject` with any outcome.
pub fn find<'r>(report: &'r VerifyReport, check: &str, subject: Option<&str>) -> &'r Check {
    report
        .checks()
        .iter()
        .find(|c| c.check == check && c.subject.as_deref() == subject)
        .unwrap_or_else(|| panic!("no {check} {subject:?} in:\n{report}"))
}

#[cfg(unix)]
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}
