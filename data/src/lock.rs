//! The data lock: digests recorded on first use for shards a track does not pin, and
//! the check every run makes before it reads a byte of data.
//!
//! A track should pin every shard's sha256. Where it cannot yet (nobody published the
//! digests), the first fetch records what it got in `DIR/speedcert-data.lock.json`
//! and every later fetch and run checks against that record. Such digests prove only
//! that the data did not change since it was first seen, not that it is the right
//! data, so results carry which digests came from the lock ([`DigestSource`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::shard::{ShardError, ShardInfo, shard_info};
use crate::source::{ShardSource, check_name};

/// File name of the lock, inside the data folder.
pub const LOCK_FILE: &str = "speedcert-data.lock.json";

/// Format version of the lock file.
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum LockError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a valid data lock: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: lock version {found}, this speedcert reads version {LOCK_VERSION}", path.display())]
    Version { path: PathBuf, found: u32 },
}

/// How a shard came to be recorded in the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LockOrigin {
    /// Downloaded by `speedcert data fetch`.
    #[default]
    Downloaded,
    /// Already in the folder when first fetched (put there by hand or another tool).
    FoundOnDisk,
}

/// One shard's digest as first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    pub sha256: String,
    pub bytes: u64,
    pub source_url: String,
    /// RFC 3339 UTC time of the first fetch.
    pub first_fetched: String,
    #[serde(default)]
    pub origin: LockOrigin,
}

/// The lock file: shard file name -> digest first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLock {
    pub version: u32,
    pub shards: BTreeMap<String, LockEntry>,
}

impl Default for DataLock {
    fn default() -> Self {
        Self {
            version: LOCK_VERSION,
            shards: BTreeMap::new(),
        }
    }
}

impl DataLock {
    /// Where the lock of data folder `dir` lives.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(LOCK_FILE)
    }

    /// Reads `dir`'s lock; a folder without one has an empty lock.
    pub fn load(dir: &Path) -> Result<Self, LockError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(LockError::Io { path, source }),
        };
        let lock: DataLock = serde_json::from_str(&text).map_err(|source| LockError::Parse {
            path: path.clone(),
            source,
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Version {
                path,
                found: lock.version,
            });
        }
        Ok(lock)
    }

    /// Writes `dir`'s lock atomically (never a half-written lock).
    pub fn save(&self, dir: &Path) -> Result<(), LockError> {
        let path = Self::path(dir);
        let mut text = serde_json::to_string_pretty(self).expect("lock serialises");
        text.push('\n');
        speedcert_fsio::write_atomic(&path, text.as_bytes(), speedcert_fsio::Mode::Public).map_err(
            |e| {
                let (path, source) = e.into_parts();
                LockError::Io { path, source }
            },
        )
    }
}

/// Where the digest a shard was checked against came from; recorded in bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DigestSource {
    /// The track pins it.
    Pinned,
    /// Trust on first use: the data lock recorded it at the first fetch.
    Tofu {
        first_fetched: String,
        source_url: String,
        origin: LockOrigin,
    },
}

impl DigestSource {
    pub fn is_tofu(&self) -> bool {
        matches!(self, DigestSource::Tofu { .. })
    }
}

impl fmt::Display for DigestSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestSource::Pinned => f.write_str("the track pins"),
            DigestSource::Tofu { first_fetched, .. } => write!(
                f,
                "the data lock (trusted on first use, {first_fetched}) records"
            ),
        }
    }
}

/// The digest `source` must have: the track's pin, else the lock's record, else none.
/// A pin always wins; the lock is only consulted for unpinned shards.
pub fn expected_digest(source: &ShardSource, lock: &DataLock) -> Option<(String, DigestSource)> {
    if let Some(pin) = &source.sha256 {
        return Some((pin.to_ascii_lowercase(), DigestSource::Pinned));
    }
    lock.shards.get(&source.name).map(|e| {
        (
            e.sha256.to_ascii_lowercase(),
            DigestSource::Tofu {
                first_fetched: e.first_fetched.clone(),
                source_url: e.source_url.clone(),
                origin: e.origin,
            },
        )
    })
}

/// A shard that passed [`verify_dir`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedShard {
    pub name: String,
    pub info: ShardInfo,
    pub digest: DigestSource,
}

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("{0}")]
    BadName(String),
    #[error("{}: missing (run `speedcert data fetch` first)", path.display())]
    Missing { path: PathBuf },
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error("{}: sha256 is {actual}, {origin} {expected}", path.display())]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
        /// Where `expected` came from, in words ("the track pins", ...).
        origin: String,
    },
    #[error(
        "{}: no pinned sha256 in the track and no entry in {}: fetch it with `speedcert data fetch` to record one",
        path.display(), lock.display()
    )]
    Unverifiable { path: PathBuf, lock: PathBuf },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{} of {total} shards failed verification:\n  {}", failures.len(), list(failures))]
    Several {
        total: usize,
        failures: Vec<VerifyError>,
    },
}

fn list(failures: &[VerifyError]) -> String {
    failures
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Checks every shard of `shards` in `dir` before a run: present, a well-formed shard,
/// and its sha256 equal to the track's pin or, for unpinned shards, to the lock's
/// record. Hashes in parallel. Reports every failing shard, not just the first.
pub fn verify_dir(
    dir: &Path,
    shards: &[ShardSource],
    lock: &DataLock,
) -> Result<Vec<VerifiedShard>, VerifyError> {
    let results: Vec<Result<VerifiedShard, VerifyError>> = shards
        .par_iter()
        .map(|s| verify_one(dir, s, lock))
        .collect();
    let total = results.len();
    let mut ok = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        0 => Ok(ok),
        1 => Err(failures.pop().unwrap()),
        _ => Err(VerifyError::Several { total, failures }),
    }
}

fn verify_one(dir: &Path, s: &ShardSource, lock: &DataLock) -> Result<VerifiedShard, VerifyError> {
    check_name(&s.name).map_err(VerifyError::BadName)?;
    let path = dir.join(&s.name);
    if !path.exists() {
        return Err(VerifyError::Missing { path });
    }
    let Some((expected, origin)) = expected_digest(s, lock) else {
        return Err(VerifyError::Unverifiable {
            path,
            lock: DataLock::path(dir),
        });
    };
    let info = shard_info(&path)?;
    if info.sha256 != expected {
        return Err(VerifyError::DigestMismatch {
            path,
            expected,
            actual: info.sha256,
            origin: origin.to_string(),
        });
    }
    Ok(VerifiedShard {
        name: s.name.clone(),
        info,
        digest: origin,
    })
}
