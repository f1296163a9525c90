//! File digests for statements and verification: speedcert-fsio's streaming SHA-256
//! (1 MiB blocks, files hashed in parallel), with attest's error type.

use std::path::{Path, PathBuf};

use crate::error::Result;

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(speedcert_fsio::sha256_file(path)?)
}

/// SHA-256 of many files in parallel, in the order given; the first I/O error wins.
pub fn sha256_files(paths: &[PathBuf]) -> Result<Vec<String>> {
    Ok(speedcert_fsio::sha256_files(paths)?)
}
