//! Files written so that a reader never sees half of one, and file digests.
//!
//! Every crate of speedcert writes through [`write_atomic`] (or [`write_atomic_with`] for
//! streamed output such as token shards) and hashes through [`sha256_file`]: one place
//! decides the temp-file naming, the fsync order and the file mode, so a private key is
//! never readable by others, not even for an instant, and a published table is never
//! left at 0600 by accident.

use std::fs::{self, File};
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Why a file could not be written or read, always naming it.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: larger than the {limit} bytes allowed for it ({what})", path.display())]
    TooLarge {
        path: PathBuf,
        limit: u64,
        /// Which cap this is, as a reader would look it up.
        what: &'static str,
    },
    #[error("{}: {holder} holds the lock on it; not starting a second one", path.display())]
    Locked { path: PathBuf, holder: &'static str },
}

impl FsError {
    /// The `map_err` for an I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> FsError {
        let path = path.into();
        move |source| FsError::Io { path, source }
    }

    /// The file and the I/O error, for callers whose own error type holds both (an
    /// `Exists` becomes `AlreadyExists`).
    pub fn into_parts(self) -> (PathBuf, io::Error) {
        match self {
            FsError::Io { path, source } => (path, source),
            FsError::Exists { path } => (
                path,
                io::Error::new(ErrorKind::AlreadyExists, "already exists"),
            ),
            e @ FsError::TooLarge { .. } => {
                let message = e.to_string();
                (
                    e.path().to_owned(),
                    io::Error::new(ErrorKind::FileTooLarge, message),
                )
            }
            e @ FsError::Locked { .. } => {
                let message = e.to_string();
                (
                    e.path().to_owned(),
                    io::Error::new(ErrorKind::WouldBlock, message),
                )
            }
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FsError::Io { path, .. }
            | FsError::Exists { path }
            | FsError::TooLarge { path, .. }
            | FsError::Locked { path, .. } => path,
        }
    }
}

/// Reads a whole file, refusing one larger than `limit` bytes without reading past it:
/// a verifier reads files someone else wrote, and a 50 GB "run.json" must cost nothing.
/// `what` names the cap in the error.
pub fn read_capped(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FsError> {
    let file = File::open(path).map_err(FsError::io(path))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(FsError::io(path))?;
    if bytes.len() as u64 > limit {
        return Err(FsError::TooLarge {
            path: path.to_owned(),
            limit,
            what,
        });
    }
    Ok(bytes)
}

/// An advisory lock (flock) held while the returned file is open; the kernel drops it when
/// the process dies, so a crash never blocks the next run. `path` may be a folder (a
/// bundle: no lock file then joins its signed files). `holder` says in the error who holds
/// it (`"another speedcert certify"`).
pub fn try_lock(path: &Path, kind: LockKind, holder: &'static str) -> Result<File, FsError> {
    let file = if path.is_dir() {
        File::open(path)
    } else {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    }
    .map_err(FsError::io(path))?;
    let result = match kind {
        LockKind::Exclusive => file.try_lock(),
        LockKind::Shared => file.try_lock_shared(),
    };
    match result {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(FsError::Locked {
            path: path.to_owned(),
            holder,
        }),
        Err(fs::TryLockError::Error(e)) => Err(FsError::io(path)(e)),
    }
}

/// Exclusive for one writer of the whole thing (a certification, a collect); shared for
/// many writers of disjoint parts (Slurm array tasks, one run folder each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Exclusive,
    Shared,
}

/// Who may read the file (Unix permission bits, before the umask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0600: private keys, and anything only the certifier should read.
    Private,
    /// 0644: bundles, tables, reports, shards: files meant to be shared.
    Public,
}

impl Mode {
    pub fn bits(self) -> u32 {
        match self {
            Mode::Private => 0o600,
            Mode::Public => 0o644,
        }
    }
}

/// What to do when the destination already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Replace,
    /// Fail with [`FsError::Exists`]: keys must never be clobbered.
    Refuse,
}

/// Writes `bytes` to `path` atomically with `mode`, replacing any file there and
/// creating the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), FsError> {
    write_atomic_with(path, mode, Existing::Replace, |w| w.write_all(bytes))
}

/// Writes `bytes` to `path` atomically with `mode`, failing if `path` exists.
pub fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), FsError> {
    write_atomic_with(path, mode, Existing::Refuse, |w| w.write_all(bytes))
}

/// Writes `path` through `fill`: into a temp file created with `mode` in the same folder
/// (so the rename cannot cross file systems), buffered, fsynced, then renamed (or, with
/// [`Existing::Refuse`], hard-linked) into place. Readers see the old file or the whole
/// new one; on any error the temp file is removed and the old file kept.
pub fn write_atomic_with<T>(
    path: &Path,
    mode: Mode,
    existing: Existing,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<T>,
) -> Result<T, FsError> {
    let dir = parent(path);
    fs::create_dir_all(dir).map_err(FsError::io(dir))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".speedcert-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode.bits()));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let tmp = builder.tempfile_in(dir).map_err(FsError::io(dir))?;
    let value = {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let value = fill(&mut w).map_err(FsError::io(path))?;
        w.flush().map_err(FsError::io(path))?;
        value
    };
    tmp.as_file().sync_all().map_err(FsError::io(path))?;
    match existing {
        Existing::Replace => {
            tmp.persist(path).map_err(|e| FsError::io(path)(e.error))?;
        }
        Existing::Refuse => {
            tmp.persist_noclobber(path).map_err(|e| {
                if e.error.kind() == ErrorKind::AlreadyExists {
                    FsError::Exists { path: path.into() }
                } else {
                    FsError::io(path)(e.error)
                }
            })?;
        }
    }
    sync_dir(dir);
    Ok(value)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename in `dir` durable by syncing the folder; best effort (the data itself is already
/// on disk, and not every platform can open a folder for syncing).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

const BLOCK: usize = 1 << 20;

/// SHA-256 of a file's bytes as lowercase hex, streamed in 1 MiB blocks so memory stays
/// flat on multi-gigabyte shards.
pub fn sha256_file(path: &Path) -> Result<String, FsError> {
    let file = File::open(path).map_err(FsError::io(path))?;
    sha256_reader(file).map_err(FsError::io(path))
}

/// SHA-256 of everything `r` yields, as lowercase hex.
pub fn sha256_reader(mut r: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SHA-256 of bytes in memory, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of many files at once on rayon's pool, in the order given: with SHA
/// extensions one core hashes about as fast as the page cache delivers, so parallelism
/// is what brings a many-file bundle to disk speed (bench/verify/). The first error wins.
pub fn sha256_files(paths: &[PathBuf]) -> Result<Vec<String>, FsError> {
    paths.par_iter().map(|p| sha256_file(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_capped_refuses_one_byte_over_and_names_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "MAX").unwrap(), b"12345");
        let e = read_capped(&path, 4, "MAX_JSON_BYTES").unwrap_err();
        assert!(matches!(e, FsError::TooLarge { limit: 4, .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("run.json")
                && text.contains("4 bytes")
                && text.contains("MAX_JSON_BYTES"),
            "{text}"
        );
    }

    #[test]
    fn a_folder_lock_excludes_a_second_exclusive_and_shared_locks_share() {
        let dir = tempfile::tempdir().unwrap();
        let held = try_lock(dir.path(), LockKind::Exclusive, "test").unwrap();
        let e = try_lock(dir.path(), LockKind::Exclusive, "another test").unwrap_err();
        assert!(e.to_string().contains("another test holds the lock"), "{e}");
        assert!(try_lock(dir.path(), LockKind::Shared, "t").is_err());
        drop(held);
        let a = try_lock(dir.path(), LockKind::Shared, "t").unwrap();
        let _b = try_lock(dir.path(), LockKind::Shared, "t").unwrap();
        assert!(try_lock(dir.path(), LockKind::Exclusive, "t").is_err());
        drop(a);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_removes_the_temp_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic_with(&path, Mode::Public, Existing::Replace, |w| {
            w.write_all(b"partial")?;
            Err::<(), _>(io::Error::new(ErrorKind::StorageFull, "no space left"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.bin"), "{err}");
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temp removed");
    }

    #[test]
    fn a_good_write_replaces_the_file_with_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"one", Mode::Public).unwrap();
        write_atomic(&path, b"two", Mode::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600);
        }
    }

    #[test]
    fn write_new_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_new(&path, b"secret", Mode::Private).unwrap();
        let err = write_new(&path, b"other", Mode::Private).unwrap_err();
        assert!(matches!(err, FsError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_names_the_file_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard.bin");
        let err = write_atomic_with(&path, Mode::Public, Existing::Replace, |w| {
            w.write_all(&[0u8; 16])?;
            let mut full = File::options().write(true).open("/dev/full")?;
            full.write_all(&[0u8; 4096])?;
            full.flush()
        })
        .unwrap_err();
        match &err {
            FsError::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(28)),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("shard.bin"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn digests_match_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").unwrap();
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path).unwrap(), want);
        assert_eq!(sha256_bytes(b"abc"), want);
        assert_eq!(
            sha256_files(&[path.clone(), path]).unwrap(),
            vec![want, want]
        );
        let missing = sha256_file(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
