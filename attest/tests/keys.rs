//! Key files: generation, modes, refusals, the trust store.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::asn1::BitStringRef;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{
    AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef,
};
use ed25519_dalek::pkcs8::{
    Document, EncodePrivateKey, KeypairBytes, PrivateKeyInfo, PublicKeyBytes, SecretDocument,
};
use speedcert_attest::{
    Error, MAX_KEY_FILE_BYTES, Signer, TrustStore, TrustedKey, generate_key, public_key_path,
};

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

/// A PEM private key file at mode 0600.
fn write_private(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, pem).unwrap();
    common::chmod(&p, 0o600);
    p
}

#[test]
fn keygen_writes_pkcs8_v1_without_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(&dir.path().join("k.pem")).unwrap();
    let pem = fs::read_to_string(&key.private_path).unwrap();
    let (label, der) = SecretDocument::from_pem(&pem).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    // SEQUENCE { INTEGER 0 (v1; OpenSSL 3.0 refuses v2), ... }
    assert_eq!(der.as_bytes()[2..5], [2, 1, 0]);
    let info = PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
    assert!(info.public_key.is_none());
    // RFC 8410 §10.3's example is 48 bytes: SEQUENCE { 0, { 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }.
    assert_eq!(der.as_bytes().len(), 48);
}

#[test]
fn keys_speedcert_wrote_before_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[9u8; 32]);
    // ed25519-dalek's own encoding: PKCS#8 v2 with the public key, as keygen wrote it.
    let v2 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let (_, der) = SecretDocument::from_pem(&v2).unwrap();
    assert_eq!(der.as_bytes()[2..5], [2, 1, 1]);
    let p = write_private(dir.path(), "old.pem", &v2);
    let signer = Signer::load(&p).unwrap();
    assert_eq!(signer.verifying_key(), key.verifying_key());

    // A v2 file whose public key is not the seed's is refused, not trusted.
    let other = SigningKey::from_bytes(&[8u8; 32])
        .verifying_key()
        .to_bytes();
    let forged = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: Some(PublicKeyBytes(other)),
    }
    .to_pkcs8_pem(LineEnding::LF)
    .unwrap();
    let p = write_private(dir.path(), "forged.pem", &forged);
    let err = Signer::load(&p).unwrap_err().to_string();
    assert!(err.contains("not an ed25519 private key"), "{err}");
}

/// A PKCS#8 / SPKI PEM of another algorithm, with junk key bytes: the OID is what counts.
fn foreign_pems(oid: &str) -> (String, String) {
    let algorithm = AlgorithmIdentifierRef {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: None,
    };
    let private = PrivateKeyInfo::new(algorithm, &[4, 2, 0, 0]);
    let private = SecretDocument::encode_msg(&private)
        .unwrap()
        .to_pem("PRIVATE KEY", LineEnding::LF)
        .unwrap()
        .to_string();
    let public = SubjectPublicKeyInfoRef {
        algorithm,
        subject_public_key: BitStringRef::new(0, &[1, 2, 3]).unwrap(),
    };
    let public = Document::encode_msg(&public)
        .unwrap()
        .to_pem("PUBLIC KEY", LineEnding::LF)
        .unwrap();
    (private, public)
}

#[test]
fn foreign_keys_are_named_by_their_own_oid() {
    let dir = tempfile::tempdir().unwrap();
    for (oid, kind) in [
        ("1.2.840.113549.1.1.1", "an RSA key"),
        ("1.2.840.10045.2.1", "an EC key"),
        ("1.3.101.113", "an Ed448 key"),
        ("1.2.3.4", "a key of another algorithm"),
    ] {
        let (private, public) = foreign_pems(oid);
        let p = write_private(dir.path(), "foreign.pem", &private);
        let err = Signer::load(&p).unwrap_err();
        assert!(matches!(err, Error::ForeignKey { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: is {kind} (OID {oid}), not an ed25519 key; speedcert signs and verifies with \
                 ed25519 only (make one with speedcert keygen, or openssl genpkey -algorithm ed25519)",
                p.display()
            )
        );
        assert!(!err.to_string().contains("1.3.101.112"), "{err}");
        let q = dir.path().join("foreign.pub.pem");
        fs::write(&q, public).unwrap();
        let err = TrustedKey::load(&q).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: is {kind} (OID {oid}), not an ed25519 key",
                q.display()
            )),
            "{err}"
        );
    }
    // Formats that carry no OID are named by their PEM label.
    let p = write_private(
        dir.path(),
        "rsa1.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    let err = Signer::load(&p).unwrap_err().to_string();
    assert!(
        err.contains(": is an RSA key (PKCS#1 PEM, RSA PRIVATE KEY), not an ed25519 key"),
        "{err}"
    );
}

#[test]
fn empty_key_files_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for body in ["", "\n  \n"] {
        let p = write_private(dir.path(), "empty.pem", body);
        assert_eq!(
            Signer::load(&p).unwrap_err().to_string(),
            format!(
                "{}: the file is empty; expected an ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)",
                p.display()
            )
        );
        let q = dir.path().join("empty.pub.pem");
        fs::write(&q, body).unwrap();
        assert_eq!(
            TrustedKey::load(&q).unwrap_err().to_string(),
            format!(
                "{}: the file is empty; expected an ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----)",
                q.display()
            )
        );
    }
}

#[test]
fn huge_key_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.pub.pem");
    fs::File::create(&p)
        .unwrap()
        .set_len(MAX_KEY_FILE_BYTES + 1)
        .unwrap();
    let err = TrustedKey::load(&p).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: larger than the 65536 bytes a verifier reads (speedcert_attest::MAX_KEY_FILE_BYTES)",
            p.display()
        )
    );
}
