//! Submissions from a folder, end to end: `submission new`, a certification that builds
//! the runner from source, fences its runs and ships its source, verification of that
//! source, and the inputs that must be refused before any bundle exists. Also the fence
//! itself, against submissions that try to get out.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// `speedcert submission new NAME --dir DIR --track <test track>`.
fn scaffold(dir: &Path, name: &str) -> PathBuf {
    let folder = dir.join(name);
    let mut c = speedcert();
    c.args(["submission", "new", name, "--track", &test_track(), "--dir"])
        .arg(&folder);
    let out = run(c);
    assert!(out.status.success(), "submission new failed");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "tests/train.rs",
        "README.md",
    ] {
        assert!(folder.join(f).is_file(), "{f} not written");
    }
    folder
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn certify_folder(folder: &Path, key: &Path, out: &Path) -> std::process::Output {
    let mut c = speedcert();
    c.args(["certify", "--track", &test_track(), "--submission"])
        .arg(folder)
        .args(["--runs", "2", "--baseline", "reference", "--key"])
        .arg(key)
        .arg("--out")
        .arg(out);
    run(c)
}

#[test]
fn a_scaffolded_submission_is_built_fenced_certified_and_its_shipped_source_verified() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scaffold(dir.path(), "lr-up");
    edit(
        &folder.join("src/lib.rs"),
        "pub const LR_SCALE: f64 = 1.0;",
        "pub const LR_SCALE: f64 = 1.25;",
    );
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("bundle");
    let out = certify_folder(&folder, &key, &bundle);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "certify must finish with a verdict"
    );
    let summary = json(&bundle.join("summary.json"));
    assert_eq!(
        summary["capabilities"][0]["submission"], "lr-up",
        "{summary}"
    );
    assert_eq!(summary["capabilities"][0]["found"], serde_json::json!([]));
    // Every check holds (the verdict on time is not a check): the identity check found
    // the runner's digest in the fenced runs.
    for check in summary["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
    }

    let plan = json(&bundle.join("plan.json"));
    assert_eq!(plan["submission"], "lr-up");
    let builds = plan["builds"]
        .as_array()
        .expect("plan.json lists the build");
    assert_eq!(builds.len(), 1, "only the candidate is built: {plan}");
    let digest = builds[0]["source_sha256"].as_str().unwrap().to_owned();
    assert_eq!(plan["submission_sha256"], digest.as_str());
    assert_eq!(builds[0]["runner_sha256"].as_str().unwrap().len(), 64);

    // The candidate's runs ran fenced as lr-up; the built-in baseline's did not need to.
    for i in 0..4 {
        let r = json(&bundle.join(format!("runs/run-{i:03}/run.json")));
        assert_eq!(r["status"], "ok", "{r}");
        let fences: Vec<&str> = r["fences"]
            .as_array()
            .map(|f| f.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        if r["role"] == "candidate" {
            assert_eq!(r["submission"], "lr-up");
            assert_eq!(r["submission_sha256"], digest.as_str());
            for f in [
                "network-namespace",
                "landlock-filesystem",
                "landlock-network",
            ] {
                assert!(
                    fences.contains(&f),
                    "run-{i:03} not fenced by {f}: {fences:?}"
                );
            }
        } else {
            assert_eq!(r["submission"], "reference");
        }
    }
    // The shipped source is the folder as it was certified.
    let shipped = bundle.join("source").join(&digest).join("src/lib.rs");
    assert_eq!(
        std::fs::read(&shipped).unwrap(),
        std::fs::read(folder.join("src/lib.rs")).unwrap()
    );
    assert!(!bundle.join("source").join(&digest).join("target").exists());

    assert!(
        stdout(&out).contains("source of lr-up"),
        "certify prints the capability report"
    );
    let mut c = speedcert();
    c.arg("verify")
        .arg(&bundle)
        .arg("--trust")
        .arg(&public)
        .arg("--rebuild");
    let out = run(c);
    assert_eq!(out.status.code(), Some(0), "the bundle verifies");
    assert!(
        stdout(&out).contains("rebuilt from the shipped source is the binary that ran"),
        "--rebuild rebuilt the runner"
    );

    // One byte of the shipped source changed: the attestation names the file; signed
    // again by the (dishonest) key holder, the source check still names it.
    let mut bytes = std::fs::read(&shipped).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&shipped, &bytes).unwrap();
    let rel = format!("source/{digest}/src/lib.rs");
    let out = verify(&bundle, &public);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains(&rel), "verify names {rel}");
    resign(&bundle, &key);
    refused(
        &verify(&bundle, &public),
        &rel,
        "does not match the source digest",
    );
}

#[test]
fn a_bad_submission_folder_is_refused_before_any_bundle_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let folder = scaffold(dir.path(), "broken");
    let refused_with = |folder: &Path, words: &[&str]| {
        let bundle = dir.path().join("never");
        let out = certify_folder(folder, &key, &bundle);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        for w in words {
            assert!(err.contains(w), "stderr lacks {w:?}:\n{err}");
        }
        assert!(!bundle.exists(), "no bundle for a refused submission");
    };

    // Each case breaks one thing, is refused with words naming it, and is put back.
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        // A manifest for another track.
        (
            "Cargo.toml",
            "tracks = [\"test-tiny\"]",
            "tracks = [\"synthetic-gpt2-1xh100\"]",
            &["Cargo.toml", "does not name track `test-tiny`"],
        ),
        // A built-in's name.
        (
            "Cargo.toml",
            "name = \"broken\"\nfamily",
            "name = \"reference\"\nfamily",
            &["Cargo.toml", "built-in submission's name"],
        ),
        // A crate that does not compile: the compiler's own message is shown.
        (
            "src/lib.rs",
            "pub const LR_SCALE: f64 = 1.0;",
            "pub const LR_SCALE: f64 = not_defined;",
            &["does not build", "not_defined"],
        ),
    ];
    for (file, good, bad, words) in cases {
        edit(&folder.join(file), good, bad);
        refused_with(&folder, words);
        edit(&folder.join(file), bad, good);
    }

    // No lock file.
    std::fs::remove_file(folder.join("Cargo.lock")).unwrap();
    refused_with(&folder, &["no Cargo.lock"]);
}

/// `speedcert-adversarial run --fence` of `submission` into `out`, as `uid` when given.
fn fenced_run(
    submission: &str,
    out: &Path,
    env: &[(&str, &str)],
    uid: Option<u32>,
) -> serde_json::Value {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (mut c, track) = match uid {
        None => (adversarial(), test_track()),
        // The checkout may sit where another user cannot reach (/root): the unprivileged
        // child gets its own copies of the binary and the track, in a folder it can read.
        Some(uid) => {
            let open = out.parent().expect("out is in a folder");
            let bin = open.join("speedcert-adversarial");
            if !bin.is_file() {
                std::fs::copy(env!("CARGO_BIN_EXE_speedcert-adversarial"), &bin).unwrap();
                std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let track = open.join("test-tiny.toml");
            std::fs::copy(test_track(), &track).unwrap();
            std::fs::set_permissions(&track, std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut c = std::process::Command::new(bin);
            c.current_dir(open).uid(uid).gid(uid);
            (c, track.display().to_string())
        }
    };
    c.args([
        "run",
        "--fence",
        "--track",
        &track,
        "--submission",
        submission,
        "--seed",
        "3",
        "--out",
    ])
    .arg(out)
    .envs(env.iter().copied());
    let out_ = run(c);
    assert!(
        matches!(out_.status.code(), Some(0 | 3)),
        "a fenced run ends with a result"
    );
    json(&out.join("run.json"))
}

#[test]
fn a_fenced_run_cannot_reach_the_network_or_read_outside_its_data() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let secret_dir = open_dir();
    let secret = secret_dir.path().join("validation.bin");
    std::fs::write(&secret, b"held-out tokens").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for uid in users() {
        let dir = open_dir();
        // Unfenced, both succeed: the tests below fail because of the fence, not the setup.
        std::net::TcpStream::connect(&addr).expect("the listener accepts unfenced");
        std::fs::read(&secret).expect("readable unfenced");

        let path = secret.display().to_string();
        let attempts = [
            (
                "opens-socket",
                "a",
                "SPEEDCERT_TEST_CONNECT",
                &addr,
                format!("connect to {addr}"),
            ),
            (
                "reads-file",
                "b",
                "SPEEDCERT_TEST_READ",
                &path,
                format!("read {path}"),
            ),
        ];
        for (submission, out, var, value, words) in attempts {
            let r = fenced_run(submission, &dir.path().join(out), &[(var, value)], uid);
            assert_eq!(r["status"], "failed", "{r}");
            assert!(r["failure"].as_str().unwrap().contains(&words), "{r}");
            if submission == "opens-socket" {
                // Refused by seccomp when the socket is made (EPERM), before Landlock
                // (EACCES) or the empty namespace (ENETUNREACH) would refuse the connect.
                assert!(
                    r["failure"]
                        .as_str()
                        .unwrap()
                        .contains("Operation not permitted (os error 1)"),
                    "{r}"
                );
            }
        }

        // An honest run trains in the same fence, and says which fences held.
        let r = fenced_run("reference", &dir.path().join("c"), &[], uid);
        assert_eq!(r["status"], "ok", "{r}");
        let fences = r["fences"].as_array().unwrap();
        assert!(fences.iter().any(|f| f == "network-namespace"), "{r}");
        assert!(fences.iter().any(|f| f == "landlock-filesystem"), "{r}");
        assert!(fences.iter().any(|f| f == "seccomp"), "{r}");
        // Its own binary stays readable: run.json names it for the identity check.
        assert_eq!(
            r["env"]["binary_sha256"].as_str().map(str::len),
            Some(64),
            "{r}"
        );
    }
}

#[test]
fn a_track_that_requires_fences_fences_built_in_runs_and_its_bundle_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let track = dir.path().join("fenced-tiny.toml");
    let text = std::fs::read_to_string(test_track()).unwrap();
    let with = text.replacen(
        "[certification]\n",
        "[certification]\nrequired_fences = [\"network-namespace\", \"landlock-filesystem\"]\n",
        1,
    );
    assert_ne!(with, text);
    std::fs::write(&track, with).unwrap();
    let (key, public) = keygen(dir.path());
    let bundle = dir.path().join("bundle");
    // The adversarial binary, whose static constructor tries a socket before `main`.
    let mut c = adversarial();
    c.env("SPEEDCERT_TEST_PREMAIN_PROBE", "1");
    c.args(["certify", "--track"])
        .arg(&track)
        .args([
            "--submission",
            "reference",
            "--runs",
            "2",
            "--baseline",
            "reference",
        ])
        .arg("--key")
        .arg(&key)
        .arg("--out")
        .arg(&bundle);
    let out = run(c);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "certify must finish"
    );

    // Built-in runs, candidate and baseline alike, ran in the fences the track requires.
    for i in 0..4 {
        let r = json(&bundle.join(format!("runs/run-{i:03}/run.json")));
        assert_eq!(r["status"], "ok", "{r}");
        let fences = r["fences"].as_array().unwrap();
        for f in ["network-namespace", "landlock-filesystem"] {
            assert!(fences.iter().any(|x| x == f), "run-{i:03} not in {f}: {r}");
        }
        // The fence held from the run's first instruction: code before `main` had no
        // socket (the referee's own `fenced` wrapper ran unfenced, as it must).
        let said =
            std::fs::read_to_string(bundle.join(format!("runs/run-{i:03}/stderr.log"))).unwrap();
        assert!(
            said.contains("premain probe in `run`: socket refused (Operation not permitted"),
            "run-{i:03}: {said}"
        );
        assert!(
            !said.contains("in `run`: socket opened"),
            "run-{i:03}: {said}"
        );
    }
    let summary = json(&bundle.join("summary.json"));
    let pin = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pin.fences")
        .cloned()
        .expect("summary.json has the pin.fences check");
    assert_eq!(pin["passed"], true, "{pin}");
    assert_eq!(summary["official"], true, "{summary}");
    assert_eq!(
        verify(&bundle, &public).status.code(),
        Some(0),
        "the bundle verifies"
    );

    // A run.json that drops a fence, signed again by the key holder: recomputation of the
    // pin disagrees with the signed summary, and verify names the run and the fence.
    let run0 = bundle.join("runs/run-000/run.json");
    let mut r = json(&run0);
    r["fences"] = serde_json::json!(["network-namespace"]);
    std::fs::write(&run0, serde_json::to_string_pretty(&r).unwrap()).unwrap();
    resign(&bundle, &key);
    let out = verify(&bundle, &public);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("recomputed \"track requires network-namespace, landlock-filesystem; 1 of 4 runs were not: run-000 not in landlock-filesystem\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_submission_whose_model_changes_during_validation_fails_its_run() {
    let (code, r) = run_json(adversarial(), "learns-in-logits", 4);
    assert_eq!(code, Some(3));
    assert_eq!(r["status"], "failed");
    let why = r["failure"].as_str().unwrap();
    assert!(
        why.contains("the model changed during the validation pass after step"),
        "{why}"
    );
}

/// `submission runner-source` (what the flake's runner function builds) writes the
/// workspace a certification builds: speedcert's crates, the submission's copy, the
/// generated runner, a settled lock and the runner's package name; it never writes into
/// a folder that is already there.
#[test]
fn the_runner_source_is_the_workspace_certify_builds() {
    let dir = tempfile::tempdir().unwrap();
    let folder = scaffold(dir.path(), "lr-up");
    let out = dir.path().join("runner-source");
    let mut c = speedcert();
    c.args(["submission", "runner-source"])
        .arg(&folder)
        .arg("--out")
        .arg(&out);
    let done = run(c);
    assert!(done.status.success(), "{}", stderr(&done));
    let package = std::fs::read_to_string(out.join("runner-package")).unwrap();
    assert!(package.starts_with("speedcert-runner-"), "{package}");
    assert_eq!(stdout(&done).trim(), package);
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&package), "{manifest}");
    let lock = std::fs::read_to_string(out.join("Cargo.lock")).unwrap();
    for name in [package.as_str(), "lr-up", "speedcert-sdk", "burn"] {
        assert!(
            lock.contains(&format!("name = \"{name}\"")),
            "the lock has no {name}"
        );
    }
    assert!(out.join("runner/main.rs").is_file());
    assert_eq!(
        std::fs::read(out.join("submission/src/lib.rs")).unwrap(),
        std::fs::read(folder.join("src/lib.rs")).unwrap()
    );
    assert!(out.join("sdk").join("Cargo.toml").is_file());
    // Never over a folder that is there.
    let mut c = speedcert();
    c.args(["submission", "runner-source"])
        .arg(&folder)
        .arg("--out")
        .arg(&out);
    let again = run(c);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already there"),
        "{}",
        stderr(&again)
    );
}
