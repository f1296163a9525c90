//! A "new record" must be hard to get by editing the plan, by rerunning bad runs or by
//! borrowing another machine's times (issue 21, cases 3, 4 and 5): the journal seals the
//! plan and each run as they happen, `--resume` refuses a bundle that contradicts its
//! seals, `verify` names every slot sealed out of order or changed after its seal, and a
//! stored-time comparison names its kind and cannot make a record across machines.
//!
//! Each test certifies the test track (3 + 3 runs of about a second); no assertion
//! depends on which arm was faster.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

use speedcert_bundle::layout;

struct Certified {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bundle: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

fn certified(extra: &[&str]) -> Certified {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("bundle");
    let out = certify_test_track(speedcert(), "reference", &key, &bundle, extra);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "certify did not finish"
    );
    Certified {
        root: dir.path().to_owned(),
        _dir: dir,
        bundle,
        key,
        public,
    }
}

fn resume(c: &Certified) -> std::process::Output {
    certify_test_track(speedcert(), "reference", &c.key, &c.bundle, &["--resume"])
}

/// The candidate slots of a bundle, slowest first.
fn slowest_candidates(bundle: &Path) -> Vec<usize> {
    let plan = json(&bundle.join(layout::PLAN));
    let mut runs: Vec<(f64, usize)> = plan["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == "candidate")
        .map(|s| {
            let i = s["index"].as_u64().unwrap() as usize;
            let r = json(&layout::run_dir(bundle, i).join(layout::RUN));
            (r["train_time_ms"].as_f64().unwrap(), i)
        })
        .collect();
    runs.sort_by(|a, b| b.0.total_cmp(&a.0));
    runs.into_iter().map(|r| r.1).collect()
}

fn run_json(bundle: &Path, index: usize) -> PathBuf {
    layout::run_dir(bundle, index).join(layout::RUN)
}

fn seal(bundle: &Path, index: usize) -> PathBuf {
    speedcert_bundle::journal::run_seal_path(bundle, index)
}

#[test]
fn a_certification_is_sealed_paired_and_verifies() {
    let c = certified(&[]);
    let summary = json(&c.bundle.join(layout::SUMMARY));
    assert_eq!(summary["schema"], "speedcert/summary/v4");
    // The plan drew an order per pair and every slot was sealed.
    let plan = json(&c.bundle.join(layout::PLAN));
    let slots = plan["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 6);
    for p in 0..3 {
        let members: Vec<&serde_json::Value> = slots.iter().filter(|s| s["pair"] == p).collect();
        assert_eq!(members.len(), 2, "pair {p}: {members:?}");
        assert_ne!(members[0]["role"], members[1]["role"]);
    }
    assert!(
        c.bundle
            .join(layout::JOURNAL)
            .join(layout::PLAN_SEAL)
            .is_file()
    );
    for i in 0..6 {
        assert!(seal(&c.bundle, i).is_file(), "run {i} has no seal");
    }
    let time = &summary["time"];
    assert_eq!(time["test"], "paired-t");
    assert_eq!(time["paired"]["pairs"], 3);
    assert!(time["welch_p"].is_number(), "{time}");
    assert!(time["mde"]["ms"].as_f64().unwrap() > 0.0, "{time}");
    assert!(
        summary["verdict_detail"]
            .as_str()
            .unwrap()
            .starts_with("paired comparison with baseline reruns on this machine"),
        "{}",
        summary["verdict_detail"]
    );
    let out = verify(&c.bundle, &c.public);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("journal") && l.contains("in plan order")),
        "{}",
        stdout(&out)
    );
}

/// Case 3: dropping the slowest candidate runs and resuming. Resume refuses while their
/// seals exist; with the seals removed too it reruns them, and verify names the gap and
/// the slots sealed out of plan order.
#[test]
fn case3_resume_never_reruns_a_sealed_run_and_verify_names_a_rerun() {
    let c = certified(&[]);
    let slow = &slowest_candidates(&c.bundle)[..2];
    for &i in slow {
        std::fs::remove_file(run_json(&c.bundle, i)).unwrap();
    }
    let out = resume(&c);
    assert!(!out.status.success());
    let err = stderr(&out);
    for &i in slow {
        let name = layout::run_name(i);
        assert!(
            err.contains(&format!(
                "runs/{name}/run.json: missing, but {name} was sealed"
            )),
            "{err}"
        );
    }
    // The same edit, re-signed, does not verify either.
    resign(&c.bundle, &c.key);
    refused(&verify(&c.bundle, &c.public), "run.json", "was sealed");

    // Remove the seals as well: the honest tool now reruns the slots, and the journal
    // shows it.
    for &i in slow {
        std::fs::remove_file(seal(&c.bundle, i)).unwrap();
    }
    let _ = std::fs::remove_file(c.bundle.join(layout::ATTESTATION));
    let out = resume(&c);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "resume failed"
    );
    let text = stdout(&verify(&c.bundle, &c.public));
    let journal_fails: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("FAIL") && l.contains("journal/"))
        .collect();
    assert!(
        journal_fails
            .iter()
            .any(|l| l.contains("a sealed run was removed")
                || l.contains("ran again after later ones")),
        "{text}"
    );
}

/// Case 4: a seed set by hand in plan.json. Resume refuses it naming the slot and both
/// seeds; re-signed, verify names plan.json.
#[test]
fn case4_an_edited_seed_is_refused_by_resume_and_verify() {
    let c = certified(&[]);
    let plan_path = c.bundle.join(layout::PLAN);
    let mut plan = json(&plan_path);
    let sealed_seed = plan["slots"][1]["seed"].as_u64().unwrap();
    plan["slots"][1]["seed"] = 42.into();
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    std::fs::remove_file(run_json(&c.bundle, 1)).unwrap();
    std::fs::remove_file(seal(&c.bundle, 1)).unwrap();
    let out = resume(&c);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "plan.json: changed after it was sealed (journal/plan.dsse.json): run-001's seed is 42, sealed as {sealed_seed}"
        )),
        "{err}"
    );
    resign(&c.bundle, &c.key);
    refused(
        &verify(&c.bundle, &c.public),
        "plan.json",
        "changed after it was sealed",
    );
}

/// `speedcert certify` as it would run on another machine: a UTS namespace with its own
/// host name (the machine fingerprint includes it).
fn on_other_machine(args: &[&str]) -> std::process::Output {
    let exe = speedcert().get_program().to_owned();
    let mut c = Command::new("unshare");
    c.current_dir(workspace())
        .args([
            "--uts",
            "sh",
            "-c",
            "hostname speedcert-elsewhere && exec \"$0\" \"$@\"",
        ])
        .arg(exe)
        .args(args);
    run(c)
}

/// Case 5: stored times. From this machine the verdict names an unpaired comparison; from
/// another machine it cannot be a new record, and says why.
#[test]
fn case5_stored_times_name_their_kind_and_other_machines_cannot_make_a_record() {
    let here = certified(&["--baseline-runs", "0"]);
    let key = here.key.to_str().unwrap().to_owned();
    let track = test_track();
    let elsewhere = here.root.join("elsewhere");
    let out = on_other_machine(&[
        "certify",
        "--track",
        &track,
        "--submission",
        "reference",
        "--runs",
        "3",
        "--baseline-runs",
        "0",
        "--key",
        &key,
        "--out",
        elsewhere.to_str().unwrap(),
    ]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "certify in a UTS namespace failed: {}",
        stderr(&out)
    );
    let trust = here.public.to_str().unwrap().to_owned();
    for (record, label) in [
        (
            &here.bundle,
            "unpaired comparison with a record's stored times from this machine",
        ),
        (
            &elsewhere,
            "unpaired comparison with a record's stored times from another machine",
        ),
    ] {
        let out_dir = here.root.join(format!(
            "against-{}",
            record.file_name().unwrap().to_string_lossy()
        ));
        let mut c = speedcert();
        c.args([
            "certify",
            "--track",
            &track,
            "--submission",
            "reference-fast",
            "--runs",
            "3",
            "--baseline-runs",
            "0",
            "--trust",
            &trust,
            "--key",
            &key,
        ])
        .arg("--against")
        .arg(record)
        .arg("--out")
        .arg(&out_dir)
        .arg("--json");
        let out = run(c);
        assert!(matches!(out.status.code(), Some(0) | Some(3)));
        let summary = json(&out_dir.join(layout::SUMMARY));
        let detail = summary["verdict_detail"].as_str().unwrap();
        assert!(detail.starts_with(label), "{detail}");
        assert_eq!(summary["time"]["test"], "welch", "{summary}");
        if record == &elsewhere {
            assert_ne!(summary["verdict"], "new record", "{detail}");
        }
    }
}

/// `--against` takes only a bundle that can stand as a record.
#[test]
fn against_refuses_a_bundle_that_is_no_record() {
    let c = certified(&["--baseline-runs", "0"]);
    // Break the record: a run's loss edited, re-signed: it verifies as a signature but its
    // statistics do not.
    let mut s = json(&c.bundle.join(layout::SUMMARY));
    s["verdict"] = "check failed".into();
    std::fs::write(
        c.bundle.join(layout::SUMMARY),
        serde_json::to_vec_pretty(&s).unwrap(),
    )
    .unwrap();
    resign(&c.bundle, &c.key);
    let out_dir = c.root.join("against");
    let mut cmd = speedcert();
    cmd.args([
        "certify",
        "--track",
        &test_track(),
        "--submission",
        "reference",
        "--runs",
        "2",
        "--trust",
        c.public.to_str().unwrap(),
        "--key",
    ])
    .arg(&c.key)
    .arg("--against")
    .arg(&c.bundle)
    .arg("--out")
    .arg(&out_dir);
    let out = run(cmd);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    assert!(!out_dir.exists());
}

/// The attempt ledger: every certification started and finished is a signed line, and the
/// plan records its attempt number.
#[test]
fn the_ledger_counts_attempts_of_one_submission() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let ledger = dir.path().join("records").join("ledger.jsonl");
    for k in 1..=2 {
        let bundle = dir.path().join(format!("attempt-{k}"));
        let out = certify_test_track(
            speedcert(),
            "reference",
            &key,
            &bundle,
            &["--ledger", ledger.to_str().unwrap()],
        );
        assert!(matches!(out.status.code(), Some(0) | Some(3)));
        let plan = json(&bundle.join(layout::PLAN));
        assert_eq!(plan["attempt"]["number"], k, "{plan}");
    }
    let read = speedcert_bundle::ledger::Ledger::read(&ledger).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let events: Vec<_> = read.lines.iter().map(|l| l.entry.event).collect();
    use speedcert_bundle::ledger::Event::{Finished, Started};
    assert_eq!(events, [Started, Finished, Started, Finished]);
    assert!(read.lines[1].entry.verdict.is_some());
    let trust = speedcert_attest::TrustStore::load(&public).unwrap();
    assert!(read.signature_problems(&trust, 1).is_empty());
    // verify --ledger holds each bundle to the ledger: attempt 2 of 2 here...
    let verify_with = |bundle: &str, ledger: &Path| {
        let mut c = speedcert();
        c.arg("verify")
            .arg(dir.path().join(bundle))
            .arg("--trust")
            .arg(&public)
            .arg("--ledger")
            .arg(ledger);
        run(c)
    };
    let out = verify_with("attempt-2", &ledger);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("attempt 2 of"), "{}", stdout(&out));
    // ...but not against a ledger that lacks the first attempt: the same lines from the
    // second attempt's on, re-chained and re-signed by the key holder.
    let missing_first = dir.path().join("missing-first.jsonl");
    {
        let signer = speedcert_attest::Signer::load(&key).unwrap();
        let mut w = speedcert_bundle::ledger::LedgerWriter::open(&missing_first).unwrap();
        for line in &read.lines[2..] {
            w.append(line.entry.clone(), std::slice::from_ref(&signer))
                .unwrap();
        }
    }
    let out = verify_with("attempt-2", &missing_first);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("its plan says attempt 2, but")
            && stdout(&out).contains("holds only 0 earlier attempt(s): 1 are missing"),
        "{}",
        stdout(&out)
    );
    // `--collect` with the ledger appends the end once (the Slurm collect job does this),
    // and never to a ledger that did not see the start.
    let collect = |ledger: &Path| {
        speedcert()
            .args(["certify", "--collect"])
            .arg(dir.path().join("attempt-2"))
            .arg("--key")
            .arg(&key)
            .arg("--ledger")
            .arg(ledger)
            .output()
            .unwrap()
    };
    let out = collect(&ledger);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("already holds the `finished` line"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        speedcert_bundle::ledger::Ledger::read(&ledger)
            .unwrap()
            .lines
            .len(),
        4
    );
    let elsewhere = dir.path().join("other-ledger.jsonl");
    let out = collect(&elsewhere);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("holds no `started` line"),
        "{}",
        stderr(&out)
    );
    assert!(
        speedcert_bundle::ledger::Ledger::read(&elsewhere)
            .unwrap()
            .lines
            .is_empty()
    );
    // An edited line breaks the chain, named by line.
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(0);
    std::fs::write(&ledger, lines.join("\n") + "\n").unwrap();
    let read = speedcert_bundle::ledger::Ledger::read(&ledger).unwrap();
    assert!(
        read.problems
            .iter()
            .any(|p| p.contains("ledger.jsonl:1: sequence 1, expected 0")),
        "{:?}",
        read.problems
    );
    // And a damaged ledger takes no new attempt.
    let out = certify_test_track(
        speedcert(),
        "reference",
        &key,
        &dir.path().join("attempt-3"),
        &["--ledger", ledger.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the attempt ledger is damaged"),
        "{}",
        stderr(&out)
    );
}
