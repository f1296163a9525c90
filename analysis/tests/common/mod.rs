//! Builds a records folder of real, signed bundles for the tests (docs/bundle-format.md
//! files, signed with speedcert-attest and a key generated here).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::json;
use speedcert_attest::{Signer, generate_key, public_key_path, sign_bundle};

/// One run to write: role, index, train time (ms), final loss, status.
pub struct RunSpec {
    pub role: &'static str,
    pub index: u32,
    pub time_ms: f64,
    pub loss: f64,
    pub ok: bool,
}

pub fn run(role: &'static str, index: u32, time_ms: f64, loss: f64) -> RunSpec {
    RunSpec {
        role,
        index,
        time_ms,
        loss,
        ok: true,
    }
}

pub struct BundleSpec<'a> {
    pub rel: &'a str,
    pub track: &'a str,
    pub submission: &'a str,
    pub baseline: Option<&'a str>,
    pub created_at: &'a str,
    pub verdict: &'a str,
    pub p_value: Option<f64>,
    pub runs: Vec<RunSpec>,
}

pub struct Keys {
    pub signer: Signer,
    pub other: Signer,
    _tmp: tempfile::TempDir,
}

/// A trusted key (its public half copied to `records/keys/`) and an untrusted one.
pub fn keys(records: &Path) -> Keys {
    let tmp = tempfile::tempdir().unwrap();
    let trusted = tmp.path().join("certifier.pem");
    let other = tmp.path().join("stranger.pem");
    generate_key(&trusted).unwrap();
    generate_key(&other).unwrap();
    std::fs::create_dir_all(records.join("keys")).unwrap();
    std::fs::copy(
        public_key_path(&trusted),
        records.join("keys/certifier.pub.pem"),
    )
    .unwrap();
    Keys {
        signer: Signer::load(&trusted).unwrap(),
        other: Signer::load(&other).unwrap(),
        _tmp: tmp,
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Writes a bundle folder and signs it with `signer`; returns its path.
pub fn write_bundle(records: &Path, spec: &BundleSpec, signer: &Signer) -> PathBuf {
    let dir = records.join(spec.rel);
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    std::fs::write(
        dir.join("track.toml"),
        format!("name = \"{}\"\ntarget_val_loss = 3.28\n", spec.track),
    )
    .unwrap();
    std::fs::write(
        dir.join("env.json"),
        r#"{"gpu": [], "gpu_count": 0, "cpu_model": "test", "cpu_count": 2}"#,
    )
    .unwrap();
    let cand: Vec<f64> = spec
        .runs
        .iter()
        .filter(|r| r.role == "candidate" && r.ok)
        .map(|r| r.time_ms)
        .collect();
    let base: Vec<f64> = spec
        .runs
        .iter()
        .filter(|r| r.role == "baseline" && r.ok)
        .map(|r| r.time_ms)
        .collect();
    let closs: Vec<f64> = spec
        .runs
        .iter()
        .filter(|r| r.role == "candidate" && r.ok)
        .map(|r| r.loss)
        .collect();
    let (cm, csd) = mean_sd(&cand);
    let (lm, lsd) = mean_sd(&closs);
    let baseline_stats = if base.is_empty() {
        serde_json::Value::Null
    } else {
        let (bm, bsd) = mean_sd(&base);
        json!({"n": base.len(), "mean_ms": bm, "sd_ms": bsd})
    };
    let summary = json!({
        "schema": "speedcert/summary/v1",
        "track": spec.track,
        "submission": spec.submission,
        "baseline_submission": spec.baseline,
        "comparison": if spec.baseline.is_some() { "same-machine" } else { "none" },
        "created_at": spec.created_at,
        "threshold": 0.01,
        "target_val_loss": 3.28,
        "runs": {"candidate": cand.len(), "candidate_failed": 0, "baseline": base.len(), "baseline_failed": 0},
        "time": {
            "candidate": {"n": cand.len(), "mean_ms": cm, "sd_ms": csd, "min_ms": 0.0, "max_ms": 0.0},
            "baseline": baseline_stats,
            "p_value": spec.p_value,
            "change_pct": null,
            "ci95_diff_ms": null
        },
        "loss": {"mean": lm, "sd": lsd, "n": closs.len(), "t": -5.0, "p_value": 0.001},
        "checks": [{"name": "causality", "passed": true, "detail": "ok"}],
        "official": true,
        "verdict": spec.verdict,
        "a_field_from_the_future": {"readers": "must ignore it"}
    });
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
    for r in &spec.runs {
        let rd = dir.join(format!("runs/run-{:03}", r.index));
        std::fs::create_dir_all(&rd).unwrap();
        let submission = if r.role == "candidate" {
            spec.submission
        } else {
            spec.baseline.unwrap_or("reference")
        };
        let run = json!({
            "schema": "speedcert/run/v1",
            "track": spec.track,
            "track_sha256": "00",
            "submission": submission,
            "role": r.role,
            "run_index": r.index,
            "seed": 1000 + u64::from(r.index),
            "device": "cpu",
            "precision": "f32",
            "status": if r.ok { "ok" } else { "failed" },
            "failure": if r.ok { serde_json::Value::Null } else { json!("NaN loss at step 3") },
            "started_at": format!("{}T08:{:02}:00Z", &spec.created_at[..10], r.index),
            "steps": 4,
            "train_tokens": 4096,
            "train_time_ms": if r.ok { json!(r.time_ms) } else { serde_json::Value::Null },
            "val_time_ms": 12.5,
            "time_to_target_ms": null,
            "final_val_loss": if r.ok { json!(r.loss) } else { serde_json::Value::Null },
            "heldout_val_loss": if r.ok { json!(r.loss + 0.002) } else { serde_json::Value::Null },
            "reached_target": r.ok,
            "official": true,
            "throttled": false,
            "env": {"cpu_count": 2},
            "unknown_future_field": [1, 2, 3]
        });
        std::fs::write(
            rd.join("run.json"),
            serde_json::to_vec_pretty(&run).unwrap(),
        )
        .unwrap();
        let mut steps = String::from("step,tokens,train_time_ms,train_loss,val_loss,lr\n");
        for s in 0..=4u32 {
            let t = r.time_ms * f64::from(s) / 4.0;
            let val = if s % 2 == 0 {
                format!("{}", r.loss + 0.5 * f64::from(4 - s) / 4.0)
            } else {
                String::new()
            };
            steps.push_str(&format!(
                "{s},{},{t},{},{val},0.001\n",
                1024 * s,
                5.0 - f64::from(s) * 0.3
            ));
        }
        std::fs::write(rd.join("steps.csv"), steps).unwrap();
        std::fs::write(rd.join("gpu.csv"), "t_ms,util\n").unwrap();
    }
    sign_bundle(
        &dir,
        std::slice::from_ref(signer),
        json!({"verdict": spec.verdict}),
    )
    .unwrap();
    dir
}

/// The standard test records folder:
/// - tiny/2026-11-20-reference: first record of `synthetic-tiny` (no baseline)
/// - tiny/2026-11-22-fast: second record, candidate and baseline interleaved
/// - tiny/2026-11-23-slow: "not significant" (runs counted, no record)
/// - other/2026-11-21-ref: first record of track `other`
/// - tiny/2026-11-24-tampered: a "new record" whose run.json was edited after signing
/// - tiny/2026-11-25-stranger: signed by a key that is not trusted
pub fn standard(records: &Path) -> Keys {
    let k = keys(records);
    let b = |rel, track, submission, baseline, created_at, verdict, p_value, runs| BundleSpec {
        rel,
        track,
        submission,
        baseline,
        created_at,
        verdict,
        p_value,
        runs,
    };
    write_bundle(
        records,
        &b(
            "bundles/tiny/2026-11-20-reference",
            "synthetic-tiny",
            "reference",
            None,
            "2026-11-20T09:00:00Z",
            "new record",
            None,
            vec![
                run("candidate", 0, 1000.0, 3.20),
                run("candidate", 1, 1010.0, 3.22),
                run("candidate", 2, 990.0, 3.21),
            ],
        ),
        &k.signer,
    );
    let mut fast = vec![
        run("candidate", 0, 900.0, 3.25),
        run("baseline", 1, 1001.0, 3.21),
        run("candidate", 2, 905.0, 3.24),
        run("baseline", 3, 999.0, 3.20),
        run("candidate", 4, 895.0, 3.26),
        run("baseline", 5, 1000.0, 3.21),
    ];
    fast.push(RunSpec {
        role: "candidate",
        index: 6,
        time_ms: 0.0,
        loss: 0.0,
        ok: false,
    });
    write_bundle(
        records,
        &b(
            "bundles/tiny/2026-11-22-fast",
            "synthetic-tiny",
            "fast",
            Some("reference"),
            "2026-11-22T10:00:00Z",
            "new record",
            Some(0.0004),
            fast,
        ),
        &k.signer,
    );
    write_bundle(
        records,
        &b(
            "bundles/tiny/2026-11-23-slow",
            "synthetic-tiny",
            "slow",
            Some("fast"),
            "2026-11-23T10:00:00Z",
            "not significant",
            Some(0.3),
            vec![
                run("candidate", 0, 1200.0, 3.10),
                run("baseline", 1, 902.0, 3.25),
            ],
        ),
        &k.signer,
    );
    write_bundle(
        records,
        &b(
            "bundles/other/2026-11-21-ref",
            "other",
            "reference",
            None,
            "2026-11-21T09:00:00Z",
            "new record",
            None,
            vec![
                run("candidate", 0, 61_000.0, 2.9),
                run("candidate", 1, 62_000.0, 2.91),
            ],
        ),
        &k.signer,
    );
    let tampered = write_bundle(
        records,
        &b(
            "bundles/tiny/2026-11-24-tampered",
            "synthetic-tiny",
            "cheater",
            Some("fast"),
            "2026-11-24T10:00:00Z",
            "new record",
            Some(0.0001),
            vec![
                run("candidate", 0, 500.0, 3.27),
                run("baseline", 1, 900.0, 3.25),
            ],
        ),
        &k.signer,
    );
    let run_json = tampered.join("runs/run-000/run.json");
    let text = std::fs::read_to_string(&run_json)
        .unwrap()
        .replace("500.0", "400.0");
    std::fs::write(&run_json, text).unwrap();
    write_bundle(
        records,
        &b(
            "bundles/tiny/2026-11-25-stranger",
            "synthetic-tiny",
            "stranger",
            Some("fast"),
            "2026-11-25T10:00:00Z",
            "new record",
            Some(0.0001),
            vec![run("candidate", 0, 450.0, 3.27)],
        ),
        &k.other,
    );
    k
}
