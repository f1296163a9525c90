//! sign_bundle / verify_bundle: the round trip, and every tampering caught with its
//! own message.

mod common;

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use speedcert_attest::check;
use speedcert_attest::dsse::{Envelope, Signature};
use speedcert_attest::statement::ResourceDescriptor;
use speedcert_attest::{
    ENVELOPE_FILE, Error, MAX_ENVELOPE_BYTES, MAX_SIGNATURES, MAX_SUBJECTS, Outcome, PAYLOAD_TYPE,
    Statement, TrustStore, cosign_bundle, sign_bundle, verify_bundle,
};

use common::{FILES, failed, find, signer, trust};

/// A signed bundle in a temp folder, with its trust store.
fn signed_bundle() -> (tempfile::TempDir, TrustStore) {
    let dir = tempfile::tempdir().unwrap();
    common::write_bundle(dir.path());
    let s = signer(1);
    sign_bundle(dir.path(), &[signer(1)], common::predicate()).unwrap();
    (dir, trust(&[&s]))
}

fn envelope(dir: &Path) -> Envelope {
    serde_json::from_slice(&fs::read(dir.join(ENVELOPE_FILE)).unwrap()).unwrap()
}

fn write_envelope(dir: &Path, env: &Envelope) {
    fs::write(
        dir.join(ENVELOPE_FILE),
        serde_json::to_vec_pretty(env).unwrap(),
    )
    .unwrap();
}

/// Sign an arbitrary statement into the bundle's envelope: a validly signed but
/// malicious or broken statement, as a compromised signer could produce.
fn sign_statement(dir: &Path, statement: &Value) {
    let body = serde_json::to_vec(statement).unwrap();
    let env = Envelope::sign(PAYLOAD_TYPE, &body, &[signer(1)]);
    write_envelope(dir, &env);
}

fn statement_of(dir: &Path) -> Value {
    let env = envelope(dir);
    serde_json::from_slice(&env.decode_payload().unwrap()).unwrap()
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    common::write_bundle(dir.path());
    let (a, b) = (signer(1), signer(2));
    let signed = sign_bundle(dir.path(), &[signer(1), signer(2)], common::predicate()).unwrap();
    assert_eq!(signed.subjects, FILES.len());
    assert_eq!(signed.envelope, dir.path().join(ENVELOPE_FILE));
    assert_eq!(
        signed.key_ids,
        [a.key_id().to_string(), b.key_id().to_string()]
    );

    // The statement lists every file, sorted, relative, with its sha256.
    let st = statement_of(dir.path());
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://speedcert.dev/bundle/v1");
    let names: Vec<&str> = st["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, FILES);
    let steps = fs::read(dir.path().join("runs/run-001/steps.csv")).unwrap();
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&steps));
    assert_eq!(st["subject"][6]["digest"]["sha256"], want.as_str());

    let report = verify_bundle(dir.path(), &trust(&[&a, &b]), 2).unwrap();
    assert!(report.is_genuine(), "{report}");
    assert!(report.failures().next().is_none());
    assert_eq!(report.signed_by().len(), 2);
    assert_eq!(report.verified_predicate(), Some(&common::predicate()));
    assert_eq!(
        report.verified_statement().unwrap().subject.len(),
        FILES.len()
    );
    for f in FILES {
        assert_eq!(find(&report, check::DIGEST, Some(f)).outcome, Outcome::Pass);
    }
    let text = report.to_string();
    assert!(
        text.contains("ok   digest runs/run-000/run.json\n"),
        "{text}"
    );
    assert!(
        text.contains("ok   threshold: 2 distinct trusted key(s) signed, 2 required"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("genuine: 9 files"),
        "{text}"
    );

    // JSON for --json.
    let j = serde_json::to_value(&report).unwrap();
    assert_eq!(j["genuine"], true);
    assert_eq!(j["threshold"], 2);
    assert_eq!(j["files"], 9);
    assert_eq!(j["checks"][0]["check"], "envelope");
    assert_eq!(j["checks"][0]["outcome"], "pass");

    // Threshold 1 with one of the two keys trusted is also genuine.
    let report = verify_bundle(dir.path(), &trust(&[&b]), 1).unwrap();
    assert!(report.is_genuine(), "{report}");

    // Re-signing replaces the envelope; no temp files are left in the bundle.
    sign_bundle(dir.path(), &[signer(1)], json!({})).unwrap();
    let report = verify_bundle(dir.path(), &trust(&[&a]), 1).unwrap();
    assert!(report.is_genuine(), "{report}");
    assert_eq!(report.verified_predicate(), Some(&json!({})));
}

#[test]
fn one_byte_changed_in_any_file() {
    let (dir, trust) = signed_bundle();
    for name in FILES {
        let p = dir.path().join(name);
        let original = fs::read(&p).unwrap();
        let mut bytes = original.clone();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        fs::write(&p, &bytes).unwrap();

        let report = verify_bundle(dir.path(), &trust, 1).unwrap();
        let c = failed(&report, check::DIGEST, Some(name));
        assert!(c.detail.starts_with("sha256 is "), "{c}");
        assert!(c.detail.contains(", the attestation says "), "{c}");
        assert_eq!(c.found.as_deref().unwrap().len(), 64);
        assert_ne!(c.found, c.expected);
        assert_eq!(
            report.failures().count(),
            1,
            "only that file fails:\n{report}"
        );
        assert!(
            report
                .to_string()
                .contains(&format!("FAIL digest {name}: sha256 is "))
        );
        assert!(
            report.verified_predicate().is_none(),
            "no predicate from a fake bundle"
        );
        // Signatures still verify: the files changed, not the envelope.
        assert_eq!(find(&report, check::THRESHOLD, None).outcome, Outcome::Pass);

        fs::write(&p, &original).unwrap();
        assert!(verify_bundle(dir.path(), &trust, 1).unwrap().is_genuine());
    }
}

#[test]
fn file_added() {
    let (dir, trust) = signed_bundle();
    fs::write(dir.path().join("runs/run-001/notes.txt"), "better luck").unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::EXTRA, Some("runs/run-001/notes.txt"));
    assert_eq!(c.detail, "in the bundle, not in the attestation");
    assert_eq!(report.failures().count(), 1, "{report}");
}

#[test]
fn file_removed() {
    let (dir, trust) = signed_bundle();
    fs::remove_file(dir.path().join("runs/run-000/gpu.csv")).unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::MISSING, Some("runs/run-000/gpu.csv"));
    assert_eq!(
        c.detail,
        "listed in the attestation, absent from the bundle"
    );
    assert_eq!(report.failures().count(), 1, "{report}");
}

#[test]
fn payload_edited() {
    let (dir, trust) = signed_bundle();
    // Flip the verdict in the signed predicate, keep everything else valid.
    let mut st = statement_of(dir.path());
    st["predicate"]["summary"]["verdict"] = json!("new record!!");
    let mut env = envelope(dir.path());
    env.payload = STANDARD.encode(serde_json::to_vec(&st).unwrap());
    write_envelope(dir.path(), &env);

    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let sig = find(&report, check::SIGNATURE, Some("1"));
    assert_eq!(sig.outcome, Outcome::Warn);
    assert!(
        sig.detail.starts_with("does not verify with trusted key "),
        "{sig}"
    );
    assert!(
        sig.detail
            .ends_with("the payload, payloadType or signature was altered"),
        "{sig}"
    );
    let t = failed(&report, check::THRESHOLD, None);
    assert_eq!(t.detail, "0 distinct trusted key(s) signed, 1 required");
    // The files still match the (unauthenticated) statement; only the signature fails.
    assert_eq!(report.failures().count(), 1, "{report}");
    assert!(report.verified_predicate().is_none());
}

#[test]
fn payload_edited_to_hide_a_changed_file() {
    let (dir, trust) = signed_bundle();
    fs::write(
        dir.path().join("summary.json"),
        r#"{"verdict":"new record"}"#,
    )
    .unwrap();
    let mut st = statement_of(dir.path());
    let new = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        br#"{"verdict":"new record"}"#,
    ));
    for s in st["subject"].as_array_mut().unwrap() {
        if s["name"] == "summary.json" {
            s["digest"]["sha256"] = json!(new);
        }
    }
    let mut env = envelope(dir.path());
    env.payload = STANDARD.encode(serde_json::to_vec(&st).unwrap());
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    failed(&report, check::THRESHOLD, None);
    assert_eq!(
        find(&report, check::DIGEST, Some("summary.json")).outcome,
        Outcome::Pass
    );
}

#[test]
fn signature_edited() {
    let (dir, trust) = signed_bundle();
    let mut env = envelope(dir.path());
    let mut sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
    sig[5] ^= 0x80;
    env.signatures[0].sig = STANDARD.encode(&sig);
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let s = find(&report, check::SIGNATURE, Some("1"));
    assert_eq!(s.outcome, Outcome::Warn);
    assert!(s.detail.contains("does not verify with trusted key"), "{s}");
    failed(&report, check::THRESHOLD, None);

    // A signature cut short is named as such.
    env.signatures[0].sig = STANDARD.encode(&sig[..40]);
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let s = find(&report, check::SIGNATURE, Some("1"));
    assert!(
        s.detail
            .starts_with("sig is 40 bytes, an ed25519 signature is 64"),
        "{s}"
    );
    // And one that is not base64.
    env.signatures[0].sig = "%%%".into();
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert!(
        find(&report, check::SIGNATURE, Some("1"))
            .detail
            .starts_with("sig is not base64")
    );
}

#[test]
fn payload_type_changed() {
    let (dir, trust) = signed_bundle();
    let mut env = envelope(dir.path());
    env.payload_type = "application/json".into();
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::PAYLOAD_TYPE, None);
    assert_eq!(
        c.detail,
        r#"is "application/json", expected "application/vnd.in-toto+json""#
    );
    // PAE covers the type, so the signature breaks too.
    failed(&report, check::THRESHOLD, None);
}

#[test]
fn wrong_key() {
    let (dir, _) = signed_bundle();
    let stranger = signer(7);
    let report = verify_bundle(dir.path(), &trust(&[&stranger]), 1).unwrap();
    let s = find(&report, check::SIGNATURE, Some("1"));
    assert_eq!(s.outcome, Outcome::Warn);
    assert!(
        s.detail.starts_with(&format!(
            "key id {} is not in the trust store",
            signer(1).key_id().short()
        )),
        "{s}"
    );
    assert!(
        s.detail.ends_with("verifies with none of its 1 key(s)"),
        "{s}"
    );
    let t = failed(&report, check::THRESHOLD, None);
    assert_eq!(t.detail, "0 distinct trusted key(s) signed, 1 required");
    assert!(report.signed_by().is_empty());
}

#[test]
fn below_threshold() {
    let dir = tempfile::tempdir().unwrap();
    common::write_bundle(dir.path());
    let (a, b) = (signer(1), signer(2));
    sign_bundle(dir.path(), &[signer(1), signer(2)], common::predicate()).unwrap();
    let both = trust(&[&a, &b]);
    assert!(verify_bundle(dir.path(), &both, 2).unwrap().is_genuine());

    // 2-of-2 with one signature removed.
    let mut env = envelope(dir.path());
    env.signatures.remove(1);
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &both, 2).unwrap();
    let t = failed(&report, check::THRESHOLD, None);
    assert!(
        t.detail
            .starts_with("1 distinct trusted key(s) signed, 2 required ("),
        "{t}"
    );
    assert!(t.detail.contains(&a.key_id().short()), "{t}");
    assert_eq!(report.failures().count(), 1, "{report}");
    assert!(verify_bundle(dir.path(), &both, 1).unwrap().is_genuine());

    // The remaining signature copied twice still counts once.
    env.signatures.push(env.signatures[0].clone());
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &both, 2).unwrap();
    let t = failed(&report, check::THRESHOLD, None);
    assert!(
        t.detail
            .ends_with("several signatures by one key count once"),
        "{t}"
    );

    // No signatures at all.
    env.signatures.clear();
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &both, 1).unwrap();
    let t = failed(&report, check::THRESHOLD, None);
    assert!(t.detail.ends_with("the envelope has no signatures"), "{t}");
}

#[test]
fn untrusted_cosignature_is_a_warning_only() {
    let dir = tempfile::tempdir().unwrap();
    common::write_bundle(dir.path());
    let a = signer(1);
    sign_bundle(dir.path(), &[signer(1), signer(5)], common::predicate()).unwrap();
    let report = verify_bundle(dir.path(), &trust(&[&a]), 1).unwrap();
    assert!(report.is_genuine(), "{report}");
    assert_eq!(
        find(&report, check::SIGNATURE, Some("2")).outcome,
        Outcome::Warn
    );
    assert!(report.to_string().contains("warn signature 2: key id "));
}

#[test]
fn truncated_envelope() {
    let (dir, trust) = signed_bundle();
    let p = dir.path().join(ENVELOPE_FILE);
    let bytes = fs::read(&p).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::ENVELOPE, Some(ENVELOPE_FILE));
    assert!(
        c.detail
            .starts_with("is truncated: its JSON stops at line "),
        "{c}"
    );
    assert_eq!(report.checks().len(), 1);

    fs::write(&p, "").unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert_eq!(failed(&report, check::ENVELOPE, None).detail, "is empty");
}

#[test]
fn non_json_envelope() {
    let (dir, trust) = signed_bundle();
    fs::write(
        dir.path().join(ENVELOPE_FILE),
        "-----BEGIN PGP SIGNATURE-----\n",
    )
    .unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::ENVELOPE, Some(ENVELOPE_FILE));
    assert!(c.detail.starts_with("is not JSON ("), "{c}");
    assert!(
        report
            .to_string()
            .starts_with("FAIL envelope attestation.dsse.json: is not JSON")
    );

    // JSON, but not an envelope.
    fs::write(dir.path().join(ENVELOPE_FILE), r#"{"payload": "eA=="}"#).unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::ENVELOPE, None);
    assert!(
        c.detail
            .starts_with("is JSON but not a DSSE envelope (missing field `payloadType`"),
        "{c}"
    );

    // Payload not base64.
    fs::write(
        dir.path().join(ENVELOPE_FILE),
        r#"{"payload": "@@", "payloadType": "x", "signatures": []}"#,
    )
    .unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert!(
        failed(&report, check::ENVELOPE, None)
            .detail
            .starts_with("payload is not base64")
    );
}

#[test]
fn oversized_envelope_is_not_loaded() {
    let (dir, trust) = signed_bundle();
    let f = fs::File::create(dir.path().join(ENVELOPE_FILE)).unwrap();
    f.set_len(65 << 20).unwrap(); // sparse: no 65 MiB written
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::ENVELOPE, None);
    assert_eq!(
        c.detail,
        "is larger than 67108864 bytes, the most a verifier reads (speedcert_attest::MAX_ENVELOPE_BYTES); not read"
    );
    assert_eq!(MAX_ENVELOPE_BYTES, 64 << 20);
}

/// An envelope with one genuine signature plus `junk` copies that no key verifies (a
/// byte of each flipped, each labelled with its own unknown key id).
fn pad_with_junk_signatures(dir: &Path, junk: usize) {
    let mut env = envelope(dir);
    let mut sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
    sig[0] ^= 1;
    for i in 0..junk {
        env.signatures.push(Signature {
            keyid: Some(format!("{i:02x}").repeat(32)),
            sig: STANDARD.encode(&sig),
        });
    }
    write_envelope(dir, &env);
}

#[test]
fn signatures_past_the_cap_are_refused_unchecked() {
    let (dir, trust) = signed_bundle();
    pad_with_junk_signatures(dir.path(), MAX_SIGNATURES);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::ENVELOPE, Some(ENVELOPE_FILE));
    assert_eq!(
        c.detail,
        "has 65 signatures, more than the 64 a verifier reads (speedcert_attest::MAX_SIGNATURES); none was checked"
    );
    assert_eq!(report.checks().len(), 1, "{report}");

    // Co-signing cannot push an envelope past the cap either.
    let (dir, _) = signed_bundle();
    pad_with_junk_signatures(dir.path(), MAX_SIGNATURES - 1);
    let err = cosign_bundle(dir.path(), &[signer(2)])
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "has 64 signatures; 1 more would pass the 64 a verifier reads (speedcert_attest::MAX_SIGNATURES)"
        ),
        "{err}"
    );
}

#[test]
fn untrusted_signatures_are_one_warning() {
    let (dir, trust) = signed_bundle();
    pad_with_junk_signatures(dir.path(), MAX_SIGNATURES - 1);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert!(report.is_genuine(), "{report}");
    let warnings: Vec<_> = report
        .checks()
        .iter()
        .filter(|c| c.outcome == Outcome::Warn)
        .collect();
    assert_eq!(warnings.len(), 1, "{report}");
    assert_eq!(
        warnings[0].to_string(),
        "warn signature 2-64: 63 signatures by keys not in the trust store (key ids \
         0000000000000000…, 0101010101010101…, 0202020202020202… and 60 more), and none \
         verifies with any of its 1 key(s)"
    );

    // Altered signatures by a trusted key are grouped by that key.
    let mut env = envelope(dir.path());
    env.signatures.truncate(1);
    let mut sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
    sig[1] ^= 1;
    let bad = Signature {
        keyid: env.signatures[0].keyid.clone(),
        sig: STANDARD.encode(&sig),
    };
    env.signatures = vec![bad.clone(), env.signatures[0].clone(), bad];
    write_envelope(dir.path(), &env);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let w = find(&report, check::SIGNATURE, Some("1, 3"));
    assert!(
        w.detail.starts_with(&format!(
            "2 signatures do not verify with trusted key {}",
            signer(1).key_id().short()
        )),
        "{w}"
    );
}

#[test]
fn subjects_past_the_cap_are_refused_unchecked() {
    let (dir, trust) = signed_bundle();
    let mut st = statement_of(dir.path());
    let one = st["subject"][0].clone();
    st["subject"] = Value::Array(vec![one; MAX_SUBJECTS + 1]);
    sign_statement(dir.path(), &st);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::STATEMENT, None);
    assert_eq!(
        c.detail,
        "lists 100001 subjects, more than the 100000 a verifier reads (speedcert_attest::MAX_SUBJECTS); no file was checked"
    );
    assert!(report.checks().iter().all(|c| c.check != check::DIGEST));
}

#[test]
fn no_subjects_is_refused_by_sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let err = sign_bundle(dir.path(), &[signer(1)], common::predicate()).unwrap_err();
    assert!(matches!(err, Error::EmptyBundle { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no files to sign; an in-toto statement needs at least one subject",
            dir.path().display()
        )
    );
    assert!(!dir.path().join(ENVELOPE_FILE).exists());
    assert!(Statement::for_bundle(dir.path(), common::predicate()).is_err());

    // A statement signed with no subjects (as speedcert once wrote) does not verify.
    let (dir, trust) = signed_bundle();
    let mut st = statement_of(dir.path());
    st["subject"] = json!([]);
    sign_statement(dir.path(), &st);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert_eq!(
        failed(&report, check::STATEMENT, None).detail,
        "lists no subjects; an in-toto Statement v1 needs at least one"
    );
}

#[test]
fn missing_envelope() {
    let (dir, trust) = signed_bundle();
    fs::remove_file(dir.path().join(ENVELOPE_FILE)).unwrap();
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert_eq!(
        failed(&report, check::ENVELOPE, None).detail,
        "absent: the bundle is not signed"
    );
}

#[test]
fn payload_not_a_statement() {
    let (dir, trust) = signed_bundle();
    sign_statement(dir.path(), &json!({"hello": "world"}));
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert_eq!(find(&report, check::THRESHOLD, None).outcome, Outcome::Pass);
    let c = failed(&report, check::STATEMENT, None);
    assert!(
        c.detail
            .starts_with("the payload is not an in-toto Statement (missing field"),
        "{c}"
    );

    // Right shape, wrong types.
    let dir2 = tempfile::tempdir().unwrap();
    common::write_bundle(dir2.path());
    sign_bundle(dir2.path(), &[signer(1)], json!({})).unwrap();
    let mut st = statement_of(dir2.path());
    st["_type"] = json!("https://in-toto.io/Statement/v0.1");
    st["predicateType"] = json!("https://slsa.dev/provenance/v1");
    sign_statement(dir2.path(), &st);
    let report = verify_bundle(dir2.path(), &trust, 1).unwrap();
    assert!(
        failed(&report, check::STATEMENT, None)
            .detail
            .starts_with("_type is \"https://in-toto.io/Statement/v0.1\"")
    );
    assert!(
        failed(&report, check::PREDICATE_TYPE, None)
            .detail
            .starts_with("is \"https://slsa.dev/provenance/v1\"")
    );
}

#[test]
fn duplicate_subjects() {
    let (dir, trust) = signed_bundle();
    let mut st = statement_of(dir.path());
    let first = st["subject"][0].clone();
    st["subject"].as_array_mut().unwrap().push(first);
    sign_statement(dir.path(), &st);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    let c = failed(&report, check::DUPLICATES, Some("env.json"));
    assert_eq!(c.detail, "listed 2 times in the attestation");
    assert_eq!(report.failures().count(), 1, "{report}");
}

#[test]
fn path_traversal_in_subject_names() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("bundle");
    fs::create_dir(&dir).unwrap();
    common::write_bundle(&dir);
    fs::write(outer.path().join("outside.txt"), "secret").unwrap();
    let a = signer(1);
    sign_bundle(&dir, &[signer(1)], json!({})).unwrap();
    let mut st = statement_of(&dir);
    let outside = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"secret"));
    let subjects = st["subject"].as_array_mut().unwrap();
    for bad in [
        "../outside.txt",
        "/etc/passwd",
        "runs/../../outside.txt",
        "runs//run-000/run.json",
        "runs\\x",
    ] {
        subjects
            .push(serde_json::to_value(ResourceDescriptor::file(bad, outside.clone())).unwrap());
    }
    subjects.push(json!({"digest": {"sha256": outside}}));
    sign_statement(&dir, &st);
    let report = verify_bundle(&dir, &trust(&[&a]), 1).unwrap();
    assert_eq!(
        failed(&report, check::PATH, Some("../outside.txt")).detail,
        "subject name escapes the bundle folder (a '..' component)"
    );
    assert!(
        failed(&report, check::PATH, Some("runs/../../outside.txt"))
            .detail
            .contains("escapes")
    );
    assert!(
        failed(&report, check::PATH, Some("/etc/passwd"))
            .detail
            .contains("is an absolute path")
    );
    assert!(
        failed(&report, check::PATH, Some("runs//run-000/run.json"))
            .detail
            .contains("empty component")
    );
    assert!(
        failed(&report, check::PATH, Some("runs\\x"))
            .detail
            .contains("backslash")
    );
    assert_eq!(
        failed(&report, check::PATH, Some("#15")).detail,
        "subject has no name"
    );
    // Nothing outside was hashed as if it were part of the bundle.
    assert!(report.checks().iter().all(
        |c| c.check != check::DIGEST || c.subject.as_deref().is_some_and(|s| !s.contains(".."))
    ));
    assert_eq!(report.failures().count(), 6, "{report}");
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_folder() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("bundle");
    fs::create_dir(&dir).unwrap();
    common::write_bundle(&dir);
    let a = signer(1);
    let t = trust(&[&a]);

    // Signing refuses a symlink, naming it.
    let outside = outer.path().join("outside.csv");
    fs::write(&outside, "x").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("runs/run-000/extra.csv")).unwrap();
    let err = sign_bundle(&dir, &[signer(1)], json!({})).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("runs/run-000/extra.csv: is a symbolic link to "),
        "{msg}"
    );
    assert!(msg.ends_with("points outside the bundle"), "{msg}");
    fs::remove_file(dir.join("runs/run-000/extra.csv")).unwrap();

    // A signed file swapped for a symlink to an identical copy outside: the digest
    // would match if followed, so the link itself must be refused.
    sign_bundle(&dir, &[signer(1)], json!({})).unwrap();
    let steps = dir.join("runs/run-000/steps.csv");
    fs::copy(&steps, &outside).unwrap();
    fs::remove_file(&steps).unwrap();
    std::os::unix::fs::symlink(&outside, &steps).unwrap();
    let report = verify_bundle(&dir, &t, 1).unwrap();
    let c = failed(&report, check::PATH, Some("runs/run-000/steps.csv"));
    assert!(c.detail.starts_with("is a symbolic link to "), "{c}");
    assert!(c.detail.ends_with("points outside the bundle"), "{c}");
    let m = failed(&report, check::MISSING, Some("runs/run-000/steps.csv"));
    assert!(m.detail.contains("not a regular file"), "{m}");

    // A symlink that stays inside is refused too (bundles hold regular files only).
    fs::remove_file(&steps).unwrap();
    std::os::unix::fs::symlink("../run-001/steps.csv", &steps).unwrap();
    let report = verify_bundle(&dir, &t, 1).unwrap();
    let c = failed(&report, check::PATH, Some("runs/run-000/steps.csv"));
    assert!(c.detail.ends_with("bundles hold regular files only"), "{c}");
}

#[test]
fn unreadable_input_is_an_error_not_a_verdict() {
    let (dir, trust) = signed_bundle();
    let missing = dir.path().join("nope");
    let err = verify_bundle(&missing, &trust, 1).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );

    let file = dir.path().join("track.toml");
    let err = verify_bundle(&file, &trust, 1).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: not a folder", file.display()));

    assert!(matches!(
        verify_bundle(dir.path(), &trust, 0),
        Err(Error::Threshold { .. })
    ));
    let err = verify_bundle(dir.path(), &trust, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "threshold 2 cannot be met: it must be between 1 and the 1 key(s) in the trust store"
    );

    let err = sign_bundle(&missing, &[signer(1)], json!({})).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(matches!(
        sign_bundle(dir.path(), &[], json!({})),
        Err(Error::NoSigner)
    ));
    let err = sign_bundle(dir.path(), &[signer(1)], json!([1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the predicate must be a JSON object, got an array"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_error() {
    // Root reads mode-000 files anyway; only meaningful for other users.
    if fs::read("/proc/self/status")
        .map(|s| String::from_utf8_lossy(&s).contains("Uid:\t0\t"))
        .unwrap_or(false)
    {
        return;
    }
    let (dir, trust) = signed_bundle();
    let p = dir.path().join("env.json");
    common::chmod(&p, 0o000);
    let err = verify_bundle(dir.path(), &trust, 1).unwrap_err();
    common::chmod(&p, 0o644);
    assert!(err.to_string().contains("env.json: "), "{err}");
}

#[test]
fn cosign_adds_a_signature_without_touching_the_payload() {
    let (dir, _) = signed_bundle();
    let (a, b) = (signer(1), signer(2));
    let before = envelope(dir.path());
    let signed = cosign_bundle(dir.path(), &[signer(2)]).unwrap();
    assert_eq!(signed.key_ids.len(), 2);
    let after = envelope(dir.path());
    assert_eq!(after.payload, before.payload);
    assert_eq!(after.signatures[0], before.signatures[0]);
    let report = verify_bundle(dir.path(), &trust(&[&a, &b]), 2).unwrap();
    assert!(report.is_genuine(), "{report}");

    // Co-signing again with the same key adds nothing.
    cosign_bundle(dir.path(), &[signer(2)]).unwrap();
    assert_eq!(envelope(dir.path()).signatures.len(), 2);

    // A co-signer refuses a bundle whose files changed since signing.
    fs::write(dir.path().join("extra.txt"), "x").unwrap();
    let err = cosign_bundle(dir.path(), &[signer(3)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the bundle no longer matches its attestation"),
        "{err}"
    );
    assert!(err.contains("FAIL extra extra.txt"), "{err}");
}

#[test]
fn statement_for_bundle_matches_what_sign_writes() {
    let (dir, _) = signed_bundle();
    let st = Statement::for_bundle(dir.path(), common::predicate()).unwrap();
    let signed: Statement = serde_json::from_value(statement_of(dir.path())).unwrap();
    assert_eq!(st, signed);
}

#[test]
fn unknown_fields_are_tolerated() {
    let (dir, trust) = signed_bundle();
    let mut st = statement_of(dir.path());
    st["futureField"] = json!(1);
    st["subject"][0]["annotations"] = json!({"k": "v"});
    st["subject"][0]["digest"]["sha512"] = json!("00");
    sign_statement(dir.path(), &st);
    let report = verify_bundle(dir.path(), &trust, 1).unwrap();
    assert!(report.is_genuine(), "{report}");
}
