//! Interoperability with an independent implementation: tests/interop/dsse_pynacl.py
//! (PyNaCl + the Python standard library) verifies what speedcert signs, and signs
//! what speedcert verifies.
//!
//! The test installs PyNaCl from PyPI into a virtualenv cached under the target
//! folder (`CARGO_TARGET_TMPDIR`), so reruns are fast. Without network it prints why
//! and passes, unless `CI` is set: then a skipped interop test is a failure.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use speedcert_attest::{
    ENVELOPE_FILE, Signer, TrustStore, generate_key, pae, sign_bundle, verify_bundle,
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/dsse_pynacl.py");

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Skip with a reason, or fail when running in CI.
fn unavailable(reason: String) -> Option<PathBuf> {
    if in_ci() {
        panic!(
            "PyNaCl interop test cannot run: {reason} (CI is set, so this fails instead of skipping)"
        );
    }
    eprintln!("skipping PyNaCl interop test: {reason}");
    None
}

fn tail(o: &Output) -> String {
    let s = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// The virtualenv's python with PyNaCl importable, creating it on first use.
fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pynacl-venv");
    let py = venv.join("bin").join("python");
    let has_nacl = |py: &Path| {
        Command::new(py)
            .args(["-c", "import nacl.signing"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_nacl(&py) {
        return Some(py);
    }
    let _ = fs::remove_dir_all(&venv);
    match Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => return unavailable(format!("python3 -m venv failed: {}", tail(&o))),
        Err(e) => return unavailable(format!("cannot run python3: {e}")),
    }
    let pip = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .args(["--timeout", "30", "--retries", "2", "pynacl"])
        .output();
    match pip {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let _ = fs::remove_dir_all(&venv);
            return unavailable(format!("pip install pynacl failed: {}", tail(&o)));
        }
        Err(e) => return unavailable(format!("cannot run the venv's python: {e}")),
    }
    if !has_nacl(&py) {
        return unavailable("pynacl installed but `import nacl.signing` fails".into());
    }
    Some(py)
}

fn script(py: &Path, args: &[&str]) -> Output {
    Command::new(py)
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run dsse_pynacl.py")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn interop_with_pynacl() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();

    // PAE: both sides compute the same bytes, including multi-byte UTF-8 types.
    for (t, body) in [
        ("http://example.com/HelloWorld", &b"hello world"[..]),
        ("", &b""[..]),
        ("application/vnd.in-toto+json", &b"{\"a\": 1}\n"[..]),
        ("tÿpe/ü", &[0u8, 255, 32, 10][..]),
    ] {
        let o = script(&py, &["pae", t, &hex::encode(body)]);
        assert!(o.status.success(), "{}", tail(&o));
        assert_eq!(
            String::from_utf8(o.stdout).unwrap().trim(),
            hex::encode(pae(t, body)),
            "PAE of {t:?}"
        );
    }

    // (a) speedcert signs with a key file from keygen; Python verifies.
    let bundle = tmp.path().join("bundle-a");
    fs::create_dir(&bundle).unwrap();
    common::write_bundle(&bundle);
    let key = generate_key(&tmp.path().join("certifier.pem")).unwrap();
    let signer = Signer::load(&key.private_path).unwrap();
    sign_bundle(&bundle, &[signer], common::predicate()).unwrap();
    let env = bundle.join(ENVELOPE_FILE);
    let o = script(
        &py,
        &[
            "verify",
            s(&env),
            "--pubkey",
            s(&key.public_path),
            "--bundle",
            s(&bundle),
        ],
    );
    assert!(
        o.status.success(),
        "PyNaCl rejected speedcert's envelope: {}",
        tail(&o)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["verified_keyids"][0], key.key_id.as_str());
    assert_eq!(
        out["key_sha256"],
        key.key_id.as_str(),
        "key id = sha256 of the raw public key"
    );
    assert_eq!(out["subjects"], common::FILES.len());
    assert_eq!(out["predicate"], common::predicate());

    // ...and Python's check is real: it rejects a changed file and a changed payload.
    let p = bundle.join("runs/run-000/run.json");
    let original = fs::read(&p).unwrap();
    fs::write(&p, b"{}").unwrap();
    let o = script(
        &py,
        &[
            "verify",
            s(&env),
            "--pubkey",
            s(&key.public_path),
            "--bundle",
            s(&bundle),
        ],
    );
    assert!(!o.status.success());
    assert!(
        tail(&o).contains("runs/run-000/run.json: sha256 is"),
        "{}",
        tail(&o)
    );
    fs::write(&p, original).unwrap();
    let text = fs::read_to_string(&env).unwrap();
    let mut e: Value = serde_json::from_str(&text).unwrap();
    e["payloadType"] = "application/json".into();
    let forged = tmp.path().join("forged.json");
    fs::write(&forged, e.to_string()).unwrap();
    let o = script(
        &py,
        &["verify", s(&forged), "--pubkey", s(&key.public_path)],
    );
    assert!(!o.status.success());
    assert!(tail(&o).contains("no signature verifies"), "{}", tail(&o));

    // (b) Python signs (standard and URL-safe base64); speedcert verifies.
    for urlsafe in [false, true] {
        let bundle = tmp.path().join(format!("bundle-b-{urlsafe}"));
        fs::create_dir(&bundle).unwrap();
        common::write_bundle(&bundle);
        let pubkey = tmp.path().join(format!("pynacl-{urlsafe}.pub.pem"));
        let mut args = vec!["sign", s(&bundle), "--pubkey-out", s(&pubkey)];
        if urlsafe {
            args.push("--urlsafe");
        }
        let o = script(&py, &args);
        assert!(o.status.success(), "{}", tail(&o));
        let python_key_id = String::from_utf8(o.stdout).unwrap().trim().to_string();

        let trust = TrustStore::load(&pubkey).unwrap();
        assert_eq!(trust.keys()[0].key_id().as_str(), python_key_id);
        let report = verify_bundle(&bundle, &trust, 1).unwrap();
        assert!(
            report.is_genuine(),
            "speedcert rejected PyNaCl's envelope:\n{report}"
        );
        assert_eq!(report.verified_predicate().unwrap()["signer"], "pynacl");
        assert_eq!(
            report.verified_statement().unwrap().subject.len(),
            common::FILES.len()
        );

        fs::write(bundle.join("track.toml"), "tampered = true\n").unwrap();
        let report = verify_bundle(&bundle, &trust, 1).unwrap();
        assert!(!report.is_genuine());
        assert!(
            report
                .to_string()
                .contains("FAIL digest track.toml: sha256 is "),
            "{report}"
        );
    }
}
