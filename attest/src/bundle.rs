//! Signing and verifying a bundle folder: the API the CLI and the certifier call.
//!
//! `sign_bundle` writes `dir/attestation.dsse.json`: a DSSE envelope (payloadType
//! `application/vnd.in-toto+json`) over an in-toto Statement v1 whose subjects are
//! every other file of the folder. `verify_bundle` re-derives all of it and reports
//! each check (DESIGN.md, "Bundle and attestation"; docs/bundle-format.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::digest::sha256_files;
use crate::dsse::{Envelope, MAX_ENVELOPE_BYTES, MAX_SIGNATURES, PAYLOAD_TYPE, ReadError};
use crate::error::{Error, Result};
use crate::keys::{Signer, TrustStore, short_hex};
use crate::report::{Check, SignedBy, VerifyReport, check};
use crate::statement::{
    ENVELOPE_FILE, MAX_SUBJECTS, PREDICATE_TYPE, STATEMENT_TYPE, Statement, bundle_subjects,
    check_subject_name, list_bundle,
};
use speedcert_fsio::{Mode, read_capped, write_atomic};

/// How a too-large envelope names its cap.
const ENVELOPE_CAP: &str = "speedcert_attest::MAX_ENVELOPE_BYTES";

/// What [`sign_bundle`] or [`cosign_bundle`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SignedBundle {
    pub envelope: PathBuf,
    /// Number of subjects (files) and their total size.
    pub subjects: usize,
    pub bytes: u64,
    /// Key ids labelling the envelope's signatures, in order.
    pub key_ids: Vec<String>,
}

/// Hash every file of `dir`, build the statement with `predicate` (a JSON object),
/// sign it with each of `signers` and write `dir/attestation.dsse.json` atomically,
/// replacing any previous envelope.
pub fn sign_bundle(dir: &Path, signers: &[Signer], predicate: Value) -> Result<SignedBundle> {
    if signers.is_empty() {
        return Err(Error::NoSigner);
    }
    if !predicate.is_object() {
        return Err(Error::PredicateNotObject {
            found: json_kind(&predicate),
        });
    }
    let (subject, bytes) = bundle_subjects(dir)?;
    let statement = Statement::new(subject, predicate);
    let body = serde_json::to_vec(&statement).expect("a Statement always serialises");
    let envelope = Envelope::sign(PAYLOAD_TYPE, &body, signers);
    let path = write_envelope(dir, &envelope)?;
    Ok(SignedBundle {
        envelope: path,
        subjects: statement.subject.len(),
        bytes,
        key_ids: key_ids(&envelope),
    })
}

/// Add signatures to a bundle's existing envelope without changing its payload, so
/// certifiers who do not share a key can co-sign one result. Refused unless the
/// bundle's files still match the signed statement exactly: a co-signer vouches for
/// the files in front of them.
pub fn cosign_bundle(dir: &Path, signers: &[Signer]) -> Result<SignedBundle> {
    if signers.is_empty() {
        return Err(Error::NoSigner);
    }
    let path = dir.join(ENVELOPE_FILE);
    let bad = |reason: String| Error::BadEnvelope {
        path: path.clone(),
        reason,
    };
    if let Err(e) = fs::metadata(&path) {
        if e.kind() == ErrorKind::NotFound {
            return Err(bad(
                "absent: the bundle is not signed yet; sign it before co-signing".into(),
            ));
        }
        return Err(Error::io(&path, e));
    }
    let raw = read_capped(&path, MAX_ENVELOPE_BYTES, ENVELOPE_CAP)?;
    let mut envelope = Envelope::from_json(&raw).map_err(|e| bad(read_problem(&e, raw.len())))?;
    if envelope.signatures.len() + signers.len() > MAX_SIGNATURES {
        return Err(bad(format!(
            "has {} signatures; {} more would pass the {MAX_SIGNATURES} a verifier reads (speedcert_attest::MAX_SIGNATURES)",
            envelope.signatures.len(),
            signers.len()
        )));
    }
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(bad(format!(
            "payloadType is {:?}, expected {PAYLOAD_TYPE:?}",
            envelope.payload_type
        )));
    }
    let body = envelope
        .decode_payload()
        .map_err(|e| bad(format!("payload is not base64 ({e})")))?;
    let statement: Statement = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("payload is not an in-toto Statement ({e})")))?;
    let files = check_files(dir, &statement)?;
    let failures: Vec<String> = files
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.to_string())
        .collect();
    if !failures.is_empty() {
        return Err(bad(format!(
            "the bundle no longer matches its attestation, refusing to co-sign:\n  {}",
            failures.join("\n  ")
        )));
    }
    envelope.add_signatures(&body, signers);
    write_envelope(dir, &envelope)?;
    Ok(SignedBundle {
        envelope: path,
        subjects: files.files,
        bytes: files.bytes,
        key_ids: key_ids(&envelope),
    })
}

fn write_envelope(dir: &Path, envelope: &Envelope) -> Result<PathBuf> {
    let path = dir.join(ENVELOPE_FILE);
    let mut json = serde_json::to_vec_pretty(envelope).expect("an Envelope always serialises");
    json.push(b'\n');
    write_atomic(&path, &json, Mode::Public)?;
    Ok(path)
}

fn key_ids(envelope: &Envelope) -> Vec<String> {
    envelope
        .signatures
        .iter()
        .filter_map(|s| s.keyid.clone())
        .collect()
}

/// Verify the bundle folder `dir` against `trust`, requiring `threshold` distinct
/// trusted keys. Returns `Err` only when the input cannot be read (the folder is
/// missing, a file cannot be opened) or the request is impossible (threshold 0 or
/// above the trust store's size); a bundle that is not genuine is an `Ok` report
/// with failed checks.
///
/// Order follows DSSE's protocol: signatures are checked over the raw payload before
/// the statement is used; the statement is parsed either way so that the report can
/// say which files differ, but it is only handed out
/// ([`VerifyReport::verified_predicate`]) when everything passed.
pub fn verify_bundle(dir: &Path, trust: &TrustStore, threshold: usize) -> Result<VerifyReport> {
    if threshold == 0 || threshold > trust.len() {
        return Err(Error::Threshold {
            threshold,
            trusted: trust.len(),
        });
    }
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::NotAFolder { path: dir.into() });
    }
    let mut report = VerifyReport::new(dir, threshold);
    let env_path = dir.join(ENVELOPE_FILE);

    // 1. The envelope.
    match fs::symlink_metadata(&env_path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                "absent: the bundle is not signed",
            ));
            return Ok(report);
        }
        Err(e) => return Err(Error::io(&env_path, e)),
        Ok(m) if !m.is_file() => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                "is not a regular file (a symlink or folder); the envelope must be a file of the bundle",
            ));
            return Ok(report);
        }
        Ok(m) if m.len() > MAX_ENVELOPE_BYTES => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                too_large_envelope(),
            ));
            return Ok(report);
        }
        Ok(_) => {}
    }
    // Read with the cap, not read then check: the file may grow in between.
    let raw = match read_capped(&env_path, MAX_ENVELOPE_BYTES, ENVELOPE_CAP) {
        Ok(raw) => raw,
        Err(speedcert_fsio::FsError::TooLarge { .. }) => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                too_large_envelope(),
            ));
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    let envelope = match Envelope::from_json(&raw) {
        Ok(env) => env,
        Err(e) => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                read_problem(&e, raw.len()),
            ));
            return Ok(report);
        }
    };
    let body = match envelope.decode_payload() {
        Ok(body) => body,
        Err(e) => {
            report.add_check(Check::fail(
                check::ENVELOPE,
                Some(ENVELOPE_FILE),
                format!("payload is not base64 ({e})"),
            ));
            return Ok(report);
        }
    };
    report.add_check(Check::pass(
        check::ENVELOPE,
        Some(ENVELOPE_FILE),
        format!(
            "{} signature(s), payload {} bytes",
            envelope.signatures.len(),
            body.len()
        ),
    ));

    // 2. payloadType: authenticated by the signatures, and must name an in-toto statement.
    if envelope.payload_type == PAYLOAD_TYPE {
        report.add_check(Check::pass(check::PAYLOAD_TYPE, Some(PAYLOAD_TYPE), ""));
    } else {
        report.add_check(Check::fail(
            check::PAYLOAD_TYPE,
            None,
            format!("is {:?}, expected {PAYLOAD_TYPE:?}", envelope.payload_type),
        ));
    }

    // 3. Signatures and the threshold of distinct trusted keys.
    let verification = envelope.verify(&body, trust);
    for r in &verification.results {
        if let Some(id) = &r.verified_by {
            report.add_check(Check::pass(
                check::SIGNATURE,
                Some(&r.index.to_string()),
                format!(
                    "key {} ({})",
                    id.short(),
                    r.key_source.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    for g in &verification.rejected {
        report.add_check(Check::warn(
            check::SIGNATURE,
            Some(&g.positions()),
            g.detail.clone(),
        ));
    }
    let signed_by: Vec<SignedBy> = verification
        .accepted
        .iter()
        .map(|k| SignedBy {
            key_id: k.key_id().clone(),
            source: k.source().to_path_buf(),
        })
        .collect();
    let who = signed_by
        .iter()
        .map(|k| format!("{} {}", k.key_id.short(), k.source.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let got = signed_by.len();
    let mut detail = format!("{got} distinct trusted key(s) signed, {threshold} required");
    if !who.is_empty() {
        detail.push_str(&format!(" ({who})"));
    }
    if envelope.signatures.is_empty() {
        detail.push_str("; the envelope has no signatures");
    } else if got > 0
        && verification
            .results
            .iter()
            .filter(|r| r.verified_by.is_some())
            .count()
            > got
    {
        detail.push_str("; several signatures by one key count once");
    }
    report.add_check(Check::new(
        check::THRESHOLD,
        if verification.meets(threshold) {
            crate::report::Outcome::Pass
        } else {
            crate::report::Outcome::Fail
        },
        None,
        detail,
    ));
    report.set_signed_by(signed_by);

    // 4. The statement.
    let statement: Statement = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            report.add_check(Check::fail(
                check::STATEMENT,
                None,
                format!("the payload is not an in-toto Statement ({e})"),
            ));
            return Ok(report);
        }
    };
    if statement.subject.len() > MAX_SUBJECTS {
        report.add_check(Check::fail(
            check::STATEMENT,
            None,
            format!(
                "lists {} subjects, more than the {MAX_SUBJECTS} a verifier reads (speedcert_attest::MAX_SUBJECTS); no file was checked",
                statement.subject.len()
            ),
        ));
        return Ok(report);
    }
    if statement.subject.is_empty() {
        report.add_check(Check::fail(
            check::STATEMENT,
            None,
            "lists no subjects; an in-toto Statement v1 needs at least one",
        ));
    } else if statement.type_ == STATEMENT_TYPE {
        report.add_check(Check::pass(
            check::STATEMENT,
            Some(STATEMENT_TYPE),
            format!("{} subjects", statement.subject.len()),
        ));
    } else {
        report.add_check(Check::fail(
            check::STATEMENT,
            None,
            format!(
                "_type is {:?}, expected {STATEMENT_TYPE:?}",
                statement.type_
            ),
        ));
    }
    if statement.predicate_type == PREDICATE_TYPE {
        report.add_check(Check::pass(check::PREDICATE_TYPE, Some(PREDICATE_TYPE), ""));
    } else {
        report.add_check(Check::fail(
            check::PREDICATE_TYPE,
            None,
            format!(
                "is {:?}, expected {PREDICATE_TYPE:?}",
                statement.predicate_type
            ),
        ));
    }

    // 5. The files against the subjects.
    let files = check_files(dir, &statement)?;
    for c in files.checks {
        report.add_check(c);
    }
    report.set_files(files.files, files.bytes);
    report.attest(statement);
    Ok(report)
}

/// Result of comparing a folder with a statement's subjects.
struct FileChecks {
    checks: Vec<Check>,
    files: usize,
    bytes: u64,
}

/// Duplicates, path safety, digests, missing and extra files, in that order.
fn check_files(dir: &Path, statement: &Statement) -> Result<FileChecks> {
    let mut duplicates = Vec::new();
    let mut paths = Vec::new();
    let mut digests = Vec::new();
    let mut missing = Vec::new();
    let mut extra = Vec::new();

    // Subject names: listed once, safe, with a well-formed sha256.
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &statement.subject {
        if let Some(name) = s.name.as_deref() {
            *count.entry(name).or_default() += 1;
        }
    }
    let mut named: BTreeSet<&str> = BTreeSet::new();
    let mut wanted: BTreeMap<&str, String> = BTreeMap::new();
    for (i, s) in statement.subject.iter().enumerate() {
        let Some(name) = s.name.as_deref() else {
            paths.push(Check::fail(
                check::PATH,
                Some(&format!("#{}", i + 1)),
                "subject has no name",
            ));
            continue;
        };
        if !named.insert(name) {
            continue;
        }
        if let Err(reason) = check_subject_name(name) {
            paths.push(Check::fail(
                check::PATH,
                Some(name),
                format!("subject name {reason}"),
            ));
            continue;
        }
        match s.sha256() {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                wanted.insert(name, h.to_ascii_lowercase());
            }
            Some(h) => digests.push(Check::fail(
                check::DIGEST,
                Some(name),
                format!("the attestation's sha256 {h:?} is not 64 hex digits"),
            )),
            None => {
                let algs: Vec<&str> = s.digest.keys().map(String::as_str).collect();
                digests.push(Check::fail(
                    check::DIGEST,
                    Some(name),
                    format!(
                        "the attestation gives no sha256 digest (has: {})",
                        algs.join(", ")
                    ),
                ))
            }
        }
    }
    for (name, n) in &count {
        if *n > 1 {
            duplicates.push(Check::fail(
                check::DUPLICATES,
                Some(name),
                format!("listed {n} times in the attestation"),
            ));
        }
    }

    // The folder's entries.
    let listing = list_bundle(dir)?;
    let mut refused_names = BTreeSet::new();
    for r in &listing.refused {
        paths.push(Check::fail(check::PATH, Some(&r.name), r.reason.clone()));
        refused_names.insert(r.name.as_str());
    }
    let on_disk: BTreeMap<&str, &crate::statement::BundleFile> =
        listing.files.iter().map(|f| (f.name.as_str(), f)).collect();
    for name in &named {
        if !on_disk.contains_key(name) && check_subject_name(name).is_ok() {
            let why = if refused_names.contains(name) {
                "listed in the attestation, but the bundle's entry is not a regular file (see path)"
            } else {
                "listed in the attestation, absent from the bundle"
            };
            missing.push(Check::fail(check::MISSING, Some(name), why));
        }
    }
    for f in &listing.files {
        if !named.contains(f.name.as_str()) {
            extra.push(Check::fail(
                check::EXTRA,
                Some(&f.name),
                "in the bundle, not in the attestation",
            ));
        }
    }

    // Digests, hashed in parallel.
    let to_hash: Vec<(&str, &String, &crate::statement::BundleFile)> = wanted
        .iter()
        .filter_map(|(name, want)| on_disk.get(name).map(|f| (*name, want, *f)))
        .collect();
    let hashes = sha256_files(
        &to_hash
            .iter()
            .map(|(_, _, f)| f.path.clone())
            .collect::<Vec<_>>(),
    )?;
    let mut bytes = 0;
    for ((name, want, f), got) in to_hash.iter().zip(hashes) {
        bytes += f.len;
        if &got == *want {
            digests.push(Check::pass(check::DIGEST, Some(name), ""));
        } else {
            let mut c = Check::fail(
                check::DIGEST,
                Some(name),
                format!(
                    "sha256 is {}, the attestation says {}",
                    short_hex(&got),
                    short_hex(want)
                ),
            );
            c.expected = Some(want.to_string());
            c.found = Some(got);
            digests.push(c);
        }
    }
    digests.sort_by(|a, b| a.subject.cmp(&b.subject));

    let mut checks = Vec::new();
    if duplicates.is_empty() {
        checks.push(Check::pass(
            check::DUPLICATES,
            None,
            format!("{} subject names, all distinct", named.len()),
        ));
    }
    checks.extend(duplicates);
    if paths.is_empty() {
        checks.push(Check::pass(
            check::PATH,
            None,
            "every subject name and bundle entry stays inside the bundle",
        ));
    }
    checks.extend(paths);
    checks.extend(digests);
    if missing.is_empty() {
        checks.push(Check::pass(
            check::MISSING,
            None,
            "every subject is a file of the bundle",
        ));
    }
    checks.extend(missing);
    if extra.is_empty() {
        checks.push(Check::pass(
            check::EXTRA,
            None,
            "every file of the bundle is a subject",
        ));
    }
    checks.extend(extra);
    Ok(FileChecks {
        checks,
        files: to_hash.len(),
        bytes,
    })
}

fn too_large_envelope() -> String {
    format!(
        "is larger than {MAX_ENVELOPE_BYTES} bytes, the most a verifier reads ({ENVELOPE_CAP}); not read"
    )
}

/// Say why an envelope file was refused: too many signatures, or what is wrong with
/// one that did not parse.
fn read_problem(e: &ReadError, len: usize) -> String {
    match e {
        ReadError::TooManySignatures { found } => format!(
            "has {found} signatures, more than the {MAX_SIGNATURES} a verifier reads (speedcert_attest::MAX_SIGNATURES); none was checked"
        ),
        ReadError::Json(e) => envelope_problem(e, len),
    }
}

/// Tell a cut-off file from one that is not JSON at all from JSON of the wrong shape.
fn envelope_problem(e: &serde_json::Error, len: usize) -> String {
    use serde_json::error::Category;
    if len == 0 {
        return "is empty".into();
    }
    match e.classify() {
        Category::Eof => format!(
            "is truncated: its JSON stops at line {} column {} ({len} bytes)",
            e.line(),
            e.column()
        ),
        Category::Syntax => format!("is not JSON ({e})"),
        Category::Data => format!("is JSON but not a DSSE envelope ({e})"),
        Category::Io => format!("cannot be read ({e})"),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
