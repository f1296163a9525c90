//! The in-toto Statement v1 over a bundle folder, and the rules for its subject names.
//!
//! Spec: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md> and
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md>.
//!
//! A subject's `name` is the file's path relative to the bundle folder, `/`-separated,
//! with no `.`, `..` or empty components, compared byte for byte (no Unicode
//! normalisation). The folder's own envelope, `attestation.dsse.json` at its top, is
//! the only file that is not a subject.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use walkdir::WalkDir;

use crate::digest::sha256_files;
use crate::error::{Error, Result};

/// `_type` of every Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// `predicateType` of a speedcert bundle attestation. The predicate is the object the
/// signer supplies (for `speedcert sign`: the bundle's summary.json and signing
/// metadata); its schema lives with the evaluator, not here. Version 1; a breaking
/// change to the predicate gets `/v2`.
pub const PREDICATE_TYPE: &str = "https://speedcert.dev/bundle/v1";

/// The envelope's file name at the top of a bundle folder; never a subject.
pub const ENVELOPE_FILE: &str = "attestation.dsse.json";

/// The most subjects (files) a statement may list. in-toto sets no limit; a bundle
/// holds about 8 files per run, so 100,000 is over 10,000 runs, and its statement
/// (~22 MB of base64) fits [`crate::MAX_ENVELOPE_BYTES`]. `sign` refuses a folder with
/// more, and `verify` a statement listing more, before hashing anything.
pub const MAX_SUBJECTS: usize = 100_000;

/// An in-toto Statement v1 (statement.md, "Schema"). Unknown fields are ignored on
/// parse, as the spec's parsing rules require.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// "Unset is treated the same as set-but-empty" (statement.md, `predicate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<Value>,
}

/// A subject (resource_descriptor.md). Only the fields speedcert uses are typed; the
/// rest (`uri`, `annotations`, ...) are ignored on parse. `name` and `digest` are
/// optional here, as in the spec, so a statement lacking them is reported as a failed
/// check naming the subject rather than as an unparsable payload.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm -> lowercase hex; speedcert writes and requires `sha256`.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

impl ResourceDescriptor {
    pub fn file(name: impl Into<String>, sha256_hex: impl Into<String>) -> Self {
        ResourceDescriptor {
            name: Some(name.into()),
            digest: BTreeMap::from([("sha256".to_string(), sha256_hex.into())]),
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

impl Statement {
    pub fn new(subject: Vec<ResourceDescriptor>, predicate: Value) -> Self {
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject,
            predicate_type: PREDICATE_TYPE.into(),
            predicate: Some(predicate),
        }
    }

    /// A statement over every file of the bundle folder `dir`: one subject per file,
    /// sorted by name, each with its SHA-256. Refuses the folder if any entry cannot
    /// be a subject (symlink, special file, unsafe name), if it holds no file (in-toto
    /// requires a subject) or more than [`MAX_SUBJECTS`].
    pub fn for_bundle(dir: &Path, predicate: Value) -> Result<Self> {
        Ok(Statement::new(bundle_subjects(dir)?.0, predicate))
    }
}

/// The subjects of every file of the bundle folder `dir`, and the files' total size,
/// under the rules of [`Statement::for_bundle`].
pub(crate) fn bundle_subjects(dir: &Path) -> Result<(Vec<ResourceDescriptor>, u64)> {
    let listing = list_bundle(dir)?;
    if let Some(bad) = listing.refused.first() {
        return Err(Error::UnsafeEntry {
            path: dir.join(&bad.name),
            reason: bad.reason.clone(),
        });
    }
    if listing.files.is_empty() {
        return Err(Error::EmptyBundle { path: dir.into() });
    }
    if listing.files.len() > MAX_SUBJECTS {
        return Err(Error::TooManySubjects {
            path: dir.into(),
            found: listing.files.len(),
            max: MAX_SUBJECTS,
        });
    }
    let paths: Vec<PathBuf> = listing.files.iter().map(|f| f.path.clone()).collect();
    let digests = sha256_files(&paths)?;
    let bytes = listing.files.iter().map(|f| f.len).sum();
    let subject = listing
        .files
        .into_iter()
        .zip(digests)
        .map(|(f, d)| ResourceDescriptor::file(f.name, d))
        .collect();
    Ok((subject, bytes))
}

/// One regular file of a bundle.
#[derive(Debug, Clone)]
pub struct BundleFile {
    /// The subject name (see the module docs).
    pub name: String,
    pub path: PathBuf,
    pub len: u64,
}

/// An entry of a bundle folder that cannot be a subject, and why.
#[derive(Debug, Clone)]
pub struct RefusedEntry {
    /// Its path relative to the folder, lossily decoded if it is not UTF-8.
    pub name: String,
    pub reason: String,
}

/// What a bundle folder holds, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct BundleListing {
    pub files: Vec<BundleFile>,
    pub refused: Vec<RefusedEntry>,
}

/// Walk a bundle folder recursively without following symlinks. Folders are walked,
/// regular files listed, anything else refused (symlinks: even one pointing inside
/// could be swapped to point out between hashing and reading; FIFOs would block the
/// hasher). An I/O error, or `dir` missing or not a folder, is an `Err`.
pub fn list_bundle(dir: &Path) -> Result<BundleListing> {
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::NotAFolder { path: dir.into() });
    }
    let mut listing = BundleListing::default();
    for entry in WalkDir::new(dir).min_depth(1).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            let cause = e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
            Error::io(path, cause)
        })?;
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("walkdir yields paths under its root");
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let name = match relative_name(rel) {
            Ok(name) => name,
            Err(reason) => {
                listing.refused.push(RefusedEntry {
                    name: rel.to_string_lossy().replace('\\', "/"),
                    reason,
                });
                continue;
            }
        };
        if name == ENVELOPE_FILE {
            continue;
        }
        if ft.is_symlink() {
            let target = fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            let where_ = if points_outside(dir, entry.path()) {
                "points outside the bundle"
            } else {
                "bundles hold regular files only"
            };
            listing.refused.push(RefusedEntry {
                name,
                reason: format!("is a symbolic link to {target}; {where_}"),
            });
            continue;
        }
        if !ft.is_file() {
            listing.refused.push(RefusedEntry {
                name,
                reason: "is not a regular file (FIFO, socket or device); bundles hold regular files only"
                    .into(),
            });
            continue;
        }
        if let Err(reason) = check_subject_name(&name) {
            listing.refused.push(RefusedEntry { name, reason });
            continue;
        }
        let len = entry
            .metadata()
            .map_err(|e| Error::io(entry.path(), e.into()))?
            .len();
        listing.files.push(BundleFile {
            name,
            path: entry.path().to_path_buf(),
            len,
        });
    }
    listing.files.sort_by(|a, b| a.name.cmp(&b.name));
    listing.refused.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}

/// Join a relative path's components with `/`, refusing anything but plain UTF-8 names.
fn relative_name(rel: &Path) -> std::result::Result<String, String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(os) => match os.to_str() {
                Some(s) => parts.push(s),
                None => {
                    return Err("name is not valid UTF-8; subject names are JSON strings".into());
                }
            },
            other => return Err(format!("unexpected path component {other:?}")),
        }
    }
    Ok(parts.join("/"))
}

fn points_outside(dir: &Path, link: &Path) -> bool {
    match (fs::canonicalize(dir), fs::canonicalize(link)) {
        (Ok(root), Ok(target)) => !target.starts_with(root),
        _ => true,
    }
}

/// Whether `name` is a safe subject name: relative, `/`-separated, inside the folder.
/// The error says what is wrong in words a person can act on.
pub fn check_subject_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.starts_with('/') {
        return Err("is an absolute path; subject names are relative to the bundle".into());
    }
    if name.contains('\\') {
        return Err("contains a backslash; subject names use '/' separators".into());
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    for part in name.split('/') {
        match part {
            ".." => return Err("escapes the bundle folder (a '..' component)".into()),
            "." => return Err("is not normalised (a '.' component)".into()),
            "" => {
                return Err(
                    "is not normalised (an empty component: '//' or a trailing '/')".into(),
                );
            }
            _ => {}
        }
    }
    if name == ENVELOPE_FILE {
        return Err("is the envelope itself, which cannot be its own subject".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_names() {
        assert!(check_subject_name("runs/run-000/run.json").is_ok());
        assert!(check_subject_name("track.toml").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "runs/../../x",
            "a//b",
            "a/./b",
            "a/",
            "a\\b",
            "a\nb",
            ENVELOPE_FILE,
        ] {
            assert!(check_subject_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_subject_name("../x").unwrap_err().contains("escapes"));
    }

    #[test]
    fn statement_field_names_follow_the_spec() {
        let s = Statement::new(
            vec![ResourceDescriptor::file("a", "00")],
            serde_json::json!({}),
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["_type"], STATEMENT_TYPE);
        assert_eq!(v["predicateType"], PREDICATE_TYPE);
        assert_eq!(v["subject"][0]["digest"]["sha256"], "00");
        assert_eq!(v["subject"][0]["name"], "a");
    }
}
