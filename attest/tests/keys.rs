//! Key files: generation, modes, refusals, the trust store.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use speedcert_attest::{Error, Signer, TrustStore, TrustedKey, generate_key, public_key_path};

fn mode(p: &std::path::Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_0600_private_and_public_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("alice.pem");
    let key = generate_key(&private).unwrap();
    assert_eq!(key.private_path, private);
    assert_eq!(key.public_path, dir.path().join("alice.pub.pem"));
    assert_eq!(mode(&private), 0o600);
    let private_text = fs::read_to_string(&private).unwrap();
    assert!(private_text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(
        fs::read_to_string(&key.public_path)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    // No temp files left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let signer = Signer::load(&private).unwrap();
    let trusted = TrustedKey::load(&key.public_path).unwrap();
    assert_eq!(signer.key_id(), &key.key_id);
    assert_eq!(trusted.key_id(), &key.key_id);
    assert_eq!(key.key_id.as_str().len(), 64);
    let sig = signer.sign(b"x");
    assert!(trusted.verify(b"x", &sig));

    // Two keys differ.
    let other = generate_key(&dir.path().join("bob.pem")).unwrap();
    assert_ne!(other.key_id, key.key_id);
}

#[test]
fn keygen_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("k.pem");
    let first = generate_key(&private).unwrap();
    let before = fs::read(&private).unwrap();
    let err = generate_key(&private).unwrap_err();
    assert!(matches!(err, Error::KeyExists { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("k.pem: already exists; refusing to overwrite a key"),
        "{err}"
    );
    assert_eq!(fs::read(&private).unwrap(), before);

    // A stray public key file blocks keygen too, before anything is written.
    let other = dir.path().join("j.pem");
    fs::write(public_key_path(&other), "x").unwrap();
    let err = generate_key(&other).unwrap_err();
    assert!(
        err.to_string().contains("j.pub.pem: already exists"),
        "{err}"
    );
    assert!(!other.exists());
    let _ = first;
}

#[test]
fn private_key_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("key.pem");
    generate_key(&private).unwrap();
    for m in [0o644, 0o640, 0o604, 0o660] {
        common::chmod(&private, m);
        let err = Signer::load(&private).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "permissions {m:04o} for '{p}' are too open; run chmod 600 {p}",
                p = private.display()
            )
        );
    }
    common::chmod(&private, 0o644);
    let err = Signer::load(&private).unwrap_err();
    assert!(matches!(err, Error::KeyTooOpen { mode: 0o644, .. }));
    common::chmod(&private, 0o400);
    Signer::load(&private).unwrap();
}

#[test]
fn bad_key_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.pem");
    fs::write(
        &p,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    common::chmod(&p, 0o600);
    let err = Signer::load(&p).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: not an ed25519 private key in PKCS#8 PEM",
            p.display()
        )),
        "{err}"
    );

    let q = dir.path().join("junk.pub.pem");
    fs::write(&q, "hello").unwrap();
    let err = TrustedKey::load(&q).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: not an ed25519 public key in SPKI PEM",
            q.display()
        )),
        "{err}"
    );

    let missing = dir.path().join("nope.pem");
    let err = Signer::load(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}

#[test]
fn trust_store_folder() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    fs::create_dir(&keys).unwrap();
    let priv_dir = dir.path().join("private");
    fs::create_dir(&priv_dir).unwrap();
    let a = generate_key(&priv_dir.join("a.pem")).unwrap();
    let b = generate_key(&priv_dir.join("b.pem")).unwrap();
    fs::copy(&a.public_path, keys.join("a.pub.pem")).unwrap();
    fs::copy(&b.public_path, keys.join("b.pem")).unwrap();
    fs::copy(&a.public_path, keys.join("a-again.pub.pem")).unwrap();
    fs::write(keys.join("README.md"), "not a key").unwrap();
    fs::create_dir(keys.join("old")).unwrap();

    let store = TrustStore::load(&keys).unwrap();
    assert_eq!(store.len(), 2, "duplicates count once, README ignored");
    assert!(store.get(&a.key_id).is_some());
    assert!(store.get(&b.key_id).is_some());

    // One file.
    let one = TrustStore::load(&keys.join("b.pem")).unwrap();
    assert_eq!(one.len(), 1);

    // A private key in a trust folder is an error, not silently skipped.
    fs::copy(priv_dir.join("a.pem"), keys.join("leaked.pem")).unwrap();
    let err = TrustStore::load(&keys).unwrap_err().to_string();
    assert!(
        err.contains("leaked.pem: is a private key; a trust store holds public keys only"),
        "{err}"
    );

    // An empty folder is an error.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = TrustStore::load(&empty).unwrap_err().to_string();
    assert!(
        err.ends_with("empty: no public keys (*.pem files) in this folder"),
        "{err}"
    );
}
