//! Verification trusts nothing it can recompute (issue 20, cases 1-4): a bundle re-signed
//! by a trusted key, with runs that contradict each other or files taken away, is refused
//! by `verify` and by `certify --collect`, naming the file. Then a property test: of
//! random edits to a signed bundle's files, each re-signed by the trusted key, the only
//! ones `verify` accepts are those that change no figure speedcert derives from it.
//!
//! Each test certifies its own bundle of the test track (reference against itself, 3 + 3
//! runs: a few seconds); no verdict here depends on timing.

mod common;
use common::*;
use std::cell::Cell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use speedcert_bundle::verify::first_difference;
use speedcert_bundle::{BundleInputs, layout, steps::StepLog, summary};

/// A freshly certified bundle and its key pair, in a temp folder.
struct Fixture {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

fn certified() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("bundle");
    let out = certify_test_track(speedcert(), "reference", &key, &bundle, &[]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "certify did not finish"
    );
    Fixture {
        _dir: dir,
        bundle,
        key,
        public,
    }
}

/// `speedcert certify --collect` of the fixture's bundle with its key, plus `extra`.
fn collect(f: &Fixture, extra: &[&str]) -> std::process::Output {
    let mut c = speedcert();
    c.args(["certify", "--collect"])
        .arg(&f.bundle)
        .arg("--key")
        .arg(&f.key)
        .args(extra);
    run(c)
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v = json(path);
    edit(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn case1_a_forged_summary_without_plan_json_is_refused_and_never_a_record() {
    let f = certified();
    edit_json(&f.bundle.join(layout::SUMMARY), |s| {
        s["verdict"] = "new record".into();
        s["time"]["p_value"] = 1e-6.into();
        s["time"]["candidate"]["mean_ms"] = 100.0.into();
    });
    std::fs::remove_file(f.bundle.join(layout::PLAN)).unwrap();
    resign(&f.bundle, &f.key);
    refused(&verify(&f.bundle, &f.public), "plan.json", "missing");

    // records rebuild judges it the same way: excluded, and no record.
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("keys")).unwrap();
    std::fs::copy(&f.public, records.join("keys/certifier.pub.pem")).unwrap();
    copy_dir(&f.bundle, &records.join("bundles/test-tiny/forged"));
    let mut c = speedcert();
    c.args(["records", "rebuild", "--json", "--dir"])
        .arg(&records);
    let out = run(c);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 0, "{report}");
    assert_eq!(report["excluded"].as_array().unwrap().len(), 1, "{report}");
}

#[test]
fn case2_runs_of_another_track_spliced_in_are_refused_by_collect_and_verify() {
    let f = certified();
    // A copy of the track with fewer steps: a cheaper run of "the same" recipe.
    let text = std::fs::read_to_string(test_track()).unwrap();
    let short = text.replacen("\nsteps = 40\n", "\nsteps = 20\n", 1);
    assert_ne!(short, text, "the test track trains 40 steps");
    let other = f._dir.path().join("short.toml");
    std::fs::write(&other, short).unwrap();
    let plan = json(&f.bundle.join(layout::PLAN));
    let slot = &plan["slots"][0];
    let run_dir = f.bundle.join("runs/run-000");
    std::fs::remove_dir_all(&run_dir).unwrap();
    let mut c = speedcert();
    c.arg("run").arg("--track").arg(&other).args([
        "--submission",
        slot["submission"].as_str().unwrap(),
        "--seed",
        &slot["seed"].to_string(),
        "--heldout-seed",
        &slot["heldout_seed"].to_string(),
        "--run-index",
        "0",
        "--role",
        slot["role"].as_str().unwrap(),
    ]);
    c.arg("--out").arg(&run_dir);
    // Trained to the end; whether 20 steps reach the target depends on the drawn seed, and
    // the splice is refused either way.
    assert!(
        matches!(run(c).status.code(), Some(0 | 3)) && run_dir.join(layout::RUN).is_file(),
        "the spliced run trains"
    );

    let out = collect(&f, &[]);
    assert_eq!(out.status.code(), Some(1), "collect must refuse to sign");
    let err = stderr(&out);
    // The journal sealed the original run: collect refuses the swap before reading it.
    assert!(
        err.contains("runs/run-000/run.json: changed after its seal (journal/run-000.dsse.json)"),
        "collect names the run:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    resign(&f.bundle, &f.key);
    refused(
        &verify(&f.bundle, &f.public),
        "runs/run-000/run.json",
        "track_sha256",
    );
}

#[test]
fn case3_halved_times_in_run_json_contradict_the_step_log() {
    let f = certified();
    let plan = json(&f.bundle.join(layout::PLAN));
    for slot in plan["slots"].as_array().unwrap() {
        if slot["role"] != "candidate" {
            continue;
        }
        let i = slot["index"].as_u64().unwrap() as usize;
        edit_json(
            &f.bundle
                .join(layout::run_dir(Path::new(""), i))
                .join(layout::RUN),
            |r| {
                let t = r["train_time_ms"].as_f64().unwrap() / 2.0;
                let tokens = r["train_tokens"].as_f64().unwrap();
                r["train_time_ms"] = t.into();
                r["train_tokens_per_s"] = (tokens / (t / 1e3)).into();
            },
        );
    }
    // Each run was sealed as it finished: collect refuses the edited ones, by name, and
    // signs nothing.
    let signed = std::fs::read(f.bundle.join(layout::ATTESTATION)).unwrap();
    let out = collect(&f, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "collect must refuse to sign");
    let err = stderr(&out);
    for slot in plan["slots"].as_array().unwrap() {
        let name = layout::run_name(slot["index"].as_u64().unwrap() as usize);
        let named = err.contains(&format!("runs/{name}/run.json: changed after its seal"));
        assert_eq!(named, slot["role"] == "candidate", "{name}:\n{err}");
    }
    assert_eq!(
        std::fs::read(f.bundle.join(layout::ATTESTATION)).unwrap(),
        signed,
        "collect re-signed the edited bundle"
    );

    // And the same edit re-signed under the old summary: the recomputation disagrees.
    let g = certified();
    let path = g.bundle.join("runs/run-000/run.json");
    edit_json(&path, |r| {
        let t = r["train_time_ms"].as_f64().unwrap() / 2.0;
        let tokens = r["train_tokens"].as_f64().unwrap();
        r["train_time_ms"] = t.into();
        r["train_tokens_per_s"] = (tokens / (t / 1e3)).into();
    });
    resign(&g.bundle, &g.key);
    refused(&verify(&g.bundle, &g.public), "", "statistics");
}

#[test]
fn case4_a_missing_summary_is_a_failed_check_naming_summary_json() {
    // (a) summary.json removed, the folder re-signed by `speedcert sign`.
    let f = certified();
    std::fs::remove_file(f.bundle.join(layout::SUMMARY)).unwrap();
    resign(&f.bundle, &f.key);
    refused(&verify(&f.bundle, &f.public), "summary.json", "no summary");

    // (b) the signed predicate keeps its summary, but summary.json is no longer a file or
    //     a subject (a statement made by hand with the trusted key).
    let g = certified();
    let predicate = json(&g.bundle.join(layout::ATTESTATION));
    let payload = predicate["payload"].as_str().unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&base64_decode(payload)).unwrap();
    std::fs::remove_file(g.bundle.join(layout::SUMMARY)).unwrap();
    std::fs::remove_file(g.bundle.join(layout::ATTESTATION)).unwrap();
    let signer = speedcert_attest::Signer::load(&g.key).unwrap();
    speedcert_attest::sign_bundle(&g.bundle, &[signer], statement["predicate"].clone()).unwrap();
    let out = verify(&g.bundle, &g.public);
    refused(&out, "summary.json", "missing");
    assert!(!stdout(&out).contains("os error"), "{}", stdout(&out));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

// --- random edits, re-signed ------------------------------------------------------

/// Everything speedcert derives from a bundle's raw files, as one JSON value: the
/// summary recomputed from them, and each run's step log (curves, MLLOG) and GPU samples,
/// parsed (so `0.5` and `0.50` are the same figure). `None` when the files cannot be read
/// together.
fn figures(dir: &Path) -> Option<serde_json::Value> {
    let inputs = BundleInputs::read(dir).ok()?;
    let summary = serde_json::to_value(summary::compute(&inputs)).unwrap();
    let (mut steps, mut gpus) = (Vec::new(), Vec::new());
    for slot in &inputs.plan.slots {
        let run_dir = layout::run_dir(dir, slot.index);
        let log = StepLog::read_csv(&run_dir.join(layout::STEPS)).ok()?;
        steps.push(serde_json::to_value(&log.rows).unwrap());
        let gpu = std::fs::read(run_dir.join(layout::GPU)).ok()?;
        let mut rows = Vec::new();
        for record in csv::Reader::from_reader(gpu.as_slice()).records() {
            let values: Vec<serde_json::Value> = record
                .ok()?
                .iter()
                .map(|v| v.parse::<f64>().map_or(v.into(), serde_json::Value::from))
                .collect();
            rows.push(values);
        }
        gpus.push(serde_json::Value::from(rows));
    }
    Some(serde_json::json!({ "summary": summary, "steps": steps, "gpu": gpus }))
}

/// The raw files an edit may hit: everything but the attestation.
fn raw_files(bundle: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(bundle)
        .into_iter()
        .filter(|p| !p.ends_with(layout::ATTESTATION))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn case3_random_edits_resigned_verify_only_when_no_figure_changes() {
    let f = certified();
    let trust = speedcert_attest::TrustStore::load(&f.public).unwrap();
    let original = figures(&f.bundle).expect("the certified bundle reads");
    let files = raw_files(&f.bundle);
    let rel: Vec<PathBuf> = files
        .iter()
        .map(|p| p.strip_prefix(&f.bundle).unwrap().to_owned())
        .collect();
    let work = tempfile::tempdir().unwrap();
    let signer = speedcert_attest::Signer::load(&f.key).unwrap();
    let (accepted, refused) = (Cell::new(0), Cell::new(0));
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(file in 0..rel.len(), at in any::<prop::sample::Index>(), digit in 0u8..10, raw in any::<u8>(), as_digit in prop::bool::weighted(0.8))| {
        let copy = work.path().join("b");
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(&f.bundle, &copy);
        let path = copy.join(&rel[file]);
        let mut bytes = std::fs::read(&path).unwrap();
        prop_assume!(!bytes.is_empty());
        // Mostly a digit changed into another (the edits that still parse), else any byte.
        let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
        let (i, b) = if as_digit && !digits.is_empty() {
            (digits[at.index(digits.len())], b'0' + digit)
        } else {
            (at.index(bytes.len()), raw)
        };
        prop_assume!(bytes[i] != b);
        bytes[i] = b;
        std::fs::write(&path, &bytes).unwrap();
        // Re-signed as `speedcert sign` does: the predicate is what summary.json says.
        std::fs::remove_file(copy.join(layout::ATTESTATION)).unwrap();
        let predicate = match speedcert_bundle::predicate::read_predicate(&copy) {
            Ok(Some(p)) => serde_json::to_value(p).unwrap(),
            _ => serde_json::json!({}),
        };
        speedcert_attest::sign_bundle(&copy, std::slice::from_ref(&signer), predicate).unwrap();
        let report = speedcert_bundle::verify_bundle(&copy, &trust, 1).unwrap();
        if report.is_genuine() {
            accepted.set(accepted.get() + 1);
            let line_start = bytes[..i].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
            let line_end = bytes[i..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |p| i + p);
            eprintln!(
                "accepted: {} line {:?}",
                rel[file].display(),
                String::from_utf8_lossy(&bytes[line_start..line_end]).trim()
            );
            // Figures compare as verification compares them: within a relative 1e-9 (far
            // below any printed digit), the tolerance for floating-point sums.
            let change = match figures(&copy) {
                None => Some("its files no longer read together".to_owned()),
                Some(now) => first_difference("figures", &original, &now),
            };
            prop_assert!(
                change.is_none(),
                "{} byte {} -> {:?} verified, but changed a figure: {}",
                rel[file].display(), i, b as char, change.unwrap_or_default()
            );
        } else {
            refused.set(refused.get() + 1);
        }
    });
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("{accepted} edits accepted (no figure changed), {refused} refused");
    assert!(refused > accepted, "most random edits change a figure");
}
