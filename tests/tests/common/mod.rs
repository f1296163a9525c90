//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real `speedcert` binary, built by cargo beside this test executable.
pub fn speedcert() -> Command {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join(format!("speedcert{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace's binaries first (cargo nextest run --workspace does)",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.current_dir(workspace());
    c
}

/// `speedcert` plus the dishonest test submissions.
pub fn adversarial() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_speedcert-adversarial"));
    c.current_dir(workspace());
    c
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn test_track() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tracks/test-tiny.toml")
        .display()
        .to_string()
}

/// test-tiny with whole lines replaced (each `from` must occur exactly once), written to
/// `dir/t.toml`.
pub fn edited_track(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(test_track()).unwrap();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?} in test-tiny.toml");
        text = text.replace(from, to);
    }
    let path = dir.join("t.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("spawn");
    eprintln!(
        "--- {:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        cmd,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh signing key in `dir`; returns (private, public).
pub fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("certifier.pem");
    let mut c = speedcert();
    c.arg("keygen").arg("--out").arg(&key);
    let out = run(c);
    assert!(out.status.success(), "keygen failed");
    let public = dir.join("certifier.pub.pem");
    assert!(public.is_file());
    (key, public)
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// `CMD run --track <test track> --submission S --seed N --json`: its exit code and the
/// run.json it printed.
pub fn run_json(mut c: Command, submission: &str, seed: u64) -> (Option<i32>, serde_json::Value) {
    c.args([
        "run",
        "--track",
        &test_track(),
        "--submission",
        submission,
        "--seed",
    ])
    .arg(seed.to_string())
    .arg("--json");
    let out = run(c);
    let record = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("run --json printed no run.json ({e})"));
    (out.status.code(), record)
}

/// `CMD certify` of `submission` on the test track, 3 candidate runs, signed with
/// `key`, into `out`, plus `extra` arguments.
pub fn certify_test_track(
    mut c: Command,
    submission: &str,
    key: &Path,
    out: &Path,
    extra: &[&str],
) -> Output {
    c.args([
        "certify",
        "--track",
        &test_track(),
        "--submission",
        submission,
        "--runs",
        "3",
        "--key",
    ])
    .arg(key)
    .arg("--out")
    .arg(out)
    .args(extra);
    run(c)
}

/// `speedcert verify BUNDLE --trust KEY`.
pub fn verify(bundle: &Path, trust: &Path) -> Output {
    let mut c = speedcert();
    c.arg("verify").arg(bundle).arg("--trust").arg(trust);
    run(c)
}

/// Copies a folder tree (a bundle) file by file.
pub fn copy_dir(from: &Path, to: &Path) {
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

/// `speedcert sign BUNDLE --key KEY` after removing the old attestation: what a trusted
/// but careless or dishonest certifier does after editing files.
pub fn resign(bundle: &Path, key: &Path) {
    let _ = std::fs::remove_file(bundle.join(speedcert_bundle::layout::ATTESTATION));
    let mut c = speedcert();
    c.arg("sign").arg(bundle).arg("--key").arg(key);
    let out = run(c);
    assert!(out.status.success(), "sign failed: {}", stderr(&out));
}

/// `verify`'s output: exit 3 and a FAIL line naming `file`, with `words` in it.
pub fn refused(out: &Output, file: &str, words: &str) {
    let text = stdout(out);
    assert_eq!(out.status.code(), Some(3), "expected NOT GENUINE:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains(file) && l.contains(words)),
        "no FAIL line naming {file} with {words:?}:\n{text}"
    );
}

/// Who runs the fenced child: this user, and an unprivileged one when the tests run as
/// root (CI does), since the fence must not depend on privilege.
pub fn users() -> Vec<Option<u32>> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 {
        vec![None, Some(65534)]
    } else {
        vec![None]
    }
}

/// A temp folder anyone can write into (for the unprivileged child's --out).
pub fn open_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}
