//! ed25519 keys: generation, PEM files, key ids and the trust store.
//!
//! Files (RFC 8410 encodings, written and read by ed25519-dalek's `pkcs8`/`pem`
//! support, never by hand):
//! - private key: PKCS#8 v1 (RFC 5208 PrivateKeyInfo, i.e. RFC 5958 OneAsymmetricKey
//!   version 0: the seed alone) in a `-----BEGIN PRIVATE KEY-----` PEM, mode 0600. This
//!   is what `openssl genpkey -algorithm ed25519` writes; OpenSSL 3.0 and Python
//!   cryptography refuse the v2 form (seed plus public key) that speedcert wrote before,
//!   which is still read;
//! - public key: SubjectPublicKeyInfo (RFC 5280) in a `-----BEGIN PUBLIC KEY-----` PEM,
//!   beside the private key as [`public_key_path`] names it (`key.pem` -> `key.pub.pem`),
//!   so it can be copied into a trust folder such as `records/keys/` as is.
//!
//! A key of another algorithm is named as such (RSA, EC, ...) with its OID.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::{self, LineEnding};
use ed25519_dalek::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use ed25519_dalek::pkcs8::{
    ALGORITHM_OID, Document, EncodePrivateKey, EncodePublicKey, KeypairBytes, PrivateKeyInfo,
    SecretDocument,
};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use speedcert_fsio::{Mode, read_capped, write_new};

/// The largest key file read (64 KiB). An ed25519 PEM is ~120 bytes and even an RSA-16384
/// one is ~13 KiB; a trust folder is read by verifiers, who should not load a huge file
/// someone named `*.pem`.
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

const KEY_CAP: &str = "speedcert_attest::MAX_KEY_FILE_BYTES";
const PRIVATE_PEM: &str = "an ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)";
const PUBLIC_PEM: &str = "an ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----)";

/// A key's id: lowercase hex SHA-256 of the raw 32-byte ed25519 public key, i.e. the
/// RFC 8032 §5.1.5 point encoding (`VerifyingKey::to_bytes()`), not of its PEM or
/// SPKI DER. Anyone can recompute it from the key alone, in any language.
///
/// In an envelope it is only a hint (DSSE protocol.md: KEYID "MUST NOT be used for
/// security decisions"); verification always checks the signature itself.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    pub fn of(key: &VerifyingKey) -> Self {
        KeyId(hex::encode(Sha256::digest(key.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits, for messages; 64 bits tell keys of one trust store apart.
    pub fn short(&self) -> String {
        short_hex(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn short_hex(s: &str) -> String {
    if s.len() > 16 && s.is_char_boundary(16) {
        format!("{}…", &s[..16])
    } else {
        s.to_string()
    }
}

/// A private key able to sign, with where it came from (for messages).
pub struct Signer {
    key: SigningKey,
    key_id: KeyId,
    source: PathBuf,
}

impl Signer {
    /// Wrap a key held in memory; `source` only labels it in messages.
    pub fn from_signing_key(key: SigningKey, source: impl Into<PathBuf>) -> Self {
        let key_id = KeyId::of(&key.verifying_key());
        Signer {
            key,
            key_id,
            source: source.into(),
        }
    }

    /// Load a PKCS#8 PEM private key, refusing a file that group or others can read
    /// (as ssh does): a readable signing key lets anyone forge certified records.
    pub fn load(path: &Path) -> Result<Self> {
        check_private_mode(path)?;
        let mut bytes = read_capped(path, MAX_KEY_FILE_BYTES, KEY_CAP)?;
        let parsed = parse_private_key(path, &bytes);
        // Wipe our copy of the secret; the parsed key zeroizes itself on drop.
        bytes.fill(0);
        Ok(Signer::from_signing_key(parsed?, path))
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Plain ed25519 (RFC 8032 §5.1.6) over `message`; callers pass the DSSE PAE.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Signer {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A PKCS#8 PEM ed25519 private key: v1 (what [`generate_key`] and OpenSSL write) or v2
/// (with the public key, what speedcert wrote before, checked against the seed).
fn parse_private_key(path: &Path, bytes: &[u8]) -> Result<SigningKey> {
    let bad = |reason: String| Error::BadPrivateKey {
        path: path.into(),
        reason,
    };
    let (label, text) = pem_label(bytes, PRIVATE_PEM).map_err(|e| e.into_error(path, &bad))?;
    match label {
        "PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => {
            return Err(bad(
                "it is encrypted; speedcert reads unencrypted keys (mode 0600 protects them)"
                    .into(),
            ));
        }
        "PUBLIC KEY" => {
            return Err(bad(
                "it is a public key; sign with the private key (NAME.pem, not NAME.pub.pem)".into(),
            ));
        }
        other => return Err(foreign_label(path, other).unwrap_or_else(|| bad(wrong_label(other)))),
    }
    let (_, der) = SecretDocument::from_pem(text).map_err(|e| bad(e.to_string()))?;
    let info = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| bad(e.to_string()))?;
    if info.algorithm.oid != ALGORITHM_OID {
        return Err(Error::ForeignKey {
            path: path.into(),
            kind: key_kind(&info.algorithm.oid),
        });
    }
    let pair = KeypairBytes::try_from(info).map_err(|e| bad(e.to_string()))?;
    SigningKey::try_from(&pair).map_err(|e| bad(e.to_string()))
}

/// An SPKI PEM ed25519 public key.
fn parse_public_key(path: &Path, bytes: &[u8]) -> Result<VerifyingKey> {
    let bad = |reason: String| Error::BadPublicKey {
        path: path.into(),
        reason,
    };
    let (label, text) = pem_label(bytes, PUBLIC_PEM).map_err(|e| e.into_error(path, &bad))?;
    if label.contains("PRIVATE KEY") {
        return Err(Error::PrivateKeyInTrustStore { path: path.into() });
    }
    if label != "PUBLIC KEY" {
        return Err(foreign_label(path, label).unwrap_or_else(|| bad(wrong_label(label))));
    }
    let (_, der) = Document::from_pem(text).map_err(|e| bad(e.to_string()))?;
    let spki = SubjectPublicKeyInfoRef::try_from(der.as_bytes()).map_err(|e| bad(e.to_string()))?;
    if spki.algorithm.oid != ALGORITHM_OID {
        return Err(Error::ForeignKey {
            path: path.into(),
            kind: key_kind(&spki.algorithm.oid),
        });
    }
    VerifyingKey::try_from(spki).map_err(|e| bad(e.to_string()))
}

/// Why a key file is not PEM, before its label is known.
enum PemProblem {
    Empty(&'static str),
    Other(String),
}

impl PemProblem {
    fn into_error(self, path: &Path, bad: &dyn Fn(String) -> Error) -> Error {
        match self {
            PemProblem::Empty(expected) => Error::EmptyKeyFile {
                path: path.into(),
                expected,
            },
            PemProblem::Other(reason) => bad(reason),
        }
    }
}

/// The PEM label of a key file and its text, read before the body so that a key of
/// another format is named by its label. An empty file is said to be empty: the PEM
/// parser's own word for it is "NUL byte".
fn pem_label<'a>(
    bytes: &'a [u8],
    expected: &'static str,
) -> std::result::Result<(&'a str, &'a str), PemProblem> {
    if bytes.trim_ascii().is_empty() {
        return Err(PemProblem::Empty(expected));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        PemProblem::Other("the file is not text (a DER key? convert it to PEM)".into())
    })?;
    let label = pem::decode_label(bytes).map_err(|e| PemProblem::Other(e.to_string()))?;
    Ok((label, text))
}

/// A PEM label that names another algorithm's own format (PKCS#1, SEC1, OpenSSH).
fn foreign_label(path: &Path, label: &str) -> Option<Error> {
    let kind = match label {
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => format!("an RSA key (PKCS#1 PEM, {label})"),
        "EC PRIVATE KEY" => format!("an EC key (SEC1 PEM, {label})"),
        "DSA PRIVATE KEY" => format!("a DSA key ({label})"),
        "OPENSSH PRIVATE KEY" => format!("an OpenSSH key file ({label})"),
        _ => return None,
    };
    Some(Error::ForeignKey {
        path: path.into(),
        kind,
    })
}

fn wrong_label(label: &str) -> String {
    format!("the PEM block is {label:?}, not a key")
}

/// Names the algorithm of a key that is not ed25519 (OIDs of RFC 8017, RFC 5480, RFC
/// 3279 and RFC 8410), so a message never suggests it is an ed25519 key.
fn key_kind(oid: &ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "an RSA key",
        "1.2.840.113549.1.1.10" => "an RSA-PSS key",
        "1.2.840.10045.2.1" => "an EC key",
        "1.2.840.10040.4.1" => "a DSA key",
        "1.3.101.110" => "an X25519 key",
        "1.3.101.111" => "an X448 key",
        "1.3.101.113" => "an Ed448 key",
        _ => "a key of another algorithm",
    };
    format!("{name} (OID {oid})")
}

#[cfg(unix)]
fn check_private_mode(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyTooOpen {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &Path) -> Result<()> {
    Ok(())
}

/// Where the public key of the private key at `private` lives: `key.pem` ->
/// `key.pub.pem`, any other name `NAME` -> `NAME.pub.pem`. Ending in `.pem` keeps it
/// loadable from a trust folder.
pub fn public_key_path(private: &Path) -> PathBuf {
    let name = private
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let public = match name.strip_suffix(".pem") {
        Some(stem) if !stem.is_empty() => format!("{stem}.pub.pem"),
        _ => format!("{name}.pub.pem"),
    };
    private.with_file_name(public)
}

/// What [`generate_key`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedKey {
    pub key_id: KeyId,
    pub private_path: PathBuf,
    pub public_path: PathBuf,
}

/// Generate an ed25519 key pair from the OS random source and write the private key
/// to `private` (PKCS#8 PEM, mode 0600) and the public key to
/// [`public_key_path`]`(private)` (SPKI PEM, mode 0644). Both are written atomically
/// and neither overwrites an existing file.
pub fn generate_key(private: &Path) -> Result<GeneratedKey> {
    use rand::TryRngCore;
    let public = public_key_path(private);
    for p in [private, public.as_path()] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(Error::KeyExists { path: p.into() });
        }
    }
    // Else creating the folder fails with the misleading "File exists".
    if let Some(dir) = private.parent().filter(|d| !d.as_os_str().is_empty())
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(Error::NotAFolder { path: dir.into() });
    }
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut seed).map_err(|e| {
        Error::io(
            private,
            std::io::Error::other(format!("OS random source: {e}")),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    // Version 1 (no public key): what OpenSSL 3.0 and Python cryptography read.
    let private_pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| Error::BadPrivateKey {
        path: private.into(),
        reason: e.to_string(),
    })?;
    let verifying = key.verifying_key();
    let public_pem =
        verifying
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::BadPublicKey {
                path: public.clone(),
                reason: e.to_string(),
            })?;
    write_new(private, private_pem.as_bytes(), Mode::Private)?;
    write_new(&public, public_pem.as_bytes(), Mode::Public)?;
    Ok(GeneratedKey {
        key_id: KeyId::of(&verifying),
        private_path: private.into(),
        public_path: public,
    })
}

/// A public key trusted to sign bundles, with the file it came from.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    key: VerifyingKey,
    key_id: KeyId,
    source: PathBuf,
}

impl TrustedKey {
    pub fn new(key: VerifyingKey, source: impl Into<PathBuf>) -> Self {
        TrustedKey {
            key_id: KeyId::of(&key),
            key,
            source: source.into(),
        }
    }

    /// Load an SPKI PEM public key file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_capped(path, MAX_KEY_FILE_BYTES, KEY_CAP)?;
        Ok(TrustedKey::new(parse_public_key(path, &bytes)?, path))
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Strict ed25519 verification (RFC 8032 §5.1.7 plus rejection of small-order keys
    /// and non-canonical signatures), so one message has one accepted signature per key.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &sig).is_ok()
    }
}

/// The public keys a verifier trusts, e.g. the published `records/keys/` folder.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
}

impl TrustStore {
    /// Load one public key file, or every `*.pem` file directly inside a folder
    /// (`NAME.pub.pem` as written by [`generate_key`] matches). Other files and
    /// subfolders are ignored; a private key or an unreadable key is an error, so a
    /// broken trust folder is never silently smaller than it looks.
    pub fn load(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            return Ok(TrustStore::from_keys(vec![TrustedKey::load(path)?]));
        }
        let mut files = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            let p = entry.path();
            let is_pem = p.extension().is_some_and(|e| e == "pem");
            if is_pem && fs::metadata(&p).map_err(|e| Error::io(&p, e))?.is_file() {
                files.push(p);
            }
        }
        files.sort();
        let keys = files
            .iter()
            .map(|p| TrustedKey::load(p))
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(Error::EmptyTrustStore { path: path.into() });
        }
        Ok(TrustStore::from_keys(keys))
    }

    /// A store of the given keys; a key listed twice (same key id) is kept once.
    pub fn from_keys(keys: Vec<TrustedKey>) -> Self {
        let mut store = TrustStore::default();
        for k in keys {
            store.add(k);
        }
        store
    }

    pub fn add(&mut self, key: TrustedKey) {
        if self.get(key.key_id()).is_none() {
            self.keys.push(key);
        }
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    pub fn get(&self, id: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key_id() == id)
    }

    pub(crate) fn get_str(&self, id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key_id().as_str() == id)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_path_sits_beside_private() {
        assert_eq!(
            public_key_path(Path::new("keys/alice.pem")),
            Path::new("keys/alice.pub.pem")
        );
        assert_eq!(
            public_key_path(Path::new("alice")),
            Path::new("alice.pub.pem")
        );
        assert_eq!(
            public_key_path(Path::new("/k/.pem")),
            Path::new("/k/.pem.pub.pem")
        );
    }

    #[test]
    fn key_id_hashes_raw_public_key() {
        let key = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let expected = hex::encode(Sha256::digest(key.to_bytes()));
        assert_eq!(KeyId::of(&key).as_str(), expected);
        assert_eq!(KeyId::of(&key).short().chars().count(), 17);
    }
}
