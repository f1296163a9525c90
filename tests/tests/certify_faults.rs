//! Certification survives faults and refuses what it would silently get wrong (issue 20,
//! cases 7, 8 and 11): a kill during prepare leaves no bundle or a resumable one; two
//! processes never write one bundle; `--resume` says which options it ignores; an absurd
//! run count is refused.
//!
//! The runs are the test track's (a second or so each); nothing here depends on timing
//! except where a process is killed, and those tests check an invariant that holds
//! whenever the kill lands.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// [`certify_cmd`], started in the background.
fn spawn_certify(key: &Path, out: &Path, extra: &[&str]) -> Child {
    certify_cmd(key, out, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn certify")
}

fn finish(child: Child) -> std::process::Output {
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "--- exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Waits until `path` exists (a certification has planned), at most 60 s.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `speedcert certify` of reference on the test track into `out`, 2 + 2 runs.
fn certify_cmd(key: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = certify_base(key, out, &["--runs", "2"]);
    c.args(extra);
    c
}

/// The same without a run count.
fn certify_base(key: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = speedcert();
    c.args([
        "certify",
        "--track",
        &test_track(),
        "--submission",
        "reference",
    ])
    .arg("--key")
    .arg(key)
    .arg("--out")
    .arg(out)
    .args(extra);
    c
}

#[test]
fn case7_a_kill_during_prepare_leaves_no_bundle_or_a_resumable_one() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    // Kills at growing delays sweep across startup, prepare and the first run.
    let mut resumable = None;
    for (i, delay_ms) in (0..).step_by(15).take(40).enumerate() {
        let out = dir.path().join(format!("b{i}"));
        let mut child = spawn_certify(&key, &out, &[]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        if out.exists() {
            assert!(
                out.join("plan.json").is_file(),
                "killed after {delay_ms} ms: {} exists without its plan",
                out.display()
            );
            resumable = Some(out);
            break;
        }
    }
    let out = resumable.expect("some kill landed after prepare");
    let resumed = run(certify_cmd(&key, &out, &["--resume"]));
    assert!(
        matches!(resumed.status.code(), Some(0) | Some(3)),
        "resume finishes"
    );
    assert_eq!(verify(&out, &public).status.code(), Some(0));

    // A folder an older speedcert left half-prepared: --resume says what is wrong.
    let old = dir.path().join("half");
    std::fs::create_dir_all(old.join("runs")).unwrap();
    std::fs::write(old.join("track.toml"), "").unwrap();
    std::fs::write(old.join("env.json"), "{}").unwrap();
    std::fs::write(old.join(".speedcert-x.tmp"), "").unwrap();
    let o = run(certify_cmd(&key, &old, &["--resume"]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("has no plan.json") && err.contains("no run of it started"),
        "{err}"
    );
    assert!(!err.contains("pass --resume"), "{err}");
}

#[test]
fn case8_one_bundle_is_written_by_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());

    // Two certifications started together into one --out: one runs, one is refused.
    let out = dir.path().join("together");
    let a = spawn_certify(&key, &out, &[]);
    let b = spawn_certify(&key, &out, &[]);
    let (a, b) = (finish(a), finish(b));
    let codes = [a.status.code(), b.status.code()];
    let refused: Vec<&std::process::Output> = [&a, &b]
        .into_iter()
        .filter(|o| o.status.code() == Some(1))
        .collect();
    assert_eq!(refused.len(), 1, "exactly one refused: {codes:?}");
    let err = stderr(refused[0]);
    assert!(
        err.contains("already exists and is not empty") || err.contains("holds the lock"),
        "{err}"
    );
    assert_eq!(verify(&out, &public).status.code(), Some(0));
    let s = json(&out.join("summary.json"));
    assert_ne!(s["verdict"], "check failed", "{s}");

    // While one certifies, neither a resume nor a collect of its bundle may start.
    let out = dir.path().join("busy");
    let running = spawn_certify(&key, &out, &[]);
    wait_for(&out.join("plan.json"));
    let resume = run(certify_cmd(&key, &out, &["--resume"]));
    let mut c = speedcert();
    c.args(["certify", "--collect"])
        .arg(&out)
        .arg("--key")
        .arg(&key);
    let collect = run(c);
    let done = finish(running);
    for o in [&resume, &collect] {
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(o).contains("holds the lock on it"), "{}", stderr(o));
    }
    assert!(matches!(done.status.code(), Some(0) | Some(3)));
    assert_eq!(verify(&out, &public).status.code(), Some(0));
}

#[test]
fn case11_resume_says_what_it_ignores_and_absurd_run_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let out = dir.path().join("b");
    let first = run(certify_cmd(&key, &out, &[]));
    assert!(matches!(first.status.code(), Some(0) | Some(3)));
    let o = run(certify_base(
        &key,
        &out,
        &[
            "--resume",
            "--runs",
            "7",
            "--baseline",
            "reference-fast",
            "--baseline-runs",
            "5",
        ],
    ));
    assert!(matches!(o.status.code(), Some(0) | Some(3)));
    let err = stderr(&o);
    for note in [
        "--runs 7 ignored: the plan fixes 2 candidate runs",
        "--baseline-runs 5 ignored: the plan fixes 2 baseline runs",
        "--baseline reference-fast ignored: the plan's baseline is reference",
    ] {
        assert!(err.contains(note), "missing {note:?} in:\n{err}");
    }

    let o = run(certify_base(
        &key,
        &dir.path().join("huge"),
        &["--runs", "100000"],
    ));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--runs 100000 is more than the 1000 runs"),
        "{err}"
    );
    assert!(!dir.path().join("huge").exists(), "nothing planned");
}
