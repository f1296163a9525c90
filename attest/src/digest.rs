//! Streaming SHA-256 of files.
//!
//! Files are read in 1 MiB blocks (one buffer per file in flight), so memory stays flat
//! on multi-gigabyte bundles, and several files are hashed at once on rayon's pool:
//! with SHA extensions one core hashes about as fast as the page cache delivers, so
//! parallelism is what brings a many-file bundle to disk speed (bench/verify/).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const BLOCK: usize = 1 << 20;

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SHA-256 of many files in parallel, in the order given; the first I/O error wins.
pub fn sha256_files(paths: &[PathBuf]) -> Result<Vec<String>> {
    paths.par_iter().map(|p| sha256_file(p)).collect()
}
