//! The crate's one error type. Every variant names the file it is about, so a message
//! printed as is tells a person what to fix (STYLE.md, "Errors a person can act on").
//!
//! An `Error` means the input could not be read or used at all (exit 1). A bundle that
//! was read but is not genuine is not an error: it is a [`crate::VerifyReport`] with
//! failed checks (exit 3).

use std::io;
use std::path::{Path, PathBuf};

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OS refused a read or write. The cause is part of the message (not a
    /// `source`) so that `anyhow`'s `{:#}` does not print it twice.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: io::Error },

    /// A private key file that group or others may read, refused as ssh refuses one.
    #[error(
        "permissions {mode:04o} for '{}' are too open; run chmod 600 {}",
        path.display(),
        shell_quote(path)
    )]
    KeyTooOpen { path: PathBuf, mode: u32 },

    #[error("{}: not an ed25519 private key in PKCS#8 PEM: {reason}", path.display())]
    BadPrivateKey { path: PathBuf, reason: String },

    /// A well-formed key of another algorithm, named by its OID: the parser's own error
    /// would name Ed25519's OID, the one it wanted, as if it were the unsupported one.
    #[error(
        "{}: is {kind}, not an ed25519 key; speedcert signs and verifies with ed25519 only (make one with speedcert keygen, or openssl genpkey -algorithm ed25519)",
        path.display()
    )]
    ForeignKey { path: PathBuf, kind: String },

    /// An empty key file, said plainly (the PEM parser calls it a "NUL byte").
    #[error("{}: the file is empty; expected {expected}", path.display())]
    EmptyKeyFile {
        path: PathBuf,
        expected: &'static str,
    },

    #[error("{}: not an ed25519 public key in SPKI PEM: {reason}", path.display())]
    BadPublicKey { path: PathBuf, reason: String },

    /// A trust store must never hold a secret; finding one there usually means a
    /// private key was copied where it gets published.
    #[error(
        "{}: is a private key; a trust store holds public keys only (remove it and keep it secret)",
        path.display()
    )]
    PrivateKeyInTrustStore { path: PathBuf },

    #[error("{}: no public keys (*.pem files) in this folder", path.display())]
    EmptyTrustStore { path: PathBuf },

    #[error("{}: already exists; refusing to overwrite a key", path.display())]
    KeyExists { path: PathBuf },

    #[error("{}: not a folder", path.display())]
    NotAFolder { path: PathBuf },

    /// `sign` on a folder with no files: in-toto requires at least one subject.
    #[error(
        "{}: no files to sign; an in-toto statement needs at least one subject",
        path.display()
    )]
    EmptyBundle { path: PathBuf },

    /// More files than a verifier reads ([`crate::MAX_SUBJECTS`]); signing them would
    /// make a bundle that no verifier accepts.
    #[error(
        "{}: {found} files, more than the {max} subjects a verifier reads (speedcert_attest::MAX_SUBJECTS)",
        path.display()
    )]
    TooManySubjects {
        path: PathBuf,
        found: usize,
        max: usize,
    },

    /// A file larger than the cap named by `what`, refused without reading past it.
    #[error("{}: larger than the {limit} bytes a verifier reads ({what})", path.display())]
    TooLarge {
        path: PathBuf,
        limit: u64,
        what: &'static str,
    },

    /// Any other file-system refusal, as speedcert-fsio words it.
    #[error(transparent)]
    Fs(speedcert_fsio::FsError),

    /// A bundle entry that cannot be a subject: a symlink, a FIFO, a name that is not
    /// UTF-8 or could be read as leaving the folder.
    #[error("{}: {reason}", path.display())]
    UnsafeEntry { path: PathBuf, reason: String },

    #[error("{}: {reason}", path.display())]
    BadEnvelope { path: PathBuf, reason: String },

    #[error("the predicate must be a JSON object, got {found}")]
    PredicateNotObject { found: &'static str },

    #[error("no signing key given")]
    NoSigner,

    #[error(
        "threshold {threshold} cannot be met: it must be between 1 and the {trusted} key(s) in the trust store"
    )]
    Threshold { threshold: usize, trusted: usize },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: without_temp_path(cause),
        }
    }
}

/// tempfile appends ` at path "DIR/.speedcert-XXXX.tmp"` to an OS error: a name the user
/// never chose and never sees. [`Error::Io`] already names the file, so keep the OS error
/// alone (tempfile keeps its kind but hides the raw code, hence the text).
fn without_temp_path(cause: io::Error) -> io::Error {
    if cause.raw_os_error().is_none() {
        let text = cause.to_string();
        if let Some((os, _)) = text.split_once(" at path \"") {
            return io::Error::new(cause.kind(), os.to_string());
        }
    }
    cause
}

impl From<speedcert_fsio::FsError> for Error {
    /// A file that must not be overwritten (a key) keeps its own error; an I/O error
    /// becomes ours, whose message holds the cause once (fsio's also makes it a source).
    fn from(e: speedcert_fsio::FsError) -> Self {
        use speedcert_fsio::FsError;
        match e {
            FsError::Exists { path } => Error::KeyExists { path },
            FsError::Io { path, source } => Error::io(path, source),
            FsError::TooLarge { path, limit, what } => Error::TooLarge { path, limit, what },
            other => Error::Fs(other),
        }
    }
}

/// Quote a path for a shell command in a message, only when it needs it.
fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_drops_the_temp_file_name() {
        let wrapped = tempfile::Builder::new()
            .tempfile_in("/nonexistent-speedcert-dir")
            .unwrap_err();
        assert!(wrapped.to_string().contains(" at path "), "{wrapped}");
        let e = Error::io("/nonexistent-speedcert-dir", wrapped);
        assert_eq!(
            e.to_string(),
            "/nonexistent-speedcert-dir: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn too_open_message_reads_like_ssh() {
        let e = Error::KeyTooOpen {
            path: "key.pem".into(),
            mode: 0o644,
        };
        assert_eq!(
            e.to_string(),
            "permissions 0644 for 'key.pem' are too open; run chmod 600 key.pem"
        );
        let e = Error::KeyTooOpen {
            path: "my keys/k.pem".into(),
            mode: 0o640,
        };
        assert_eq!(
            e.to_string(),
            "permissions 0640 for 'my keys/k.pem' are too open; run chmod 600 'my keys/k.pem'"
        );
    }
}
