//! Keys and envelopes end to end (issue 20, cases 5, 9, 10, 12): keys that OpenSSL and
//! Python cryptography read and write, messages that name what is wrong, and caps on what
//! `verify` reads.
//!
//! The interop tests need `openssl` and Python's `cryptography` (Debian: openssl,
//! python3-cryptography; scripts/test installs them). Without them a test prints why and
//! passes, unless CI=true: then it fails.

mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;

/// A private key as `speedcert keygen` wrote it before this fix: PKCS#8 v2 (seed plus
/// public key), which OpenSSL 3.0 calls "unsupported". A throwaway test key.
const OLD_V2_KEY: &str = "-----BEGIN PRIVATE KEY-----
MFECAQEwBQYDK2VwBCIEIJ0VHCdpzCVDsErVrqtlA3rNLH/Iw5PWRt9LR87jopny
gSEAYn3u+Ml+7K5mFc/r6QK4w4w7g1nQc9D33gKWyJW1JaU=
-----END PRIVATE KEY-----
";
const OLD_V2_KEY_ID: &str = "85c580a3ca45f217313b2a5218f81e5cef9a94bb9646e1289b43d067d4a30cd8";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `probe` runs and succeeds; if not, skip with a printed reason, or fail under CI.
fn have(tool: &str, probe: &mut Command) -> bool {
    let ok = probe.output().is_ok_and(|o| o.status.success());
    if !ok {
        let why = format!("{tool} is not available (Debian: apt-get install {tool})");
        assert!(!in_ci(), "{why}; CI=true, so this is a failure");
        eprintln!("skipping: {why}");
    }
    ok
}

fn have_openssl() -> bool {
    have("openssl", Command::new("openssl").arg("version"))
}

fn have_python_cryptography() -> bool {
    have(
        "python3-cryptography",
        Command::new("python3").args(["-c", "import cryptography"]),
    )
}

fn openssl(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new("openssl");
    c.args(args).args(paths);
    run(c)
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A copy of a shipped, genuine bundle, in `dir`.
fn shipped_bundle_copy(dir: &Path) -> PathBuf {
    let records = workspace().join("records/bundles");
    let mut found: Vec<PathBuf> = fs::read_dir(&records)
        .unwrap()
        .flat_map(|track| fs::read_dir(track.unwrap().path()).unwrap())
        .map(|b| b.unwrap().path())
        .filter(|b| b.join("attestation.dsse.json").is_file())
        .collect();
    found.sort();
    let from = found
        .first()
        .expect("a shipped bundle under records/bundles");
    let to = dir.join("bundle");
    copy_dir(from, &to);
    to
}

fn sign(bundle: &Path, key: &Path) -> Output {
    let mut c = speedcert();
    c.arg("sign").arg(bundle).arg("--key").arg(key);
    run(c)
}

/// A shipped bundle re-signed by a fresh key: (bundle, public key).
fn resigned_bundle(dir: &Path) -> (PathBuf, PathBuf) {
    let (key, public) = keygen(dir);
    let bundle = shipped_bundle_copy(dir);
    assert!(sign(&bundle, &key).status.success());
    (bundle, public)
}

/// Append `n` signatures that verify with no key: the genuine one with its first base64
/// character changed, each labelled with its own unknown key id (or none).
fn add_junk_signatures(bundle: &Path, n: usize, with_key_ids: bool) {
    let path = bundle.join("attestation.dsse.json");
    let mut env = json(&path);
    let sig = env["signatures"][0]["sig"].as_str().unwrap().to_string();
    let first = if sig.starts_with('A') { "B" } else { "A" };
    let junk = format!("{first}{}", &sig[1..]);
    let list = env["signatures"].as_array_mut().unwrap();
    for i in 0..n {
        list.push(if with_key_ids {
            json!({"keyid": format!("{i:02x}").repeat(32), "sig": junk})
        } else {
            json!({"sig": junk})
        });
    }
    fs::write(&path, serde_json::to_vec(&env).unwrap()).unwrap();
}

// Case 5: no cap on signatures.

#[test]
fn an_envelope_with_more_signatures_than_the_cap_is_refused_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, public) = resigned_bundle(dir.path());
    add_junk_signatures(&bundle, 65, true);
    let out = verify(&bundle, &public);
    assert_eq!(out.status.code(), Some(3));
    let report = stdout(&out);
    assert!(
        report.contains(
            "FAIL envelope attestation.dsse.json: has 66 signatures, more than the 64 a \
             verifier reads (speedcert_attest::MAX_SIGNATURES); none was checked"
        ),
        "{report}"
    );
    assert!(!report.contains("signature 2"), "{report}");

    // The attack of the issue, scaled to 200,000: refused in seconds, in a few lines.
    let (bundle, public) = resigned_bundle(&dir.path().join("big"));
    add_junk_signatures(&bundle, 200_000, false);
    let start = Instant::now();
    let out = verify(&bundle, &public);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("has 200001 signatures, more than the 64"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).lines().count() < 5, "{}", stdout(&out));
    assert!(took < Duration::from_secs(20), "verify took {took:?}");
}

#[test]
fn untrusted_signatures_are_one_warning_line() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, public) = resigned_bundle(dir.path());
    add_junk_signatures(&bundle, 63, true);
    let out = verify(&bundle, &public);
    assert_eq!(out.status.code(), Some(0), "one trusted signature suffices");
    let report = stdout(&out);
    let warnings: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("warn signature"))
        .collect();
    assert_eq!(warnings.len(), 1, "{report}");
    assert!(
        warnings[0].starts_with(
            "warn signature 2-64: 63 signatures by keys not in the trust store (key ids "
        ),
        "{report}"
    );
    assert!(
        warnings[0].ends_with("and 60 more), and none verifies with any of its 1 key(s)"),
        "{report}"
    );
}

// Case 9: keys that OpenSSL and Python cryptography read.

#[test]
fn keygen_keys_read_in_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path());
    let out = openssl(&["pkey", "-noout", "-in"], &[&key]);
    assert!(out.status.success(), "openssl pkey: {}", stderr(&out));
    let out = openssl(&["pkey", "-pubin", "-noout", "-in"], &[&public]);
    assert!(
        out.status.success(),
        "openssl pkey -pubin: {}",
        stderr(&out)
    );
    // OpenSSL derives the same public key file from the private key.
    let out = openssl(&["pkey", "-pubout", "-in"], &[&key]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), fs::read_to_string(&public).unwrap());
}

#[test]
fn keygen_keys_read_in_python_cryptography() {
    if !have_python_cryptography() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let mut c = speedcert();
    c.arg("keygen").arg("--out").arg(&key);
    let out = run(c);
    assert!(out.status.success());
    let key_id = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("key id"))
        .unwrap()
        .trim()
        .to_string();
    // Both files load, and the key id is sha256 of the raw public key, as documented.
    let script = "import hashlib, sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)
assert isinstance(k, Ed25519PrivateKey), type(k)
p = s.load_pem_public_key(open(sys.argv[2], 'rb').read())
raw = lambda key: key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
assert raw(k.public_key()) == raw(p)
print(hashlib.sha256(raw(p)).hexdigest())
";
    let mut c = Command::new("python3");
    c.args(["-c", script])
        .arg(&key)
        .arg(dir.path().join("k.pub.pem"));
    let out = run(c);
    assert!(out.status.success(), "python: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), key_id);
}

#[test]
fn an_openssl_ed25519_key_signs_and_verifies() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("openssl.pem");
    let public = dir.path().join("openssl.pub.pem");
    assert!(
        openssl(&["genpkey", "-algorithm", "ed25519", "-out"], &[&key])
            .status
            .success()
    );
    chmod(&key, 0o600);
    assert!(
        openssl(
            &["pkey", "-pubout", "-in"],
            &[&key, Path::new("-out"), &public]
        )
        .status
        .success()
    );
    let bundle = shipped_bundle_copy(dir.path());
    let out = sign(&bundle, &key);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(verify(&bundle, &public).status.code(), Some(0));
}

#[test]
fn a_key_speedcert_wrote_before_still_signs() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("old.pem");
    fs::write(&key, OLD_V2_KEY).unwrap();
    chmod(&key, 0o600);
    let bundle = shipped_bundle_copy(dir.path());
    let out = sign(&bundle, &key);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("key {OLD_V2_KEY_ID}")),
        "{}",
        stdout(&out)
    );
}

// Case 10: messages that mislead.

#[test]
fn rsa_and_ec_keys_are_named_as_such() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bundle = shipped_bundle_copy(dir.path());
    for (name, args, kind) in [
        (
            "rsa",
            ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
            "an RSA key (OID 1.2.840.113549.1.1.1)",
        ),
        (
            "ec",
            ["-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "an EC key (OID 1.2.840.10045.2.1)",
        ),
    ] {
        let key = dir.path().join(format!("{name}.pem"));
        let public = dir.path().join(format!("{name}.pub.pem"));
        let mut gen_args = vec!["genpkey"];
        gen_args.extend(args);
        gen_args.push("-out");
        assert!(openssl(&gen_args, &[&key]).status.success());
        chmod(&key, 0o600);
        assert!(
            openssl(
                &["pkey", "-pubout", "-in"],
                &[&key, Path::new("-out"), &public]
            )
            .status
            .success()
        );

        let out = sign(&bundle, &key);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            format!(
                "error: {}: is {kind}, not an ed25519 key; speedcert signs and verifies with \
                 ed25519 only (make one with speedcert keygen, or openssl genpkey -algorithm \
                 ed25519)\n",
                key.display()
            )
        );
        let out = verify(&bundle, &public);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).starts_with(&format!(
                "error: {}: is {kind}, not an ed25519 key",
                public.display()
            )),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("1.3.101.112"));
    }
}

#[test]
fn an_empty_key_file_is_called_empty() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = shipped_bundle_copy(dir.path());
    let key = dir.path().join("empty.pem");
    fs::write(&key, "").unwrap();
    chmod(&key, 0o600);
    let out = sign(&bundle, &key);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: the file is empty; expected an ed25519 private key in PKCS#8 PEM \
             (-----BEGIN PRIVATE KEY-----)\n",
            key.display()
        )
    );
    let public = dir.path().join("empty.pub.pem");
    fs::write(&public, "").unwrap();
    let out = verify(&bundle, &public);
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: the file is empty; expected an ed25519 public key in SPKI PEM \
             (-----BEGIN PUBLIC KEY-----)\n",
            public.display()
        )
    );
}

/// A folder this process cannot create files in: a read-only one, or for root (whom
/// permissions do not stop) /sys, which refuses new files to everyone.
fn unwritable_folder(dir: &Path) -> Option<PathBuf> {
    let ro = dir.join("read-only");
    fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o555);
    if fs::write(ro.join("probe"), "").is_err() {
        return Some(ro);
    }
    let sys = PathBuf::from("/sys");
    if sys.is_dir() && fs::write(sys.join("speedcert-probe"), "").is_err() {
        return Some(sys);
    }
    eprintln!("skipping: no folder here refuses new files to this user");
    None
}

#[test]
fn keygen_into_an_unwritable_folder_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(folder) = unwritable_folder(dir.path()) else {
        return;
    };
    let key = folder.join("speedcert-test-key.pem");
    let mut c = speedcert();
    c.arg("keygen").arg("--out").arg(&key);
    let out = run(c);
    chmod(&dir.path().join("read-only"), 0o755);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        err,
        format!(
            "error: {}: Permission denied (os error 13)\n",
            folder.display()
        )
    );
    assert!(!key.exists());
}

#[test]
fn keygen_under_a_file_says_it_is_not_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let mut c = speedcert();
    c.arg("keygen").arg("--out").arg(file.join("k.pem"));
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("error: {}: not a folder\n", file.display())
    );
}

// Case 12: a statement with no subjects.

#[test]
fn sign_refuses_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let out = sign(&empty, &key);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: no files to sign; an in-toto statement needs at least one subject\n",
            empty.display()
        )
    );
    assert!(!empty.join("attestation.dsse.json").exists());
}
